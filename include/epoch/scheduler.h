// epoch/scheduler.h — the scheduling engine. Start here to embed Epoch.
//
// What: `Scheduler` keeps topologies, fires their runs on time, runs the
// task trees on an Executor, persists every decision to a Store before acting
// on it, and recovers after a restart or a leader change without losing or
// repeating a fire:
//   * a scheduled run's id is its nominal fire instant in UTC
//     ("ESR-2026-03-08-07-30-00-000"), its task ids are
//     "{topologyId}-{runId}-{taskName}" ("-{attempt}" for retries), and the
//     run is stored before its first task is launched; an executor attaches
//     when launched twice with one id, so every nominal fire gets one launch;
//   * each topology stores the last nominal fire it handled; after downtime
//     the fires in between are run or recorded as MISSED by its catch-up
//     policy, never silently dropped;
//   * a fire that is not run is recorded as a SKIPPED or MISSED run with the
//     reason (previous run still going, topology paused, start deadline,
//     catch-up policy).
// Run semantics are Epoch's: tasks of a COMPOSITE run in order (ALL stops at
// the first failure, ANY at the first success); a run whose tree completes
// is SUCCESSFUL (scheduled, CRON), COMPLETED (scheduled AT, or instant), or
// else FAILED with the reason.
//
// Threading: all engine state lives on one strand of the io_context given to
// the constructor; run the io_context on any number of threads. Every
// public method is thread-safe and returns at once; no callback is ever
// called inline (before the method returns). A change's callback runs on
// the strand after the change is durable (do not block in it).
// get_topology and list_topologies take their answer at the call from a
// snapshot the strand publishes after every change, and deliver it on an
// io_context thread (not the strand), so reads never wait behind a burst of
// fires. While a new leader recovers (it reads the store on the Scheduler's
// reader thread, never on the strand), operations and reads wait for it and
// then see what it read; the read counts as work of the io_context, so
// run() does not return while it is out.
// Runs are read from the Store (load_run, load_runs), on any node and any
// thread: it holds every run whose actions have happened, and the engine
// keeps no second copy to read them from.
// Ownership: the Scheduler does not own the seams; they must outlive it.
// Errors: callbacks get kNotFound (unknown topology/run/task),
// kInvalidArgument (validate(Topology) failed), kAlreadyExists,
// kFailedPrecondition (e.g. run now refused by a FORBID policy),
// kUnavailable (this node is not the leader) or the store's error.
//
// Example:
//   boost::asio::io_context ioc;
//   auto store = epoch::make_memory_store();
//   auto executor = epoch::make_local_executor({});
//   auto elector = epoch::make_standalone_elector("http://localhost:8080");
//   auto clock = epoch::make_system_clock();
//   epoch::RecordingSink events;
//   epoch::Scheduler scheduler(ioc, *store, *executor, *elector, *clock, events);
//   scheduler.start();
//   scheduler.create(topology, [](epoch::StatusOr<epoch::TopologyDetails> d) {
//     if (!d.ok()) std::cerr << d.status().message() << "\n";  // on the strand, once durable
//   });
//   ioc.run();
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "epoch/clock.h"
#include "epoch/events.h"
#include "epoch/executor.h"
#include "epoch/leader.h"
#include "epoch/model.h"
#include "epoch/status.h"
#include "epoch/store.h"

namespace boost::asio {
class io_context;
}

