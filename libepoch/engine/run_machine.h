// Private: the pure part of a run — what to do next with a task tree, and
// what a finished tree means. No I/O, no clock, no engine state.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "epoch/model.h"

namespace epoch::engine {

struct TreeStep {
  enum class Kind {
    kLaunch,  // `leaf` is PENDING and next in order: launch it
    kWait,    // `leaf` is live: wait for it
    kDone,    // the tree has a result
  };
  Kind kind = Kind::kDone;
  const Task* leaf = nullptr;
  TaskState result = TaskState::kCompleted;  // kDone: COMPLETED, FAILED, CANCELLED or TIMED_OUT
  std::string message;                       // kDone and not COMPLETED: why
};

// Epoch's evaluation: leaves run one at a time in tree order; ALL stops at
// the first FAILED or CANCELLED child, ANY at the first COMPLETED one (and
// fails when none completes).
TreeStep evaluate(const Task& tree, const std::map<std::string, TaskRunInfo>& tasks);

// The run state for a tree result: COMPLETED tree -> SUCCESSFUL (scheduled,
// CRON trigger) or COMPLETED (scheduled AT trigger, or instant); anything
// else -> FAILED.
RunState final_run_state(RunType type, bool at_trigger, TaskState tree_result);
// Epoch's run messages: "Task successful", "Task completed", "Task failed", ...
std::string run_message(RunState state);

// Whether an attempt that ended with `outcome` gets another, under `policy`
// (nullptr: no retries).
bool should_retry(const RetryPolicy* policy, int attempt, RetryOn outcome);
// The wait before attempt `attempt + 1`: initial * multiplier^(attempt-1),
// capped at max_backoff, then moved by jitter * u (u in [-1, 1]).
std::chrono::milliseconds retry_backoff(const RetryPolicy& policy, int attempt, double u);

}  // namespace epoch::engine
