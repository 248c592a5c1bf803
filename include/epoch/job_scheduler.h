// epoch/job_scheduler.h — libepoch in one call: a ready scheduler for a C++
// service, with the service's own functions as jobs.
//
// What: `JobScheduler::start(options)` builds and starts everything a
// Scheduler needs from plain options — the store (memory, a SQLite file, or
// ZooKeeper), the election (standalone, or through ZooKeeper when the store
// is ZooKeeper: several copies of the service, one leader), the executors (a
// FunctionExecutor for the jobs, in front of — if asked for — the local
// executor for PROCESS and container tasks, or Drove), the clock and the
// threads — and returns it ready: it is the leader (standalone) or takes
// part in the election (ZooKeeper). Its destructor stops it all cleanly.
//
// Jobs are registered in the options (so that they exist before the first
// fire, the recovery of a run left by an earlier process included) or later
// with register_job(). Topologies are created with the blocking calls below
// (create … list), their std::future twins (*_async), or declared: a
// declared topology is created, or updated when its spec differs, by
// whichever copy becomes the leader — the way several copies of a service
// agree on their schedules without a coordinator of their own.
//
// Guarantees (see epoch/function_executor.h and docs/embedding.md): each
// nominal fire is run once, or recorded SKIPPED/MISSED with the reason;
// each attempt of a job starts at most once, across restarts and leader
// changes; an attempt whose process died is recorded LOST and retried by
// the retry policy — so a job runs at least once per fire (given retries),
// and JobContext::task_id() is the idempotency key.
//
// Threading: every method is thread-safe. The blocking calls wait for the
// answer; they refuse (kFailedPrecondition) when called on a thread that
// runs the io_context the scheduler answers on (it would wait for itself) —
// use the *_async twin there, or better, no blocking work in callbacks at
// all. Listeners run on the engine's strand, in the order of events, after
// the change they describe is durable: keep them short, never block in
// them. Handlers run on the job pool (FunctionExecutor).
// Without `io_context`, the JobScheduler runs its own (io_threads threads);
// given one, it posts its work there and the caller runs it, and keeps
// running it until the JobScheduler is destroyed.
// Ownership: the JobScheduler owns everything it built; listeners and
// handlers are kept until it is destroyed. No listener, handler or callback
// runs after the destructor returns (it stops the scheduler, cancels the
// running jobs and waits for them to return).
// Errors: start() answers kInvalidArgument for contradictory options,
// kFailedPrecondition when another process schedules from the same SQLite
// file (it holds "<file>.lock"; several copies share ZooKeeper), or the
// store's, the ZooKeeper connection's or an executor's error (a SQLite file
// that cannot be opened, ZooKeeper unreachable within its timeout, a bad job
// name). The calls answer the Scheduler's errors (scheduler.h); on a copy
// that is not the leader they answer kUnavailable.
//
// Example:
//   epoch::JobSchedulerOptions o;
//   o.store = epoch::SqliteStoreOptions{.path = "jobs.db"};
//   o.register_job("send-digest", [](epoch::JobContext& ctx) {
//     ctx.log("sending the digest for " + ctx.run_id());
//   });
//   auto jobs = epoch::JobScheduler::start(std::move(o));
//   if (!jobs.ok()) return jobs.status();
//   auto t = epoch::function_topology("digest", "0 0 9 * * ?", "send-digest", "Europe/Berlin");
//   if (auto d = (*jobs)->create(t); !d.ok()) return d.status();
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "epoch/clock.h"
#include "epoch/drove_executor.h"
#include "epoch/events.h"
#include "epoch/function_executor.h"
#include "epoch/local_executor.h"
#include "epoch/model.h"
#include "epoch/scheduler.h"
#include "epoch/sqlite_store.h"
#include "epoch/status.h"
#include "epoch/store.h"
#include "epoch/zookeeper.h"

namespace boost::asio {
class io_context;
}

namespace epoch {

// The store of a JobScheduler that keeps nothing across restarts.
struct MemoryStoreOptions {};

// A run's state changed (or it is still running after
// SchedulerOptions::running_long_after: `running_long`).
struct RunEvent {
  std::string topology_id;
  std::string run_id;
  RunType run_type = RunType::kScheduled;
  RunState state = RunState::kRunning;
  std::optional<Instant> scheduled_time;  // the nominal fire
  std::string message;                    // why SKIPPED / MISSED / FAILED
  bool running_long = false;
  std::shared_ptr<const RunInfo> run;  // the whole run as it is now
};

// A task's state changed.
struct TaskEvent {
  std::string topology_id;
  std::string run_id;
  std::string task_name;
  std::string task_id;  // distinct per attempt
  int attempt = 1;
  TaskState state = TaskState::kPending;
  std::string message;  // the error, the reason
};

struct JobSchedulerOptions {
  // Where topologies and runs are kept. ZooKeeper also elects the leader
  // among every copy on the same hosts and namespace; the others elect
  // this process alone (one process per SQLite file).
  std::variant<MemoryStoreOptions, SqliteStoreOptions, ZkOptions> store = MemoryStoreOptions{};
  // This copy's name in the election (default "host:pid").
  std::string node_name;
  // The job pool (its clock defaults to `clock`).
  FunctionExecutorOptions jobs;
  // PROCESS and container tasks: refused (the default: a program of jobs
  // only), on this host (`local`: processes, and containers through a
  // docker CLI; it keeps its work directory), or containers on Drove.
  enum class Tasks { kNone, kLocal, kDrove };
  Tasks other_tasks = Tasks::kNone;
  LocalExecutorOptions local;
  DroveExecutorOptions drove;
  SchedulerOptions scheduler;
  // Time (default: the system clock). Must outlive the JobScheduler.
  Clock* clock = nullptr;
  // Given: the scheduler's work is posted there and the caller runs it.
  // Default: the JobScheduler's own, run by io_threads threads.
  boost::asio::io_context* io_context = nullptr;
  std::size_t io_threads = 2;
  // More event sinks (e.g. make_log_sink, a mail sink); must outlive it.
  std::vector<EventSink*> sinks;

