#include "epoch/fake_executor.h"

namespace epoch {

void FakeExecutor::script(const std::string& task_name, Script s) {
  std::lock_guard lock(mu_);
  scripts_[task_name] = std::move(s);
}

void FakeExecutor::script_once(const std::string& task_name, Script s) {
  std::lock_guard lock(mu_);
  once_[task_name].push_back(std::move(s));
}

void FakeExecutor::launch(const TaskLaunch& launch, TaskObserver observer) {
  std::vector<TaskUpdate> updates;
  {
    std::lock_guard lock(mu_);
    if (auto it = tasks_.find(launch.task_id); it != tasks_.end()) {
      ++attaches_[launch.task_id];
      it->second.observer = observer;
      updates.push_back(it->second.last);
    } else {
      Script s;
      if (auto o = once_.find(launch.task_name); o != once_.end() && !o->second.empty()) {
        s = o->second.front();
        o->second.erase(o->second.begin());
      } else if (auto sc = scripts_.find(launch.task_name); sc != scripts_.end()) {
        s = sc->second;
      }
      if (s.never_appears) {
        TaskUpdate u;
        u.state = TaskState::kUnknown;
        u.not_found = true;
        u.error_message = "no such task";
        updates.push_back(u);
      } else {
        ++creates_[launch.task_id];
        launches_.push_back(launch);
        FakeTask& t = tasks_[launch.task_id];
        t.launch = launch;
        t.observer = observer;
        TaskUpdate u;
        u.upstream_id = "fake-" + launch.task_id;
        if (s.fail_to_start) {
          u.state = TaskState::kFailed;
          u.error_message = s.error.empty() ? "could not start" : s.error;
          updates.push_back(u);
        } else {
          u.state = TaskState::kStarting;
          updates.push_back(u);
          u.state = TaskState::kRunning;
          updates.push_back(u);
          if (mode_ == Mode::kAutoComplete) {
            u.state = s.outcome;
            u.exit_code = s.exit_code;
            u.error_message = s.error;
            updates.push_back(u);
          }
        }
        t.last = updates.back();
      }
    }
  }
  for (const TaskUpdate& u : updates)
    observer(u);
}

void FakeExecutor::report(const std::string& task_id, const TaskUpdate& update) {
  TaskObserver observer;
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return;
    it->second.last = update;
    observer = it->second.observer;
  }
  if (observer) observer(update);
}

void FakeExecutor::finish(const std::string& task_id, TaskState state, int exit_code,
                          const std::string& error) {
  TaskUpdate u;
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || is_terminal(it->second.last.state)) return;
    u = it->second.last;
  }
  u.state = state;
  u.exit_code = exit_code;
  u.error_message = error;
  report(task_id, u);
}

void FakeExecutor::lose(const std::string& task_id) {
  TaskObserver observer;
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return;
    observer = it->second.observer;
    tasks_.erase(it);
  }
  TaskUpdate u;
  u.state = TaskState::kUnknown;
  u.not_found = true;
  u.error_message = "no such task";
  if (observer) observer(u);
}

void FakeExecutor::detach(const std::string& task_id) {
  std::lock_guard lock(mu_);
  if (auto it = tasks_.find(task_id); it != tasks_.end()) it->second.observer = nullptr;
}

void FakeExecutor::kill(const std::string& task_id, std::function<void(Status)> done) {
  bool live = false;
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(task_id);
    live = it != tasks_.end() && !is_terminal(it->second.last.state);
    if (it != tasks_.end()) killed_.push_back(task_id);
  }
  if (!live) {
    done(not_found("no live task " + task_id));
    return;
  }
  done(ok_status());
  finish(task_id, TaskState::kCancelled, 137, "killed");
}

void FakeExecutor::cleanup(const std::string& task_id, std::function<void(Status)> done) {
  {
    std::lock_guard lock(mu_);
    cleaned_.push_back(task_id);
  }
  done(ok_status());
}

StatusOr<TaskLogs> FakeExecutor::logs(const std::string& task_id) {
  std::lock_guard lock(mu_);
  if (!tasks_.count(task_id)) return not_found("no task " + task_id);
  TaskLogs logs;
  logs.url = "fake://logs/" + task_id;
  return logs;
}

std::vector<TaskLaunch> FakeExecutor::launches() const {
  std::lock_guard lock(mu_);
  return launches_;
}

int FakeExecutor::create_count(const std::string& task_id) const {
  std::lock_guard lock(mu_);
  const auto it = creates_.find(task_id);
  return it == creates_.end() ? 0 : it->second;
}

int FakeExecutor::attach_count(const std::string& task_id) const {
  std::lock_guard lock(mu_);
  const auto it = attaches_.find(task_id);
  return it == attaches_.end() ? 0 : it->second;
}

std::vector<std::string> FakeExecutor::live_tasks() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, t] : tasks_) {
    if (!is_terminal(t.last.state)) out.push_back(id);
  }
  return out;
}

std::vector<std::string> FakeExecutor::killed() const {
  std::lock_guard lock(mu_);
  return killed_;
}

std::vector<std::string> FakeExecutor::cleaned() const {
  std::lock_guard lock(mu_);
  return cleaned_;
}

}  // namespace epoch
