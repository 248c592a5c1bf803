// Private: the engine — one strand, one timer queue, and a write-ahead
// discipline. The public face is Scheduler (include/epoch/scheduler.h);
// Scheduler::Impl is this class.
//
// Every handler on the strand mutates the in-memory state, queues the store
// writes that make it durable and the actions that follow from it (launch,
// kill, events, replies) on the commit queue, then calls flush(). flush()
// commits queued writes as one batch and runs the actions only once their
// batch is durable (commit_queue.h). After a crash the store therefore never
// lacks a record whose action happened: a launched task always has its run
// stored first.
//
// The parts: policy.h (pure rules: overlap, catch-up, deadlines, retry,
// retention), run_machine.h (pure: a run's task tree), timer_queue.h (the
// timers; one Clock timer is armed for the earliest), commit_queue.h (the
// write-ahead queue), views.h (what readers see). This class owns the
// strand and the state and does what the parts decide; its methods live in
//   engine.cpp       lifecycle, the public operations and reads, helpers
//   writes.cpp       the write-ahead pipeline and the published views
//   leadership.cpp   election, recovery (read off the strand), catch-up,
//                    runs queued behind the overlap policy
//   firing.cpp       timers, fires, retention
//   runs.cpp         a run's life: launch, task updates, retries, timeouts,
//                    replacement, its end
//   operations.cpp   create, update, pause, delete, run now, kill
// Threading: everything below the public operations runs on the strand;
// the public operations may be called from any thread.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "../support/lifeline.h"
#include "commit_queue.h"
#include "epoch/cron.h"
#include "epoch/scheduler.h"
#include "policy.h"
#include "run_machine.h"
#include "timer_queue.h"
#include "views.h"

namespace epoch::engine {

namespace asio = boost::asio;
using Verdict = OverlapVerdict::Kind;
using std::chrono::milliseconds;

class Engine : public std::enable_shared_from_this<Engine> {
 public:
  template <typename T>
  using Callback = Scheduler::Callback<T>;

  Engine(asio::io_context& ioc, Store& store, Executor& executor, LeaderElector& elector,
         Clock& clock, EventSink& events, SchedulerOptions options)
      : ioc_(ioc),
        strand_(asio::make_strand(ioc)),
        store_(store),
        executor_(executor),
        elector_(elector),
        clock_(clock),
        events_(events),
        options_(std::move(options)),
        rng_(options_.seed != 0 ? options_.seed : std::random_device{}()) {
    cron_options_.max_year = options_.max_year;
    auto zone = TimeZone::locate(options_.default_time_zone);
    default_zone_ = zone.ok() ? *zone : TimeZone();
  }

  // ---- lifecycle ----------------------------------------------------------

  void start();
  void stop();

  // Reads queued and not begun are dropped; one in progress is waited for
  // (its answer goes nowhere: the jobs hold the engine only weakly).
  void stop_reader();
  void shutdown();

  bool is_leader() const { return leader_flag_.load(); }

  // A callback given to a public method, made safe to outlive the
  // Scheduler: after close_callbacks() it is never called.
  template <typename T>
  Callback<T> guarded(Callback<T> done) {
    return callbacks_.guard(std::move(done));
  }
  // No callback of the Scheduler runs after this returns, and no answer of
  // the executor, elector or store touches the engine any more (one in
  // flight on another thread is waited for): the engine may then outlive
  // its io_context only through handlers queued there.
  void close_callbacks() {
    outside_.close();
    callbacks_.close();
  }

  // ---- public operations (posted to the strand) ------------------------------

  // Runs `f` on the strand; while a new leader recovers, once it has.
  template <typename F>
  void on_strand(F&& f) {
    asio::post(strand_, [self = shared_from_this(), f = std::forward<F>(f)]() mutable {
      if (self->recovering_) {
        self->deferred_.push_back([self, f = std::move(f)]() mutable { f(*self); });
        return;
      }
      f(*self);
      self->flush();
    });
  }

