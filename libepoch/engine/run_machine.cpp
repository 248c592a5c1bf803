#include "run_machine.h"

#include <algorithm>
#include <cmath>

namespace epoch::engine {
namespace {

TreeStep eval(const Task& node, const std::map<std::string, TaskRunInfo>& tasks) {
  if (const auto* comp = std::get_if<CompositeTask>(&node.spec)) {
    for (const Task& child : comp->tasks) {
      TreeStep s = eval(child, tasks);
      if (s.kind != TreeStep::Kind::kDone) return s;
      if (comp->composition == CompositionType::kAll && s.result != TaskState::kCompleted) {
        return s;
      }
      if (comp->composition == CompositionType::kAny && s.result == TaskState::kCompleted) {
        return s;
      }
    }
    TreeStep done;
    if (comp->composition == CompositionType::kAny) {
      done.result = TaskState::kFailed;
      done.message = "Unknown status for composite task";  // Epoch's words: no child completed
    }
    return done;
  }
  const std::string& name = task_name(node);
  const auto it = tasks.find(name);
  TreeStep s;
  s.leaf = &node;
  if (it == tasks.end() || it->second.state == TaskState::kPending) {
    s.kind = TreeStep::Kind::kLaunch;
  } else if (!is_terminal(it->second.state)) {
    s.kind = TreeStep::Kind::kWait;
  } else {
    s.kind = TreeStep::Kind::kDone;
    s.result = it->second.state;
    if (s.result != TaskState::kCompleted) {
      const char* what = s.result == TaskState::kCancelled  ? "was cancelled"
                         : s.result == TaskState::kTimedOut ? "timed out"
                                                            : "failed";
      s.message = "task " + name + " " + what +
                  (it->second.error_message.empty() ? "" : ": " + it->second.error_message);
    }
  }
  return s;
}

}  // namespace

TreeStep evaluate(const Task& tree, const std::map<std::string, TaskRunInfo>& tasks) {
  return eval(tree, tasks);
}

RunState final_run_state(RunType type, bool at_trigger, TaskState tree_result) {
  if (tree_result != TaskState::kCompleted) return RunState::kFailed;
  if (type == RunType::kScheduled && !at_trigger) return RunState::kSuccessful;
  return RunState::kCompleted;
}

std::string run_message(RunState state) {
  if (state == RunState::kRunning) return "Job started";
  std::string s(to_string(state));
  std::transform(s.begin(), s.end(), s.begin(),
                 [](char c) { return static_cast<char>(std::tolower(c)); });
  return "Task " + s;
}

bool should_retry(const RetryPolicy* policy, int attempt, RetryOn outcome) {
  if (policy == nullptr || attempt >= policy->max_attempts) return false;
  return std::find(policy->on.begin(), policy->on.end(), outcome) != policy->on.end();
}

std::chrono::milliseconds retry_backoff(const RetryPolicy& p, int attempt, double u) {
  const double initial = static_cast<double>(p.initial_backoff.to_millis().count());
  const double cap = static_cast<double>(p.max_backoff.to_millis().count());
  double wait = initial * std::pow(p.multiplier, std::max(0, attempt - 1));
  wait = std::min(wait, cap);
  wait *= 1.0 + p.jitter * std::clamp(u, -1.0, 1.0);
  // Saturate (and drop NaN) before converting: a double past int64's range
  // does not convert. 1e15 ms is 31,000 years.
  constexpr double kMaxWait = 1e15;
  if (!(wait >= 0.0)) wait = 0.0;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(wait, kMaxWait)));
}

}  // namespace epoch::engine
