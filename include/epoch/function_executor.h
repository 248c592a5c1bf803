// epoch/function_executor.h — the program's own functions as tasks.
//
// What: `FunctionExecutor` runs FUNCTION tasks (model.h: a `job` name and a
// JSON `data` object) by calling the handler the program registered under
// that name, on a pool of the executor's own threads. Every other leaf (a
// process, a container) goes to the executor it wraps (`others`), so tasks
// of every type mix in one topology (a composite of a job and a container).
//
// A handler gets a JobContext: the topology, run and task ids, the attempt,
// the nominal (scheduled) time, the task's data, a cancellation token, and
// log(), error() and progress() that write lines to the task's stdout and
// stderr (read through read_output(), the same log API as process tasks).
// It returns a Status (or nothing): OK ends the task COMPLETED; an error,
// or an exception it throws, ends it FAILED with the message. Retries and
// their backoff are the topology's retry policy, as for every task.
//
// Cancellation: kill() and the topology's timeout (the engine kills the
// task) cancel the token. A handler that returns then ends CANCELLED (a
// timeout: TIMED_OUT). One that does not return within `kill_grace` is
// reported CANCELLED anyway; its thread stays busy until it returns (a
// thread cannot be stopped from outside), and what it returns is dropped.
// A task queued behind busy threads and killed never starts.
//
// Guarantees across crashes and leader changes (with the engine):
//   * one start per attempt: the engine stores the attempt as claimed (with
//     its prepared run, up to prepare_ahead before its time) before it hands
//     it to this executor, so no restart and no new leader starts the same
//     attempt id again (one that died between the claim and the start is
//     LOST without having run);
//   * an attempt whose process died, or whose node stopped scheduling
//     (detach() cancels the handler), is reported `lost` when the next
//     leader finds it unfinished: it ends FAILED as LOST, and the retry
//     policy decides whether attempt n+1 runs;
//   * so a job runs at least once per fire across crashes (given retries),
//     and JobContext::task_id() — distinct per attempt — is the key a
//     handler uses to make its effects idempotent.
// A job name no handler is registered for fails the task at once, naming
// the job and the jobs that are registered.
//
// Threading: every method is thread-safe. Handlers run on the pool (never
// on the caller's thread or the engine's strand), several at once when
// `threads` > 1. Observers and the kill/cleanup callbacks run on the
// executor's own control thread, never inline. The destructor cancels every
// running handler's token, waits for the handlers to return (a handler that
// ignores its token delays it), and drops the reports not yet delivered: no
// observer, callback or handler runs after it returns.
// Ownership: `others` (may be null) must outlive the executor. Handlers are
// copied in and destroyed with the executor. A JobContext is valid only
// during its handler's call.
// Errors: register_job() answers kInvalidArgument for a name that is not
// [0-9a-zA-Z_-]{1,255} or an empty handler, kAlreadyExists for a name taken.
// A leaf other than FUNCTION without `others` fails, saying so.
//
// Example:
//   auto local = epoch::make_local_executor({});
//   epoch::FunctionExecutor jobs({.threads = 8}, local.get());
//   epoch::Status added = jobs.register_job("send-digest", [](epoch::JobContext& ctx) {
//     ctx.log("digest for " + ctx.data_string("team").value_or("everyone"));
//     if (ctx.cancelled()) return epoch::cancelled("stopped");
//     return epoch::Status();
//   });
//   if (!added.ok()) return added;  // a bad or repeated name
//   // then: epoch::Scheduler scheduler(ioc, store, jobs, elector, clock, events);
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "epoch/clock.h"
#include "epoch/executor.h"
#include "epoch/model.h"
#include "epoch/status.h"

namespace epoch {

// What a handler gets. Valid during the handler's call only; its methods
// may be called from any thread during that call.
class JobContext {
 public:
  const std::string& topology_id() const noexcept;
  const std::string& run_id() const noexcept;
  const std::string& task_name() const noexcept;
  // "{topologyId}-{runId}-{taskName}[-{attempt}]": distinct per attempt,
  // the same on every node: an idempotency key.
  const std::string& task_id() const noexcept;
  const std::string& job() const noexcept;
  int attempt() const noexcept;  // 1, 2, ... (retries)
  RunType run_type() const noexcept;
  Instant scheduled_time() const noexcept;  // the run's nominal fire instant