  void create(Topology topology, Callback<TopologyDetails> done);
  void update(Topology topology, Callback<TopologyDetails> done);
  void set_paused(std::string id, bool paused, Callback<TopologyDetails> done);
  void remove(std::string id, bool kill_running, Callback<bool> done);
  void run_now(std::string id, Callback<std::string> done);
  void kill_task(std::string tid, std::string rid, std::string task, Callback<bool> done);
  // Reads answer from the published views when they are ready: the answer
  // is taken now and delivered through the io_context (never inline, never
  // behind the strand's work); while a leader recovers, through the strand.
  template <typename T>
  void answer_later(StatusOr<T> answer, Callback<T> done) {
    asio::post(ioc_, [answer = std::move(answer), done = std::move(done)]() mutable {
      done(std::move(answer));
    });
  }

  void get_topology(std::string id, Callback<TopologyView> done);
  // The engine's store reads (recovery, run now's id check, retention) run
  // as jobs on the reader thread (or options_.store_reads): never on the
  // strand (a read must not hold up fires, nor wait behind them), nor on the
  // io_context (an embedder's may have one thread, the strand's).
  void post_read(std::function<void()> job);

  // Runs `read(store)` on the reader thread, then `then(engine, result)` on
  // the strand, and flushes. The job holds the Store (it outlives the
  // Scheduler) and the engine only weakly: once the engine is gone, `then`
  // is not called. `then` checks the term it was asked in itself.
  template <typename Read, typename Then>
  void read_then(Read read, Then then) {
    std::weak_ptr<Engine> weak = shared_from_this();
    post_read([weak, &store = store_, strand = strand_, read = std::move(read),
               then = std::move(then)]() mutable {
      auto result = std::make_shared<decltype(read(store))>(read(store));
      asio::post(strand, [weak, result, then = std::move(then)]() mutable {
        const auto self = weak.lock();
        if (!self) return;
        then(*self, std::move(*result));
        self->flush();
      });
    });
  }

  void list_topologies(Callback<std::vector<TopologyView>> done);
  void stats(Callback<SchedulerStats> done);
  void sync(Callback<bool> done);

 private:
  // A topology: its spec is shared with the runs started from it.
  struct Topo {
    std::uint64_t handle = 0;
    std::string id;
    TopologyState state = TopologyState::kActive;
    Instant created{}, updated{};
    std::int64_t version = 0;
    std::optional<Instant> last_fire;
    std::shared_ptr<const Topology> spec;
    std::shared_ptr<const CronExpression> cron;  // shared by topologies with the same expression
    TimeZone zone;
    std::optional<Instant> at_time;  // AT trigger
    std::uint64_t gen = 0;           // bumped whenever the fire chain is replaced
    std::optional<Instant> next_fire;
    std::vector<std::uint64_t> live;     // run handles (waiting ones included)
    std::vector<std::uint64_t> waiting;  // live runs whose turn has not come (oldest first)
    bool view_dirty = false;             // changed since its view was last published
  };

  struct TaskCtl {
    int launched_attempt = 0;  // attempt observed in this term
    std::optional<Instant> unknown_since;
    bool timed_out = false;
    bool killed = false;
    bool kill_when_started = false;  // replaced while its launch was in flight
    // This term claimed the in-process attempt (claimed_here), and the
    // claim is durable (claim_durable). Claimed ahead of its time, its
    // launch need not wait; claimed at its launch, the launch waits for the
    // claim, and a kill meanwhile follows the launch (claim_pending()).
    bool claimed_here = false;
    bool claim_durable = false;
    bool claim_pending() const noexcept { return claimed_here && !claim_durable; }
    // The error shown is about the task's state now ("not known yet",
    // "status could not be ascertained"), not what an attempt left: the
    // next report without one clears it.
    bool transient_error = false;
    std::uint64_t timer_gen = 0;
    // A launch built ahead of its time (prepare_ahead), so that the launch
    // itself allocates nothing.
    std::optional<TaskLaunch> prepared;
    TaskObserver prepared_observer;
  };

