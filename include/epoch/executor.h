// epoch/executor.h — where tasks run: the Executor seam.
//
// What: an `Executor` runs one leaf task (a container, a process, or a job
// of this program) and
// reports its state. `launch` is idempotent on the task id: launching an id
// the executor already has attaches to that task instead of starting a
// second one. That, with deterministic task ids, is what gives one launch per
// nominal fire time across crashes and leader changes: after a restart the
// engine simply launches every unfinished task again.
//
// In-process tasks (in_process() says true: FUNCTION jobs) cannot be
// attached to from another process, so the engine stores an attempt as
// claimed before it launches it, and launches a claimed attempt again with
// `resumed` set; the executor reports such an attempt it does not hold as
// `lost`. That gives one start per attempt id (see function_executor.h).
//
// Implementations: `make_local_executor()` (processes on this host, container
// tasks through a docker-compatible CLI; epoch/local_executor.h),
// `FunctionExecutor` (the program's own jobs, on a pool of its threads, and
// every other task handed to an executor it wraps; epoch/function_executor.h),
// `make_drove_executor()` (epoch/drove_executor.h), and `FakeExecutor`
// (epoch/fake_executor.h) for tests.
//
// Threading: every method is thread-safe and returns without waiting for
// the network or the task; no call answers inline — observers and the
// kill/cleanup callbacks run later on executor threads (the engine posts
// them to its strand). The named exception is FakeExecutor, which answers
// inline so tests can drive it step by step. No call ever blocks the
// caller on I/O. An executor's destructor joins its threads: no observer or
// callback runs after it returns (callbacks still pending are dropped).
//
// A kill of a task whose launch is still in flight (queued, or its create
// being retried) cancels the launch: the task ends CANCELLED and never runs.
// Ownership: the executor copies the launch; observers are kept until the
// task is terminal or detached.
// Errors: a task that cannot start is reported through its observer as
// FAILED with the reason (an image that cannot be pulled is a failure);
// kill/cleanup report through their callbacks.
//
// Example:
//   auto executor = epoch::make_local_executor({});
//   epoch::TaskLaunch launch;
//   launch.task_id = "hello-EIR-1-main";
//   launch.task = topology.task;  // a leaf: a PROCESS task, say
//   executor->launch(launch, [](const epoch::TaskUpdate& u) {
//     // on an executor thread, later: STARTING, RUNNING, then a terminal state
//     std::cout << epoch::to_string(u.state) << " " << u.error_message << "\n";
//   });
//   auto out = executor->read_output(launch.task_id, epoch::OutputStream::kStdout, 0, 64 * 1024);
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "epoch/model.h"
#include "epoch/status.h"

namespace epoch {

struct TaskLaunch {
  std::string task_id;  // make_task_id(topology, run, task name, attempt)
  std::string topology_id;
  std::string run_id;
  std::string task_name;
  RunType run_type = RunType::kScheduled;
  int attempt = 1;
  Instant scheduled_time{};
  Task task;  // the leaf: ContainerTask, ProcessTask or FunctionTask
  // The store says an earlier launch of this attempt may have happened (a
  // new leader, a restart): attach to it. An executor that cannot (an
  // in-process job it does not hold) reports it `lost`.
  bool resumed = false;
};

// The environment every task gets, which an executor adds to the task's
// own: EPOCH_TOPOLOGY_ID, EPOCH_RUN_ID, EPOCH_RUN_TYPE, EPOCH_ATTEMPT,
// EPOCH_TASK_NAME, EPOCH_TASK_ID, EPOCH_SCHEDULED_TIME (ISO-8601 UTC) and
// EPOCH_SCHEDULED_TIME_MS.
std::map<std::string, std::string> epoch_task_env(const TaskLaunch& launch);

struct TaskUpdate {
  TaskState state = TaskState::kUnknown;
  std::string upstream_id;  // the executor's own id for the task
  std::string error_message;
  std::optional<int> exit_code;
  // The executor has no task with this id (it never arrived, or was lost).
  // The engine fails such a task after SchedulerOptions::unknown_task_timeout.
  bool not_found = false;
  // With a terminal state (kFailed): the task is gone for good — it ran in
  // a process that ended, or that stopped scheduling, before it finished.
  // The retry policy sees the attempt as LOST.
  bool lost = false;
};

// Called with every change of a task's state; the last call for a task is a
// terminal state (unless the task is detached first).
using TaskObserver = std::function<void(const TaskUpdate&)>;

// Where a task's output can be read.
struct TaskLogs {
  std::string url;        // a link (the Drove UI), or empty
  bool readable = false;  // read_output() serves this task's output
};

enum class OutputStream { kStdout, kStderr };

// A piece of a task's output: `data` holds the bytes from the offset asked
// for (at most the limit asked for; empty past the end); `size` is the
// stream's whole length so far (it grows while the task runs).
struct OutputChunk {
  std::string data;
  std::int64_t size = 0;
};

class Executor {
 public:
  virtual ~Executor() = default;
  Executor() = default;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // "local", "drove", "fake", "function".
  virtual std::string_view name() const noexcept = 0;

  // Whether `leaf` would run inside this process (and so dies with it): the
  // engine then stores the attempt as claimed before launching it, and a
  // claimed attempt no executor holds after a restart is LOST instead of
  // started twice. Default: false (processes and containers outlive us).
  virtual bool in_process(const Task& leaf) const noexcept;

  // Starts the task, or attaches to the existing task with the same id, and
  // reports its states to `observer` until it is terminal.
  virtual void launch(const TaskLaunch& launch, TaskObserver observer) = 0;

  // Stops reporting on `task_id` (the task itself goes on).
  virtual void detach(const std::string& task_id) = 0;

  // Asks the task to stop (SIGTERM then SIGKILL, a Drove KILL). Its observer
  // then sees CANCELLED. `done` says whether the request was accepted.
  virtual void kill(const std::string& task_id, std::function<void(Status)> done) = 0;

  // Forgets a finished task (removes its logs, its Drove metadata).
  virtual void cleanup(const std::string& task_id, std::function<void(Status)> done) = 0;

  // Where to read the task's output. kNotFound when the executor has none.
  virtual StatusOr<TaskLogs> logs(const std::string& task_id) = 0;

  // Up to `limit` bytes of the task's `stream`, from byte `offset`. The one
  // way to the output an executor keeps itself (the local executor's files);
  // no file path is handed out. Synchronous: it reads at most `limit` bytes
  // and returns (callable from any thread, it never calls back). kNotFound
  // when the executor keeps no output for the task (the default: Drove's is
  // behind logs().url); kInvalidArgument for a negative offset.
  // Example: auto c = ex.read_output(id, OutputStream::kStdout, 0, 64 * 1024);
  virtual StatusOr<OutputChunk> read_output(const std::string& task_id, OutputStream stream,
                                            std::int64_t offset, std::size_t limit);
};

}  // namespace epoch