  // Registers a job at start (see FunctionExecutor::register_job; a bad
  // or repeated name fails start()).
  template <typename F>
  void register_job(std::string name, F handler) {
    job_handlers.push_back([name = std::move(name), h = std::move(handler)](FunctionExecutor& e) {
      return e.register_job(name, h);
    });
  }
  // What register_job() collected, applied in order by start().
  std::vector<std::function<Status(FunctionExecutor&)>> job_handlers;
};

class JobScheduler {
 public:
  template <typename T>
  using Future = std::future<StatusOr<T>>;

  // Builds and starts. See the errors above.
  static StatusOr<std::unique_ptr<JobScheduler>> start(JobSchedulerOptions options);
  // Stops the scheduler, cancels running jobs and waits for them, closes
  // the store. Tasks of other executors keep running (the next leader, or
  // the next start, attaches to them).
  ~JobScheduler();
  JobScheduler(const JobScheduler&) = delete;
  JobScheduler& operator=(const JobScheduler&) = delete;

  // Registers a job now (see FunctionExecutor::register_job).
  template <typename F>
  Status register_job(std::string name, F handler) {
    return jobs().register_job(std::move(name), std::move(handler));
  }

  // Kept, and applied by whichever copy leads (now, if this one does, and
  // at every election this copy wins): created when absent, updated when
  // its spec differs. An invalid topology is refused at once
  // (kInvalidArgument); declaring a name again replaces the earlier one.
  Status declare(Topology topology);
  // Per declared topology (by name): how its last application ended
  // (kUnavailable "not applied yet" before this copy led).
  std::vector<std::pair<std::string, Status>> declared() const;

  // Blocking calls: each returns when the change is durable (or refused).
  StatusOr<TopologyDetails> create(Topology topology);
  StatusOr<TopologyDetails> update(Topology topology);
  StatusOr<TopologyDetails> pause(const std::string& id);
  StatusOr<TopologyDetails> resume(const std::string& id);
  StatusOr<bool> remove(const std::string& id, bool kill_running = false);
  StatusOr<std::string> run_now(const std::string& id);  // the run id
  StatusOr<bool> kill_task(const std::string& topology_id, const std::string& run_id,
                           const std::string& task_name);
  StatusOr<TopologyView> get(const std::string& id);
  StatusOr<std::vector<TopologyView>> list();
  // Runs, read from the store (any copy, leader or not), newest first.
  StatusOr<std::vector<RunInfo>> runs(const std::string& topology_id, const RunQuery& query = {});
  StatusOr<std::optional<RunInfo>> run(const std::string& topology_id, const std::string& run_id);

  // The same, answering through a std::future (never blocking the caller).
  Future<TopologyDetails> create_async(Topology topology);
  Future<TopologyDetails> update_async(Topology topology);
  Future<TopologyDetails> pause_async(const std::string& id);
  Future<TopologyDetails> resume_async(const std::string& id);
  Future<bool> remove_async(const std::string& id, bool kill_running = false);
  Future<std::string> run_now_async(const std::string& id);
  Future<TopologyView> get_async(const std::string& id);
  Future<std::vector<TopologyView>> list_async();

  // Listeners, kept until the JobScheduler is destroyed; see Threading.
  void on_run(std::function<void(const RunEvent&)> listener);
  void on_task(std::function<void(const TaskEvent&)> listener);

  // Whether this copy schedules now; waits up to `limit` for it to.
  bool is_leader() const;
  bool wait_until_leader(std::chrono::milliseconds limit) const;

  // The parts, for what the calls above do not cover. Owned by the
  // JobScheduler.
  Scheduler& scheduler();
  Store& store();
  FunctionExecutor& jobs();
  // The executor tasks run on (the FunctionExecutor, which hands other
  // tasks on): read_output() and logs() of any task.
  Executor& executor();

 private:
  struct Parts;
  explicit JobScheduler(std::unique_ptr<Parts> parts);
  template <typename T, typename Op>
  StatusOr<T> wait(Op op);
  template <typename T, typename Op>
  Future<T> promise(Op op);
  std::unique_ptr<Parts> parts_;
};

// A topology of one FUNCTION task (named "main") running `job` on `cron`
// (Quartz syntax, UTC unless `time_zone` is given).
Topology function_topology(std::string name, std::string cron, std::string job,
                           std::optional<std::string> time_zone = std::nullopt,
                           std::string data_json = "");

}  // namespace epoch