  struct Run {
    std::uint64_t handle = 0;
    RunRecord rec;
    std::shared_ptr<const Topology> spec;
    std::map<std::string, TaskCtl> ctl;
    // Loaded from the store, and not queued there: an earlier leader may
    // have launched its PENDING tasks.
    bool maybe_launched = false;
    std::string replaced_by;
    bool waiting = false;     // stored, but held back by the overlap policy
    bool long_armed = false;  // its RUN_RUNNING_LONG timer is queued
  };

  // ---- helpers ----------------------------------------------------------------

  static Status not_leader() { return unavailable("this node is not the leader"); }

  // The instant a run stands for: its nominal fire (an instant run: its creation).
  static Instant nominal_of(const RunInfo& run) { return run.scheduled_time.value_or(run.created); }

  static std::string run_key(const std::string& topology_id, const std::string& run_id);

  Instant now() const { return clock_.now(); }

  static TopologyDetails details_of(const Topo& t);
  static TopologyRecord record_of(const Topo& t);

  // What readers see of `t` now (published, or built on the strand while
  // nothing is published yet).
  std::shared_ptr<const Published> published(const Topo& t) const;

  // Parses the trigger of `t.spec` into t.cron / t.zone / t.at_time.
  Status prepare_trigger(Topo& t);

  // Parsed expressions are shared: many topologies use the same few.
  StatusOr<std::shared_ptr<const CronExpression>> parse_cron(const std::string& text);

  // The first nominal fire strictly after `after`.
  std::optional<Instant> next_fire_after(const Topo& t, Instant after) const;

  void push_due(Instant at, DueKind kind, std::uint64_t key, std::uint64_t gen,
                std::string task = {}, Instant nominal = {});

  // Arms the one Clock timer for the earliest entry (unless it already is).
  void arm_timer();
  void schedule_next_fire(Topo& t, Instant after);
  Topo* topo_by_handle(std::uint64_t h);
  Run* run_by_id(const std::string& tid, const std::string& rid);

  // Events go out, in order, once what they describe is durable.
  void emit(Event e);
  void emit_run(const RunInfo& r, std::shared_ptr<const Topology> spec,
                Event::Type type = Event::Type::kRunStateChanged,
                std::optional<std::string> message = std::nullopt);
  void emit_task(const RunInfo& r, const std::string& name, const TaskRunInfo& t);
  void emit_topology(Event::Type type, const TopologyDetails& d);

  // ---- published views ------------------------------------------------------------

  void mark_view(Topo& t);

  // Publishes the views of topologies changed since the last call (and the
  // whole set once after recovery). Views are built outside the lock; the
  // lock is held only to swap pointers.
  void publish_views();

  // ---- the write-ahead pipeline -------------------------------------------------

  void write_topology(Topo& t);

  // The last handled fire is a small record of its own, so that firing
  // never rewrites the topology.
  void write_last_fire(Topo& t, Instant fire);
  void write_run(Run& r);

  // A record that is written once and not kept in memory (SKIPPED, MISSED).
  void write_new_run(const RunInfo& run) { commits_.add_run(run); }

  // Runs `fn` once everything queued so far is durable.
  void after(std::function<void()> fn) { commits_.after(std::move(fn)); }

  // Commits what is queued (unless a commit is in flight); delivers the
  // events and runs the actions once it is durable.
  void flush();
  void deliver(std::vector<Event> events, std::vector<std::function<void()>> actions);

  // The store refused a commit or could not be read: the in-memory state can
  // no longer be trusted. Step down and, while still the elected leader,
  // reload from the store a second later.
  void on_store_failure(const Status&);

  // ---- leadership ----------------------------------------------------------------

  // Recovery reads the store on the reader thread, not the strand (a large
  // store takes a while to read); operations that arrive meanwhile wait for
  // it (on_strand), and no timer is armed before it is done. A commit of
  // an earlier term still out is waited for first: the read must see what
  // it wrote (a ZooKeeper leader re-elected after a disconnection keeps its
  // node, hence its fencing token, so that commit can still apply).
  void on_elected();
  void read_stored_state();