namespace epoch {

struct SchedulerOptions {
  // Zone of CRON triggers that name none (default "UTC").
  std::string default_time_zone = "UTC";
  // Fire times are searched up to the end of this year (default 2126).
  int max_year = 2126;
  // A task the executor does not know for this long is FAILED (default 10 min).
  std::chrono::milliseconds unknown_task_timeout = std::chrono::minutes(10);
  // Retention of finished runs for topologies without a retention policy
  // (default: the newest 20, like Epoch's shipped configuration).
  RetentionPolicy default_retention = RetentionPolicy{20, std::nullopt};
  // How often finished runs are pruned (default 5 min; 0 disables).
  std::chrono::milliseconds retention_interval = std::chrono::minutes(5);
  // At most this many records per store commit (default 1000).
  std::size_t max_batch_ops = 1000;
  // Fires are handled this long before their nominal instant (default
  // 500 ms): the run is decided and stored ahead, with its first task
  // PENDING and `notBefore` the nominal instant, so that at the nominal
  // instant the only work left is the launch. A fire that could not run at
  // that earlier moment (the previous run is still live, the topology is
  // paused) is decided at its nominal instant instead, so a run that ends
  // just before the next fire does not cause a SKIPPED. 0 handles fires at
  // their instant.
  std::chrono::milliseconds prepare_ahead = std::chrono::milliseconds(500);
  // A run still RUNNING this long after its first task started gets one
  // Event::Type::kRunRunningLong (default 0: never). Timed on the engine's
  // Clock; a new leader does not repeat one the run record says went out.
  std::chrono::milliseconds running_long_after{0};
  // Seed of the retry jitter (default 0: from the system).
  std::uint64_t seed = 0;
  // Where the engine's blocking store reads run (a new leader's recovery,
  // run now's check for a stored run of the same id, each retention pass),
  // so that none blocks the strand. Default (empty): a thread of the Scheduler's own,
  // joined by stop(). Given, each read is handed over as a job; run it (on
  // any thread, never inline) while the Scheduler and its Store exist, or
  // drop it. Tests hand the jobs to their io_context to run them in order.
  std::function<void(std::function<void()>)> store_reads;
};

// A topology as the engine sees it now.
struct TopologyView {
  TopologyDetails details;
  std::optional<Instant> next_fire;    // the next nominal fire, if any
  std::optional<Instant> last_fire;    // the last nominal fire handled
  std::vector<std::string> live_runs;  // ids of runs not finished
};

// Counts for monitoring (zero on a node that is not the leader).
struct SchedulerStats {
  bool leader = false;
  std::size_t topologies_active = 0;
  std::size_t topologies_paused = 0;
  std::size_t runs_live = 0;  // runs not finished
};

class Scheduler {
 public:
  template <typename T>
  using Callback = std::function<void(StatusOr<T>)>;

  Scheduler(boost::asio::io_context& ioc, Store& store, Executor& executor, LeaderElector& elector,
            Clock& clock, EventSink& events, SchedulerOptions options = {});
  // Stops first if needed. No callback given to this Scheduler runs after
  // the destructor returns: one running on another thread is waited for,
  // later ones are dropped (so do not destroy it while holding a lock that
  // a callback takes). Likewise, what the executor, elector or store calls
  // back after that no longer reaches the engine, so the io_context may go
  // once the Scheduler has (handlers still queued on it go with it).
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Joins the election; on becoming leader, loads the store (off the
  // strand), re-attaches to unfinished tasks, applies catch-up and arms the
  // timers.
  void start();
  // Leaves the election and stops timers and writes at once. Tasks keep
  // running on the executor; the next leader attaches to them. Waits until
  // the strand has stopped; do not call it from the io_context's thread
  // while the io_context is not otherwise running.
  void stop();

  // Creates an ACTIVE topology (kAlreadyExists if the name is taken;
  // kInvalidArgument if a secret env value is kRedactedSecret, model.h).
  void create(Topology topology, Callback<TopologyDetails> done);
  // Replaces a topology's spec, keeping its state; an update of the trigger
  // re-arms the schedule from now. Live runs keep the spec they started with.
  // A secret env value given as kRedactedSecret (what readers were shown)
  // keeps the stored value of that secret (restore_redacted_secrets).
  void update(Topology topology, Callback<TopologyDetails> done);
  // Scheduled fires of a paused topology are recorded as SKIPPED; live runs
  // go on. Idempotent.
  void pause(const std::string& id, Callback<TopologyDetails> done);
  // Idempotent: resuming an active topology changes nothing.
  void resume(const std::string& id, Callback<TopologyDetails> done);
  // Deletes the topology and its run records; with `kill_running`, kills
  // the tasks of its live runs first.
  void remove(const std::string& id, bool kill_running, Callback<bool> done);
  // Starts an INSTANT run now (also while paused); returns its run id.
  void run_now(const std::string& id, Callback<std::string> done);
  // Asks the executor to kill a task of a live run; the run then FAILS.
  void kill_task(const std::string& topology_id, const std::string& run_id,
                 const std::string& task_name, Callback<bool> done);

  void get_topology(const std::string& id, Callback<TopologyView> done);
  void list_topologies(Callback<std::vector<TopologyView>> done);

  // Counts of topologies and live runs, taken on the strand.
  void stats(Callback<SchedulerStats> done);

  // Answers true once every change decided so far (a run's end the
  // executor just reported, say) is durable — before stop(), which drops
  // the writes not yet made. kUnavailable when not the leader; dropped, like
  // the writes, if leadership is lost first.
  void sync(Callback<bool> done);

  // Whether this node currently schedules.
  bool is_leader() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace epoch
