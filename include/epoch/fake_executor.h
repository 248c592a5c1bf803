// epoch/fake_executor.h — a scripted Executor for tests and benchmarks.
//
// What: `FakeExecutor` keeps tasks in memory. Launching an id it has
// attaches (as a real executor must); otherwise it "creates" the task, logs
// the launch, and reports STARTING then RUNNING. What happens next is
// scripted per task name: in kAutoComplete mode the scripted outcome
// (default: COMPLETED, exit code 0) is reported at once; in kManual mode the
// test calls finish(). A script can also fail the start (as an image pull
// failure does) or make the task never appear (the executor reports
// not_found). The launch log lets tests count creates per task id.
//
// Threading: thread-safe. Observers are called inline, from the thread
// that calls launch()/finish()/kill(), never while the fake holds its lock.
// Ownership: copies everything it is given.
// Errors: kill/cleanup of an unknown id report kNotFound.
//
// Example:
//   epoch::FakeExecutor executor(epoch::FakeExecutor::Mode::kManual);
//   epoch::FakeExecutor::Script fail;
//   fail.outcome = epoch::TaskState::kFailed;
//   fail.error = "exit 3";
//   executor.script_once("main", fail);  // the first attempt of "main" fails
//   // ... a Scheduler on it fires a run; then:
//   for (const std::string& id : executor.live_tasks()) executor.finish(id,
//   epoch::TaskState::kCompleted);
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "epoch/executor.h"

namespace epoch {

class FakeExecutor final : public Executor {
 public:
  enum class Mode { kManual, kAutoComplete };

  struct Script {
    TaskState outcome = TaskState::kCompleted;  // kAutoComplete: reported after RUNNING
    int exit_code = 0;
    std::string error;           // error message of a FAILED outcome
    bool fail_to_start = false;  // report FAILED with `error` instead of starting
    bool never_appears = false;  // report not_found; the task never exists
  };

  explicit FakeExecutor(Mode mode = Mode::kManual) : mode_(mode) {}

  std::string_view name() const noexcept override { return "fake"; }
  void launch(const TaskLaunch& launch, TaskObserver observer) override;
  void detach(const std::string& task_id) override;
  void kill(const std::string& task_id, std::function<void(Status)> done) override;
  void cleanup(const std::string& task_id, std::function<void(Status)> done) override;
  StatusOr<TaskLogs> logs(const std::string& task_id) override;

  // The script for every task with this task name (all attempts).
  void script(const std::string& task_name, Script script);
  // A script for the next create of a task with this name only.
  void script_once(const std::string& task_name, Script script);

  // Ends a live task with `state` (kManual mode, or any time).
  void finish(const std::string& task_id, TaskState state, int exit_code = 0,
              const std::string& error = "");
  // Makes the executor forget a task, as if its host vanished: it then
  // reports not_found to the observer.
  void lose(const std::string& task_id);

  // Every create, in order (attaches are not creates).
  std::vector<TaskLaunch> launches() const;
  int create_count(const std::string& task_id) const;
  int attach_count(const std::string& task_id) const;
  std::vector<std::string> live_tasks() const;  // created, not terminal
  std::vector<std::string> killed() const;
  std::vector<std::string> cleaned() const;

 private:
  struct FakeTask {
    TaskLaunch launch;
    TaskUpdate last;
    TaskObserver observer;
  };
  void report(const std::string& task_id, const TaskUpdate& update);

  const Mode mode_;
  mutable std::mutex mu_;
  std::map<std::string, FakeTask> tasks_;
  std::map<std::string, Script> scripts_;
  std::map<std::string, std::vector<Script>> once_;
  std::vector<TaskLaunch> launches_;
  std::map<std::string, int> creates_, attaches_;
  std::vector<std::string> killed_, cleaned_;
};

}  // namespace epoch