  // The task's `data` as JSON object text ("{}" when it has none).
  const std::string& data() const noexcept;
  // A member of `data`: a string, a number as an integer, a boolean.
  // nullopt when absent or of another type.
  std::optional<std::string> data_string(std::string_view key) const;
  std::optional<std::int64_t> data_int(std::string_view key) const;
  std::optional<bool> data_bool(std::string_view key) const;

  // Cancelled by kill(), the topology's timeout, detach() or the executor's
  // destruction. Poll cancelled(), or wait on stop_token() (e.g. with a
  // std::condition_variable_any or a std::stop_callback).
  bool cancelled() const noexcept;
  std::stop_token stop_token() const noexcept;
  // Waits `d` (steady time) or until cancelled; false when cancelled.
  bool sleep_for(std::chrono::milliseconds d) const;

  // A line of the task's stdout / stderr (a newline is added; control
  // characters are kept as given: readers escape them). Each stream keeps
  // FunctionExecutorOptions::max_output_bytes; past that, one line says
  // the rest was dropped.
  void log(std::string_view line);
  void error(std::string_view line);
  // A heartbeat with how far the job is (0..1, clamped) and a note: a
  // stdout line "progress 40%: note".
  void progress(double fraction, std::string_view note = {});

  struct State;  // internal
  explicit JobContext(State& state) noexcept : state_(state) {}
  JobContext(const JobContext&) = delete;
  JobContext& operator=(const JobContext&) = delete;

 private:
  State& state_;
};

using JobHandler = std::function<Status(JobContext&)>;

struct FunctionExecutorOptions {
  // Handlers running at once (default 4); more wait their turn, in order.
  std::size_t threads = 4;
  // After a kill or timeout cancels a handler, how long it has to return
  // before the task is reported CANCELLED without it (default 10 s).
  std::chrono::milliseconds kill_grace = std::chrono::seconds(10);
  // Output kept per stream per task (default 1 MiB).
  std::size_t max_output_bytes = 1 << 20;
  // Finished tasks whose output stays readable until cleanup() (default
  // 10,000; the oldest go first).
  std::size_t keep_finished = 10000;
  // Times the kill grace (default: the system clock). Must outlive the
  // executor.
  Clock* clock = nullptr;
};

class FunctionExecutor final : public Executor {
 public:
  explicit FunctionExecutor(FunctionExecutorOptions options = {}, Executor* others = nullptr);
  ~FunctionExecutor() override;

  // Registers `handler` as job `name`: a callable taking JobContext& and
  // returning Status, or returning nothing (then it succeeds unless it
  // throws). Register before the scheduler starts: a FUNCTION task
  // launched while its job is unknown fails at once.
  template <typename F>
  Status register_job(std::string name, F handler) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, JobContext&>>) {
      return add_job(std::move(name), JobHandler([h = std::move(handler)](JobContext& c) mutable {
                       h(c);
                       return Status();
                     }));
    } else {
      return add_job(std::move(name), JobHandler(std::move(handler)));
    }
  }
  // The registered job names, sorted.
  std::vector<std::string> jobs() const;
  // Handlers running now.
  std::size_t running() const;
  // Waits (up to `limit`) until every report decided so far (a job that
  // just ended) has reached its observer; false on timeout. For an orderly
  // stop: then Scheduler::sync(), then stop. Not from an observer.
  bool wait_reports(std::chrono::milliseconds limit);

  std::string_view name() const noexcept override { return "function"; }
  bool in_process(const Task& leaf) const noexcept override;
  void launch(const TaskLaunch& launch, TaskObserver observer) override;
  // Stops reporting on the task and cancels its handler: nothing would
  // record what it returns. A later launch of it (`resumed`) reports it lost.
  void detach(const std::string& task_id) override;
  void kill(const std::string& task_id, std::function<void(Status)> done) override;
  void cleanup(const std::string& task_id, std::function<void(Status)> done) override;
  StatusOr<TaskLogs> logs(const std::string& task_id) override;
  StatusOr<OutputChunk> read_output(const std::string& task_id, OutputStream stream,
                                    std::int64_t offset, std::size_t limit) override;

 private:
  Status add_job(std::string name, JobHandler handler);

  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace epoch