  struct Stored {
    StatusOr<std::vector<TopologyRecord>> topologies = std::vector<TopologyRecord>{};
    StatusOr<std::vector<RunRecord>> live = std::vector<RunRecord>{};
  };

  void recovered(Stored stored);

  // The operations that waited for recovery, in the order they came.
  void run_deferred();
  void on_revoked();
  Topo& add_topology(TopologyRecord rec);
  Run& add_run(Topo* t, RunRecord rec, std::shared_ptr<const Topology> spec);
  void recover(std::vector<TopologyRecord> topologies, std::vector<RunRecord> live);

  // Fires between the last handled fire and now, by the catch-up policy.
  void catch_up(Topo& t, Instant t_now);

  // Queues a scheduled run behind the live ones (catch-up, recovery): it
  // goes when the overlap policy lets it (release_waiting), or, if its turn
  // has not come by its fire + the catch-up window (or the start deadline,
  // when sooner), it ends MISSED: no run waits without bound. A run nothing
  // launched is recorded `queued` (RunInfo) until it goes, so that a later
  // leader knows none of its tasks ran.
  void hold(Topo& t, Run& r);

  // Ends a waiting run that never got its turn, as `state` (MISSED,
  // SKIPPED). One whose task may have been launched by an earlier leader
  // (recovered, not queued, with a task still PENDING) fails instead, and
  // that task is killed in case it exists. A run with a task that started is
  // left to go.
  void expire_waiting(Run& r, RunState state, const std::string& why);

  // No task of the run ever started: every task PENDING, first attempt.
  static bool nothing_started(const RunInfo& run);

  // A recovered run's PENDING tasks may have been launched by the previous
  // leader: kill them in case they exist.
  void kill_in_case(const Run& r);

  // Lets waiting runs go while the overlap policy allows, oldest first.
  void release_waiting(Topo& t);

  // The live runs of `t` as the overlap policy sees them.
  std::vector<engine::LiveRun> live_runs(const Topo& t) const;

  // ---- timers --------------------------------------------------------------------

  void on_timer();
  void dispatch(Due& d);

  // A fire comes due: fire_verdict (policy.h) decides, this does it.
  void on_fire(Topo& t, Instant nominal);

  // A SKIPPED or MISSED record for a nominal fire that does not run.
  // A new run record of `t` with one PENDING entry per leaf task.
  // A new run record of `t` with one PENDING entry per leaf task; the first
  // leaf waits for `first_not_before` when given.
  RunInfo new_run(const Topo& t, RunType type, Instant nominal, std::string run_id, RunState state,
                  Instant t_now, std::optional<Instant> first_not_before = std::nullopt) const;

  void record_not_run(Topo& t, Instant nominal, RunState state, const std::string& reason);

  // ---- runs --------------------------------------------------------------------------

  // Stores a new RUNNING run (tasks PENDING) and, once stored, launches its
  // first task — unless `hold`, when the caller queues it. Returns its handle.
  std::uint64_t start_run(Topo& t, RunType type, Instant nominal, std::string run_id,
                          bool hold = false);

  // Launches, waits or finishes, as the tree says.
  void advance(Run& r);
  TaskLaunch make_launch(const Run& r, const Task& leaf, const TaskRunInfo& ti) const;
  TaskObserver make_observer(const Run& r, const std::string& name, int attempt);
  void launch(Run& r, const Task& leaf, const TaskRunInfo& ti, TaskCtl& ctl);

  void on_task_update(std::uint64_t handle, const std::string& name, int attempt,
                      const TaskUpdate& u);

  // Queues the run's RUN_RUNNING_LONG for running_long_after past its
  // start, once per term (a new leader queues it again from the stored
  // start, unless the record says it went out).
  void arm_running_long(Run& r);
  void on_running_long(std::uint64_t handle);

  // The current attempt of task `name` is terminal: retry it, or move on.
  void finish_attempt(Run& r, const std::string& name, RetryOn outcome);
  void on_run_timer(const Due& d);
  void touch(Run& r);

  // Asks the executor to kill `task_id` once the strand is free; the
  // outcome arrives as a task update.
  void kill_soon(const std::string& task_id);
  // Claims the in-process attempt of task `name` (see launch()): in the
  // record written next, durable with the next commit.
  void claim(Run& r, const std::string& name);
  void replace_run(Run& r, const std::string& by);

  // Ends a run: its state follows `result` (or is `state` when given).
  void finish_run(Run& r, TaskState result, const std::string& why,
                  std::optional<RunState> state = std::nullopt);

  // ---- operations ------------------------------------------------------------------

  void do_create(Topology topology, Callback<TopologyDetails> done);
  void do_update(Topology topology, Callback<TopologyDetails> done);
  void do_set_paused(const std::string& id, bool paused, Callback<TopologyDetails> done);
  void do_remove(const std::string& id, bool kill_running, Callback<bool> done);

  // An instant run's id comes from its instant, made unique: by a
  // millisecond more while a live run has it, or a stored one (an earlier
  // leader's, or a finished run's) — the store is asked on the reader
  // thread, and the strand then starts the run at the first instant free in
  // both (`checked`: an instant the store does not know).
  void do_run_now(const std::string& id, Callback<std::string> done,
                  std::optional<Instant> checked = std::nullopt);

  void do_kill_task(const std::string& tid, const std::string& rid, const std::string& name,
                    Callback<bool> done);

  // ---- retention -------------------------------------------------------------------

  // Retention: the finished runs of every topology are read on the reader
  // thread (not the strand); the strand then deletes those the policy drops
  // and cleans up their tasks in the executor.
  struct Dropped {
    std::string topology_id, run_id;
    std::vector<std::string> task_ids;  // tasks the executor knows
  };

  void prune();
  void drop_runs(std::vector<Dropped> dropped);

  // ---- state ------------------------------------------------------------------------

  asio::io_context& ioc_;
  asio::strand<asio::io_context::executor_type> strand_;
  Store& store_;
  Executor& executor_;
  LeaderElector& elector_;
  Clock& clock_;
  EventSink& events_;
  const SchedulerOptions options_;
  CronOptions cron_options_;
  TimeZone default_zone_;
  std::mt19937_64 rng_;

  std::unique_ptr<Timer> timer_;
  std::optional<std::int64_t> armed_;
  bool in_timer_ = false;
  // Timer entries by instant (ms): the many fires of one second sit together.
  engine::TimerQueue timers_;
  bool pruning_ = false;  // a retention pass is reading on the reader thread

  std::atomic<bool> started_{false};
  std::unique_ptr<Timer> retry_timer_;
  bool leader_ = false;
  bool recovering_ = false;                      // elected; the store is being read
  bool recovery_after_commit_ = false;           // the read waits for a commit still out
  std::vector<std::function<void()>> deferred_;  // operations waiting for recovery
  bool stopped_ = false;
  std::atomic<bool> leader_flag_{false};
  std::uint64_t term_ = 0;
  std::uint64_t next_handle_ = 0;

  std::map<std::string, std::unique_ptr<Topo>> topologies_;
  std::vector<std::string> view_dirty_;  // ids whose published view is stale
  engine::Views views_;
  bool views_published_ = false;  // by this term
  std::unordered_map<std::uint64_t, Topo*> topo_handles_;
  std::unordered_map<std::uint64_t, Run> runs_;
  std::unordered_map<std::string, std::uint64_t> run_index_;  // "topology/run"
  std::unordered_map<std::string, std::weak_ptr<const CronExpression>> cron_cache_;

  engine::CommitQueue commits_{options_.max_batch_ops};
  Lifeline callbacks_;  // guards every callback given to a public method
  // Guards the callbacks given to the executor, elector and store, which run
  // on their threads: closed by ~Scheduler, so that none of them holds the
  // engine (and posts to its strand) after the Scheduler is gone.
  Lifeline outside_;
  // The blocking store reads, unless options_.store_reads takes them.
  std::unique_ptr<asio::thread_pool> reader_ =
      options_.store_reads ? nullptr : std::make_unique<asio::thread_pool>(1);
};

}  // namespace epoch::engine
