// The engine: one strand, one timer queue, and a write-ahead discipline.
//
// Every handler on the strand mutates the in-memory state, queues the store
// writes that make it durable and the actions that follow from it (launch,
// kill, events, replies), then calls flush(). flush() commits queued writes
// as one batch — only one commit is in flight at a time, so a burst of work
// rides in one batch — and runs the actions only once their batch is
// durable. Writes to one record within a batch are merged. After a crash the
// store therefore never lacks a record whose action happened: a launched
// task always has its run stored first.
//
// The parts: policy.h (pure rules: overlap, catch-up, deadlines, retention),
// run_machine.h (pure: a run's task tree), timer_queue.h (the timers; one
// Clock timer is armed for the earliest), and this shell, which owns the
// strand and the state and does what the parts decide.
#include "epoch/scheduler.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <future>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include "../support/lifeline.h"
#include "commit_queue.h"
#include "epoch/cron.h"
#include "policy.h"
#include "run_machine.h"
#include "timer_queue.h"
#include "views.h"

namespace epoch {

namespace asio = boost::asio;
using engine::catch_up_of;
using engine::describe_ms;
using engine::overlap_of;
using engine::retry_of;
using engine::run_message;
using Verdict = engine::OverlapVerdict::Kind;
using engine::Due;
using engine::DueKind;
using engine::Published;
using std::chrono::milliseconds;

namespace {}  // namespace

class Scheduler::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& ioc, Store& store, Executor& executor, LeaderElector& elector,
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

  void start() {
    if (started_.exchange(true)) return;
    timer_ = clock_.make_timer(ioc_);
    retry_timer_ = clock_.make_timer(ioc_);
    std::weak_ptr<Impl> weak = shared_from_this();
    elector_.start(
        [weak] {
          if (auto self = weak.lock()) asio::post(self->strand_, [self] { self->on_elected(); });
        },
        [weak] {
          if (auto self = weak.lock()) asio::post(self->strand_, [self] { self->on_revoked(); });
        });
  }

  void stop() {
    if (!started_.exchange(false)) return;
    elector_.stop();
    if (strand_.running_in_this_thread()) {
      shutdown();
      stop_reader();
      return;
    }
    std::promise<void> done;
    auto finished = done.get_future();
    asio::post(strand_, [self = shared_from_this(), &done] {
      self->shutdown();
      done.set_value();
    });
    // Wait for the strand; if nobody runs the io_context, run it here.
    while (finished.wait_for(milliseconds(1)) != std::future_status::ready) {
      if (ioc_.stopped()) ioc_.restart();
      ioc_.poll_one();
    }
    stop_reader();
  }

  // Reads queued and not begun are dropped; one in progress is waited for
  // (its answer goes nowhere: the jobs hold the Impl only weakly).
  void stop_reader() {
    if (!reader_) return;
    reader_->stop();
    reader_->join();
  }

  void shutdown() {
    stopped_ = true;
    on_revoked();
    if (timer_) timer_->cancel();
    if (retry_timer_) retry_timer_->cancel();
  }

  bool is_leader() const { return leader_flag_.load(); }

  // A callback given to a public method, made safe to outlive the
  // Scheduler: after close_callbacks() it is never called.
  template <typename T>
  Callback<T> guarded(Callback<T> done) {
    return callbacks_.guard(std::move(done));
  }
  void close_callbacks() { callbacks_.close(); }

  // ---- public operations (posted to the strand) ------------------------------

  template <typename F>
  void on_strand(F&& f) {
    asio::post(strand_, [self = shared_from_this(), f = std::forward<F>(f)]() mutable {
      f(*self);
      self->flush();
    });
  }

  void create(Topology topology, Callback<TopologyDetails> done) {
    on_strand([topology = std::move(topology), done = std::move(done)](Impl& self) mutable {
      self.do_create(std::move(topology), std::move(done));
    });
  }
  void update(Topology topology, Callback<TopologyDetails> done) {
    on_strand([topology = std::move(topology), done = std::move(done)](Impl& self) mutable {
      self.do_update(std::move(topology), std::move(done));
    });
  }
  void set_paused(std::string id, bool paused, Callback<TopologyDetails> done) {
    on_strand([id = std::move(id), paused, done = std::move(done)](Impl& self) mutable {
      self.do_set_paused(id, paused, std::move(done));
    });
  }
  void remove(std::string id, bool kill_running, Callback<bool> done) {
    on_strand([id = std::move(id), kill_running, done = std::move(done)](Impl& self) mutable {
      self.do_remove(id, kill_running, std::move(done));
    });
  }
  void run_now(std::string id, Callback<std::string> done) {
    on_strand([id = std::move(id), done = std::move(done)](Impl& self) mutable {
      self.do_run_now(id, std::move(done));
    });
  }
  void kill_task(std::string tid, std::string rid, std::string task, Callback<bool> done) {
    on_strand([tid = std::move(tid), rid = std::move(rid), task = std::move(task),
               done = std::move(done)](Impl& self) mutable {
      self.do_kill_task(tid, rid, task, std::move(done));
    });
  }
  // Reads answer from the published views when they are ready: the answer
  // is taken now and delivered through the io_context (never inline, never
  // behind the strand's work); while a leader recovers, through the strand.
  template <typename T>
  void answer_later(StatusOr<T> answer, Callback<T> done) {
    asio::post(ioc_, [answer = std::move(answer), done = std::move(done)]() mutable {
      done(std::move(answer));
    });
  }

  void get_topology(std::string id, Callback<TopologyView> done) {
    if (const auto found = views_.find(id); found.ready) {
      // The view is built here, outside the views' lock.
      return answer_later<TopologyView>(found.view ? StatusOr<TopologyView>(found.view->view())
                                                   : not_found("No such topology: " + id),
                                        std::move(done));
    }
    on_strand([id = std::move(id), done = std::move(done)](Impl& self) mutable {
      if (!self.leader_) return done(self.not_leader());
      const auto it = self.topologies_.find(id);
      if (it == self.topologies_.end()) return done(not_found("No such topology: " + id));
      done(self.published(*it->second)->view());
    });
  }
  // Runs are read from the store, as the API reads them, on the reader
  // thread: never on the strand (a read must not hold up fires, nor wait
  // behind them), nor on the io_context (an embedder's may have one thread,
  // the strand's). The store holds every run whose actions have happened.
  // The answer is delivered on an io_context thread.
  void post_read(std::function<void()> job) {
    if (options_.store_reads) return options_.store_reads(std::move(job));
    asio::post(*reader_, std::move(job));
  }

  template <typename T, typename Read>
  void read_store(Callback<T> done, Read read) {
    if (!is_leader()) return answer_later<T>(not_leader(), std::move(done));
    std::weak_ptr<Impl> weak = shared_from_this();
    // The job holds the Store (it outlives the Scheduler), never the Impl:
    // the Impl joins the reader thread when it goes.
    post_read([weak, &store = store_, &ioc = ioc_, read = std::move(read),
               done = std::move(done)]() mutable {
      StatusOr<T> answer = read(store);
      asio::post(ioc, [weak, answer = std::move(answer), done = std::move(done)]() mutable {
        if (weak.lock()) done(std::move(answer));
      });
    });
  }
  void get_run(std::string tid, std::string rid, Callback<RunInfo> done) {
    read_store<RunInfo>(
        std::move(done),
        [tid = std::move(tid), rid = std::move(rid)](Store& store) -> StatusOr<RunInfo> {
          EPOCH_ASSIGN_OR_RETURN(auto r, store.load_run(tid, rid));
          if (!r) return not_found("Not run exists for " + tid + "/" + rid);
          return std::move(r->run);
        });
  }
  void list_runs(std::string tid, RunQuery query, Callback<std::vector<RunInfo>> done) {
    read_store<std::vector<RunInfo>>(
        std::move(done),
        [tid = std::move(tid),
         query = std::move(query)](Store& store) -> StatusOr<std::vector<RunInfo>> {
          EPOCH_ASSIGN_OR_RETURN(auto runs, store.load_runs(tid, query));
          std::vector<RunInfo> out;
          out.reserve(runs.size());
          for (RunRecord& r : runs)
            out.push_back(std::move(r.run));
          return out;
        });
  }
  void list_topologies(Callback<std::vector<TopologyView>> done) {
    if (auto all = views_.all()) {
      return answer_later<std::vector<TopologyView>>(std::move(*all), std::move(done));
    }
    on_strand([done = std::move(done)](Impl& self) mutable {
      if (!self.leader_) return done(self.not_leader());
      std::vector<TopologyView> out;
      out.reserve(self.topologies_.size());
      for (const auto& [id, t] : self.topologies_)
        out.push_back(self.published(*t)->view());
      done(std::move(out));
    });
  }

  void stats(Callback<SchedulerStats> done) {
    on_strand([done = std::move(done)](Impl& self) mutable {
      SchedulerStats s;
      s.leader = self.leader_;
      if (self.leader_) {
        for (const auto& [id, t] : self.topologies_)
          ++(t->state == TopologyState::kPaused ? s.topologies_paused : s.topologies_active);
        s.runs_live = self.runs_.size();
      }
      done(std::move(s));
    });
  }

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
    bool recovered = false;  // loaded from the store by this term, not created by it
    std::string replaced_by;
    bool waiting = false;     // stored, but held back by the overlap policy
    bool long_armed = false;  // its RUN_RUNNING_LONG timer is queued
  };

  // ---- helpers ----------------------------------------------------------------

  static Status not_leader() { return unavailable("this node is not the leader"); }

  // The instant a run stands for: its nominal fire (an instant run: its creation).
  static Instant nominal_of(const RunInfo& run) { return run.scheduled_time.value_or(run.created); }

  static std::string run_key(const std::string& topology_id, const std::string& run_id) {
    std::string k;
    k.reserve(topology_id.size() + run_id.size() + 1);
    k.append(topology_id).append(1, '/').append(run_id);
    return k;
  }

  Instant now() const { return clock_.now(); }

  static TopologyDetails details_of(const Topo& t) {
    TopologyDetails d;
    d.id = t.id;
    d.topology = *t.spec;
    d.state = t.state;
    d.created = t.created;
    d.updated = t.updated;
    return d;
  }

  static TopologyRecord record_of(const Topo& t) {
    TopologyRecord r;
    r.details = details_of(t);
    r.last_fire = t.last_fire;
    r.version = t.version;
    return r;
  }

  // What readers see of `t` now (published, or built on the strand while
  // nothing is published yet).
  std::shared_ptr<const Published> published(const Topo& t) const {
    auto p = std::make_shared<Published>();
    p->id = t.id;
    p->spec = t.spec;
    p->state = t.state;
    p->created = t.created;
    p->updated = t.updated;
    p->next_fire = t.next_fire;
    p->last_fire = t.last_fire;
    p->live_runs.reserve(t.live.size());
    for (std::uint64_t h : t.live) {
      if (const auto r = runs_.find(h); r != runs_.end())
        p->live_runs.push_back(r->second.rec.run.run_id);
    }
    return p;
  }

  // Parses the trigger of `t.spec` into t.cron / t.zone / t.at_time.
  Status prepare_trigger(Topo& t) {
    t.cron.reset();
    t.at_time.reset();
    if (const auto* c = std::get_if<CronTrigger>(&t.spec->trigger)) {
      EPOCH_ASSIGN_OR_RETURN(t.cron, parse_cron(c->time_spec));
      if (c->time_zone) {
        EPOCH_ASSIGN_OR_RETURN(t.zone, TimeZone::locate(*c->time_zone));
      } else {
        t.zone = default_zone_;
      }
    } else {
      t.at_time = std::get<AtTrigger>(t.spec->trigger).time;
    }
    return ok_status();
  }

  // Parsed expressions are shared: many topologies use the same few.
  StatusOr<std::shared_ptr<const CronExpression>> parse_cron(const std::string& text) {
    auto& slot = cron_cache_[text];
    if (auto shared = slot.lock()) return shared;
    EPOCH_ASSIGN_OR_RETURN(auto parsed, CronExpression::parse(text, cron_options_));
    auto shared = std::make_shared<const CronExpression>(std::move(parsed));
    slot = shared;
    return shared;
  }

  // The first nominal fire strictly after `after`.
  std::optional<Instant> next_fire_after(const Topo& t, Instant after) const {
    if (t.cron) return t.cron->next_after(after, t.zone);
    if (t.at_time && *t.at_time > after) return *t.at_time;
    return std::nullopt;
  }

  void push_due(Instant at, DueKind kind, std::uint64_t key, std::uint64_t gen,
                std::string task = {}, Instant nominal = {}) {
    const std::int64_t ms = to_epoch_millis(at);
    timers_.push(Due{ms, kind, key, gen, std::move(task), to_epoch_millis(nominal)});
    if (!in_timer_ && (!armed_ || ms < *armed_)) arm_timer();
  }

  // Arms the one Clock timer for the earliest entry (unless it already is).
  void arm_timer() {
    const auto earliest = timers_.earliest();
    if (!earliest || !leader_) return;
    const std::int64_t at = *earliest;
    if (armed_ && *armed_ == at) return;
    armed_ = at;
    std::weak_ptr<Impl> weak = shared_from_this();
    const std::uint64_t term = term_;
    timer_->arm(from_epoch_millis(at), [weak, term] {
      if (auto self = weak.lock()) {
        asio::post(self->strand_, [self, term] {
          if (self->term_ != term) return;
          self->armed_.reset();
          self->on_timer();
          self->flush();
        });
      }
    });
  }

  void schedule_next_fire(Topo& t, Instant after) {
    t.next_fire = next_fire_after(t, after);
    mark_view(t);
    // A fire is handled up to prepare_ahead before its nominal instant: the
    // run is stored then, and its first task launches at the nominal instant.
    if (t.next_fire) {
      push_due(*t.next_fire - options_.prepare_ahead, DueKind::kFire, t.handle, t.gen, {},
               *t.next_fire);
    }
  }

  bool stored_run_exists(const std::string& tid, const std::string& rid) {
    // An unreadable store answers "no": the commit's create-only write
    // catches a real collision then.
    const auto r = store_.load_run(tid, rid);
    return r.ok() && r->has_value();
  }

  Topo* topo_by_handle(std::uint64_t h) {
    const auto it = topo_handles_.find(h);
    return it == topo_handles_.end() ? nullptr : it->second;
  }

  Run* run_by_id(const std::string& tid, const std::string& rid) {
    const auto it = run_index_.find(run_key(tid, rid));
    if (it == run_index_.end()) return nullptr;
    const auto r = runs_.find(it->second);
    return r == runs_.end() ? nullptr : &r->second;
  }

  // Events go out, in order, once what they describe is durable.
  void emit(Event e) {
    e.time = now();
    commits_.emit(std::move(e));
  }

  void emit_run(const RunInfo& r, std::shared_ptr<const Topology> spec) {
    Event e;
    e.topology = std::move(spec);
    e.run = std::make_shared<const RunInfo>(r);
    e.type = Event::Type::kRunStateChanged;
    e.topology_id = r.topology_id;
    e.run_id = r.run_id;
    e.run_type = r.run_type;
    e.run_state = r.state;
    e.scheduled_time = r.scheduled_time;
    e.message = r.reason.value_or("");
    emit(std::move(e));
  }

  void emit_task(const RunInfo& r, const std::string& name, const TaskRunInfo& t) {
    Event e;
    e.type = Event::Type::kTaskStateChanged;
    e.topology_id = r.topology_id;
    e.run_id = r.run_id;
    e.run_type = r.run_type;
    e.task_name = name;
    e.task_state = t.state;
    e.message = t.error_message;
    emit(std::move(e));
  }

  void emit_topology(Event::Type type, const TopologyDetails& d) {
    Event e;
    e.type = type;
    e.topology_id = d.id;
    e.topology_state = d.state;
    emit(std::move(e));
  }

  // ---- published views ------------------------------------------------------------

  void mark_view(Topo& t) {
    if (t.view_dirty) return;
    t.view_dirty = true;
    view_dirty_.push_back(t.id);
  }

  // Publishes the views of topologies changed since the last call (and the
  // whole set once after recovery). Views are built outside the lock; the
  // lock is held only to swap pointers.
  void publish_views() {
    if (!leader_ || (view_dirty_.empty() && views_published_)) return;
    std::vector<engine::Views::Change> changes;
    changes.reserve(view_dirty_.size());
    for (std::string& id : view_dirty_) {
      const auto it = topologies_.find(id);
      if (it == topologies_.end()) {
        changes.emplace_back(std::move(id), nullptr);
        continue;
      }
      Topo& t = *it->second;
      if (!t.view_dirty) continue;  // listed twice (deleted and created again)
      t.view_dirty = false;
      changes.emplace_back(std::move(id), published(t));
    }
    view_dirty_.clear();
    views_.publish(std::move(changes));
    views_published_ = true;
  }

  // ---- the write-ahead pipeline -------------------------------------------------

  void write_topology(Topo& t) {
    mark_view(t);
    if (commits_.put_topology(record_of(t), t.version)) ++t.version;
  }

  // The last handled fire is a small record of its own, so that firing
  // never rewrites the topology.
  void write_last_fire(Topo& t, Instant fire) {
    t.last_fire = fire;
    mark_view(t);
    commits_.set_last_fire(t.id, fire);
  }

  void write_run(Run& r) {
    if (commits_.put_run(r.rec.run, r.rec.version)) ++r.rec.version;
  }

  // A record that is written once and not kept in memory (SKIPPED, MISSED).
  void write_new_run(const RunInfo& run) { commits_.add_run(run); }

  // Runs `fn` once everything queued so far is durable.
  void after(std::function<void()> fn) { commits_.after(std::move(fn)); }

  // Commits what is queued (unless a commit is in flight); delivers the
  // events and runs the actions once it is durable.
  void flush() {
    publish_views();
    if (!leader_) return;
    auto step = commits_.take();
    if (!step) return;
    if (step->batch.empty()) {
      deliver(std::move(step->events), std::move(step->actions));
      return;
    }
    step->batch.fence = elector_.fencing_token();
    const std::uint64_t term = term_;
    std::weak_ptr<Impl> weak = shared_from_this();
    store_.commit(
        std::move(step->batch), [weak, term, events = std::move(step->events),
                                 actions = std::move(step->actions)](CommitResult r) mutable {
          auto self = weak.lock();
          if (!self) return;
          asio::post(self->strand_, [self, term, r = std::move(r), events = std::move(events),
                                     actions = std::move(actions)]() mutable {
            self->commits_.committed();
            if (self->term_ != term || !self->leader_) return;
            if (!r.ok()) {
              self->on_store_failure(r.status());
              return;
            }
            self->deliver(std::move(events), std::move(actions));
            self->flush();
          });
        });
  }

  void deliver(std::vector<Event> events, std::vector<std::function<void()>> actions) {
    for (const Event& e : events)
      events_.on_event(e);
    for (auto& a : actions)
      a();
  }

  // The store refused a commit or could not be read: the in-memory state can
  // no longer be trusted. Step down and, while still the elected leader,
  // reload from the store a second later.
  void on_store_failure(const Status&) {
    const bool still_leader = elector_.is_leader();
    on_revoked();
    if (still_leader && !stopped_) {
      std::weak_ptr<Impl> weak = shared_from_this();
      retry_timer_->arm(now() + milliseconds(1000), [weak] {
        if (auto self = weak.lock()) {
          asio::post(self->strand_, [self] {
            if (!self->leader_ && !self->stopped_ && self->elector_.is_leader()) self->on_elected();
          });
        }
      });
    }
  }

  // ---- leadership ----------------------------------------------------------------

  void on_elected() {
    if (stopped_ || leader_) return;
    ++term_;
    leader_ = true;
    leader_flag_ = true;
    if (const Status s = recover(); !s.ok()) {
      on_store_failure(s);
      return;
    }
    arm_timer();
    flush();
  }

  void on_revoked() {
    if (!leader_) return;
    ++term_;
    leader_ = false;
    leader_flag_ = false;
    if (timer_) timer_->cancel();
    armed_.reset();
    timers_.clear();
    for (auto& [h, r] : runs_) {
      for (auto& [name, ctl] : r.ctl) {
        if (ctl.launched_attempt != 0) {
          const auto it = r.rec.run.tasks.find(name);
          if (it != r.rec.run.tasks.end()) executor_.detach(it->second.task_id);
        }
      }
    }
    topologies_.clear();
    topo_handles_.clear();
    view_dirty_.clear();
    views_.withdraw();
    views_published_ = false;
    runs_.clear();
    run_index_.clear();
    commits_.clear();
  }

  Topo& add_topology(TopologyRecord rec) {
    auto t = std::make_unique<Topo>();
    t->handle = ++next_handle_;
    t->id = rec.details.id;
    t->state = rec.details.state;
    t->created = rec.details.created;
    t->updated = rec.details.updated;
    t->version = rec.version;
    t->last_fire = rec.last_fire;
    t->spec = std::make_shared<const Topology>(std::move(rec.details.topology));
    Topo& ref = *t;
    mark_view(ref);
    topo_handles_[ref.handle] = &ref;
    topologies_[ref.id] = std::move(t);
    return ref;
  }

  Run& add_run(Topo* t, RunRecord rec, std::shared_ptr<const Topology> spec) {
    const std::uint64_t h = ++next_handle_;
    Run& r = runs_[h];
    r.handle = h;
    r.rec = std::move(rec);
    r.spec = std::move(spec);
    run_index_[run_key(r.rec.run.topology_id, r.rec.run.run_id)] = h;
    if (t != nullptr) {
      t->live.push_back(h);
      mark_view(*t);
    }
    return r;
  }

  Status recover() {
    EPOCH_ASSIGN_OR_RETURN(auto topologies, store_.load_topologies());
    EPOCH_ASSIGN_OR_RETURN(auto live, store_.load_live_runs());
    const Instant t_now = now();
    for (TopologyRecord& rec : topologies) {
      Topo& t = add_topology(std::move(rec));
      if (!prepare_trigger(t).ok()) continue;  // kept and listed, never fired
    }
    // Oldest first, so that a policy letting one run go at a time lets the
    // oldest go and queues the others behind it.
    std::sort(live.begin(), live.end(), [](const RunRecord& a, const RunRecord& b) {
      return nominal_of(a.run) < nominal_of(b.run);
    });
    std::vector<std::uint64_t> resume;
    for (RunRecord& rec : live) {
      const auto it = topologies_.find(rec.run.topology_id);
      if (it == topologies_.end()) {
        // Its topology is gone: close the record.
        Run& r = add_run(nullptr, std::move(rec), nullptr);
        finish_run(r, TaskState::kFailed, "topology was deleted");
        continue;
      }
      Topo& t = *it->second;
      Run& r = add_run(&t, std::move(rec), t.spec);
      r.recovered = true;
      if (r.rec.run.run_type == RunType::kScheduled) {
        hold(t, r);
      } else {
        resume.push_back(r.handle);
      }
    }
    for (auto& [id, t] : topologies_) {
      if (t->cron || t->at_time) catch_up(*t, t_now);
      release_waiting(*t);
    }
    for (std::uint64_t h : resume) {
      if (auto it = runs_.find(h); it != runs_.end()) advance(it->second);
    }
    if (options_.retention_interval.count() > 0) {
      push_due(t_now + options_.retention_interval, DueKind::kRetention, 0, 0);
    }
    return ok_status();
  }

  // Fires between the last handled fire and now, by the catch-up policy.
  void catch_up(Topo& t, Instant t_now) {
    const Instant from = t.last_fire.value_or(t.created - milliseconds(1));
    std::vector<Instant> missed;
    constexpr std::size_t kMaxRecorded = 100000;
    std::optional<Instant> f = next_fire_after(t, from);
    while (f && *f <= t_now && missed.size() < kMaxRecorded) {
      missed.push_back(*f);
      f = next_fire_after(t, *f);
    }
    if (!missed.empty()) {
      for (const engine::FireDecision& d : engine::plan_catch_up(
               catch_up_of(*t.spec), t.state == TopologyState::kPaused, missed, t_now)) {
        if (!d.run) {
          record_not_run(t, d.nominal, d.state, d.reason);
          continue;
        }
        Run& r = runs_.at(start_run(t, RunType::kScheduled, d.nominal,
                                    make_run_id(RunType::kScheduled, d.nominal), /*hold=*/true));
        hold(t, r);
      }
      // Pathological gaps (a topology firing every second for weeks): past
      // kMaxRecorded the fires are not recorded one by one; scheduling
      // resumes from now.
      write_last_fire(t, missed.size() == kMaxRecorded && f && *f <= t_now ? t_now : missed.back());
    }
    schedule_next_fire(t, std::max(t.last_fire.value_or(from), t_now));
  }

  // Queues a scheduled run behind the live ones (catch-up, recovery): it
  // goes when the overlap policy lets it (release_waiting), or, if its turn
  // has not come by its fire + the catch-up window (or the start deadline,
  // when sooner), it ends MISSED: no run waits without bound.
  void hold(Topo& t, Run& r) {
    r.waiting = true;
    t.waiting.push_back(r.handle);
    const Instant expiry = saturating_add(nominal_of(r.rec.run), engine::max_queued_wait(*t.spec));
    push_due(std::max(expiry, now()), DueKind::kWaitExpiry, r.handle, 0);
  }

  // Ends a waiting run that never got its turn, as `state` (MISSED,
  // SKIPPED). One whose task may have been launched by an earlier leader
  // (recovered with a task still PENDING) fails instead, and that task is
  // killed in case it exists. A run with a task that started is left to go.
  void expire_waiting(Run& r, RunState state, const std::string& why) {
    if (!nothing_started(r.rec.run)) return;
    if (const auto it = topologies_.find(r.rec.run.topology_id); it != topologies_.end()) {
      std::erase(it->second->waiting, r.handle);
    }
    r.waiting = false;
    if (!r.recovered) {
      finish_run(r, TaskState::kCancelled, why, state);
      return;
    }
    kill_in_case(r);
    finish_run(r, TaskState::kCancelled,
               why + "; its task is killed in case an earlier leader launched it");
  }

  // No task of the run ever started: every task PENDING, first attempt.
  static bool nothing_started(const RunInfo& run) {
    return std::all_of(run.tasks.begin(), run.tasks.end(), [](const auto& kv) {
      return kv.second.state == TaskState::kPending && !kv.second.started && kv.second.attempt == 1;
    });
  }

  // A recovered run's PENDING tasks may have been launched by the previous
  // leader: kill them in case they exist.
  void kill_in_case(const Run& r) {
    for (const auto& [name, ti] : r.rec.run.tasks) {
      if (ti.state == TaskState::kPending) kill_soon(ti.task_id);
    }
  }

  // Lets waiting runs go while the overlap policy allows, oldest first.
  void release_waiting(Topo& t) {
    while (!t.waiting.empty()) {
      if (engine::overlap_verdict(overlap_of(*t.spec), live_runs(t), RunType::kScheduled,
                                  /*count_waiting=*/false)
              .kind == Verdict::kRefuse) {
        return;
      }
      const std::uint64_t h = t.waiting.front();
      t.waiting.erase(t.waiting.begin());
      const auto it = runs_.find(h);
      if (it == runs_.end()) continue;
      it->second.waiting = false;
      after([this, h] {
        if (auto r = runs_.find(h); r != runs_.end()) advance(r->second);
      });
    }
  }

  // The live runs of `t` as the overlap policy sees them.
  std::vector<engine::LiveRun> live_runs(const Topo& t) const {
    std::vector<engine::LiveRun> out;
    out.reserve(t.live.size());
    for (std::uint64_t h : t.live) {
      const auto it = runs_.find(h);
      if (it == runs_.end()) continue;
      const Run& r = it->second;
      out.push_back({r.rec.run.run_id, r.rec.run.run_type == RunType::kScheduled, r.waiting});
    }
    return out;
  }

  // ---- timers --------------------------------------------------------------------

  void on_timer() {
    in_timer_ = true;  // arm once, at the end
    const std::int64_t t_now = to_epoch_millis(now());
    timers_.take_due(t_now, [this](Due& d) { dispatch(d); });
    in_timer_ = false;
    arm_timer();
  }

  void dispatch(Due& d) {
    switch (d.kind) {
      case DueKind::kFire:
        if (Topo* t = topo_by_handle(d.key); t != nullptr && t->gen == d.gen) {
          on_fire(*t, from_epoch_millis(d.nominal));
        }
        break;
      case DueKind::kRetry:
      case DueKind::kTaskTimeout:
      case DueKind::kUnknownTimeout:
        on_run_timer(d);
        break;
      case DueKind::kRunningLong:
        on_running_long(d.key);
        break;
      case DueKind::kWaitExpiry:
        if (auto it = runs_.find(d.key); it != runs_.end() && it->second.waiting) {
          const Instant nominal = nominal_of(it->second.rec.run);
          expire_waiting(
              it->second, RunState::kMissed,
              "its turn did not come within " +
                  describe_ms(std::chrono::duration_cast<milliseconds>(now() - nominal)) +
                  " of its fire (the catch-up window, or the start deadline): "
                  "earlier runs of the topology were still going");
        }
        break;
      case DueKind::kRetention:
        prune();
        if (options_.retention_interval.count() > 0) {
          push_due(now() + options_.retention_interval, DueKind::kRetention, 0, 0);
        }
        break;
    }
  }

  // Whether the fire at `nominal` would not run now only because of what is
  // true ahead of its instant (a live run that may still end, a pause that
  // may still be lifted): such a fire is decided again at its instant.
  bool defer_fire(const Topo& t, Instant nominal, Instant t_now) const {
    if (t_now >= nominal) return false;
    if (t.state == TopologyState::kPaused) return true;
    return engine::overlap_verdict(overlap_of(*t.spec), live_runs(t), RunType::kScheduled).kind ==
           Verdict::kRefuse;
  }

  void on_fire(Topo& t, Instant nominal) {
    const Instant t_now = now();
    if (defer_fire(t, nominal, t_now)) {
      push_due(nominal, DueKind::kFire, t.handle, t.gen, {}, nominal);
      return;
    }
    write_last_fire(t, nominal);
    if (t.state == TopologyState::kPaused) {
      record_not_run(t, nominal, RunState::kSkipped, "topology is paused");
    } else if (auto late = engine::past_start_deadline(*t.spec, nominal, t_now)) {
      record_not_run(t, nominal, RunState::kMissed, *late);
    } else {
      const auto verdict =
          engine::overlap_verdict(overlap_of(*t.spec), live_runs(t), RunType::kScheduled);
      if (verdict.kind == Verdict::kRefuse) {
        record_not_run(t, nominal, RunState::kSkipped, verdict.reason);
      } else {
        const std::string run_id = make_run_id(RunType::kScheduled, nominal);
        if (verdict.kind == Verdict::kReplace) {
          for (std::uint64_t h : std::vector<std::uint64_t>(t.live))
            replace_run(runs_.at(h), run_id);
        }
        start_run(t, RunType::kScheduled, nominal, run_id);
      }
    }
    schedule_next_fire(t, nominal);
  }

  // A SKIPPED or MISSED record for a nominal fire that does not run.
  // A new run record of `t` with one PENDING entry per leaf task.
  // A new run record of `t` with one PENDING entry per leaf task; the first
  // leaf waits for `first_not_before` when given.
  RunInfo new_run(const Topo& t, RunType type, Instant nominal, std::string run_id, RunState state,
                  Instant t_now, std::optional<Instant> first_not_before = std::nullopt) const {
    RunInfo r;
    r.topology_id = t.id;
    r.run_id = std::move(run_id);
    r.state = state;
    r.message = run_message(state);
    r.run_type = type;
    r.created = r.updated = t_now;
    r.scheduled_time = nominal;
    for (const Task* leaf : leaf_tasks(t.spec->task)) {
      TaskRunInfo ti;
      ti.task_id = make_task_id(r.topology_id, r.run_id, task_name(*leaf));
      ti.not_before = std::exchange(first_not_before, std::nullopt);
      r.tasks[task_name(*leaf)] = std::move(ti);
    }
    return r;
  }

  void record_not_run(Topo& t, Instant nominal, RunState state, const std::string& reason) {
    RunInfo r = new_run(t, RunType::kScheduled, nominal, make_run_id(RunType::kScheduled, nominal),
                        state, now());
    r.reason = reason;
    write_new_run(r);
    emit_run(r, t.spec);
  }

  // ---- runs --------------------------------------------------------------------------

  // Stores a new RUNNING run (tasks PENDING) and, once stored, launches its
  // first task — unless `hold`, when the caller queues it. Returns its handle.
  std::uint64_t start_run(Topo& t, RunType type, Instant nominal, std::string run_id,
                          bool hold = false) {
    const Instant t_now = now();
    RunRecord rec;
    // Prepared ahead of its time: the first task waits for the nominal instant.
    rec.run = new_run(t, type, nominal, std::move(run_id), RunState::kRunning, t_now,
                      nominal > t_now ? std::optional<Instant>(nominal) : std::nullopt);
    Run& run = add_run(&t, std::move(rec), t.spec);
    commits_.put_run(run.rec.run, kMustNotExist);
    run.rec.version = 1;
    emit_run(run.rec.run, run.spec);
    const std::uint64_t h = run.handle;
    if (!hold) {
      after([this, h] {
        if (auto it = runs_.find(h); it != runs_.end()) advance(it->second);
      });
    }
    return h;
  }

  // Launches, waits or finishes, as the tree says.
  void advance(Run& r) {
    if (is_terminal(r.rec.run.state) || !r.spec || r.waiting) return;
    const engine::TreeStep step = engine::evaluate(r.spec->task, r.rec.run.tasks);
    if (step.kind == engine::TreeStep::Kind::kDone) {
      finish_run(r, step.result, step.message);
      return;
    }
    const std::string& name = task_name(*step.leaf);
    TaskRunInfo& ti = r.rec.run.tasks[name];
    TaskCtl& ctl = r.ctl[name];
    if (ctl.launched_attempt == ti.attempt) return;  // already launched or attached this term
    if (step.kind == engine::TreeStep::Kind::kLaunch && ti.not_before && *ti.not_before > now()) {
      push_due(*ti.not_before, DueKind::kRetry, r.handle, ++ctl.timer_gen, name);
      ctl.prepared = make_launch(r, *step.leaf, ti);
      ctl.prepared_observer = make_observer(r, name, ti.attempt);
      return;
    }
    launch(r, *step.leaf, ti, ctl);
  }

  TaskLaunch make_launch(const Run& r, const Task& leaf, const TaskRunInfo& ti) const {
    TaskLaunch l;
    l.task_id = ti.task_id;
    l.topology_id = r.rec.run.topology_id;
    l.run_id = r.rec.run.run_id;
    l.task_name = task_name(leaf);
    l.run_type = r.rec.run.run_type;
    l.attempt = ti.attempt;
    l.scheduled_time = nominal_of(r.rec.run);
    l.task = leaf;
    return l;
  }

  TaskObserver make_observer(const Run& r, const std::string& name, int attempt) {
    std::weak_ptr<Impl> weak = shared_from_this();
    return [weak, term = term_, handle = r.handle, name, attempt](const TaskUpdate& u) {
      auto self = weak.lock();
      if (!self) return;
      asio::post(self->strand_, [self, term, handle, name, attempt, u] {
        if (self->term_ != term || !self->leader_) return;
        self->on_task_update(handle, name, attempt, u);
        self->flush();
      });
    };
  }

  void launch(Run& r, const Task& leaf, const TaskRunInfo& ti, TaskCtl& ctl) {
    ctl.launched_attempt = ti.attempt;
    ctl.timed_out = false;
    ctl.transient_error = false;
    if (r.spec->policies && r.spec->policies->timeout) {
      push_due(saturating_add(now(), r.spec->policies->timeout->to_millis()), DueKind::kTaskTimeout,
               r.handle, ++ctl.timer_gen, task_name(leaf));
    }
    if (ctl.prepared && ctl.prepared->attempt == ti.attempt && ctl.prepared_observer) {
      executor_.launch(*ctl.prepared, std::move(ctl.prepared_observer));
    } else {
      executor_.launch(make_launch(r, leaf, ti), make_observer(r, task_name(leaf), ti.attempt));
    }
    ctl.prepared.reset();
    ctl.prepared_observer = nullptr;
  }

  void on_task_update(std::uint64_t handle, const std::string& name, int attempt,
                      const TaskUpdate& u) {
    const auto it = runs_.find(handle);
    if (it == runs_.end()) return;
    Run& r = it->second;
    if (is_terminal(r.rec.run.state)) return;
    TaskRunInfo& ti = r.rec.run.tasks[name];
    TaskCtl& ctl = r.ctl[name];
    if (ti.attempt != attempt || is_terminal(ti.state)) return;
    const Instant t_now = now();
    if (u.not_found) {
      if (!ctl.unknown_since) {
        ctl.unknown_since = t_now;
        push_due(t_now + options_.unknown_task_timeout, DueKind::kUnknownTimeout, r.handle,
                 ctl.timer_gen, name);
      }
      if (ti.state != TaskState::kUnknown) {
        ti.state = TaskState::kUnknown;
        ti.error_message = "the executor does not know this task (yet)";
        ctl.transient_error = true;
        touch(r);
        emit_task(r.rec.run, name, ti);
      }
      return;
    }
    ctl.unknown_since.reset();
    if (!is_terminal(u.state)) {
      if (ctl.kill_when_started && u.state != TaskState::kPending) {
        ctl.kill_when_started = false;
        kill_soon(ti.task_id);
      }
      const bool clears = ctl.transient_error && u.error_message.empty();
      // Started: the executor took it (not when the run was prepared).
      const bool starts =
          !ti.started && (u.state == TaskState::kStarting || u.state == TaskState::kRunning);
      if (starts) ti.started = t_now;
      arm_running_long(r);  // from this start, or a recovered run's stored one
      if (ti.state == u.state && ti.upstream_id == u.upstream_id && !clears && !starts) return;
      ti.state = u.state;
      if (!u.upstream_id.empty()) ti.upstream_id = u.upstream_id;
      // Keeps what an earlier attempt left ("attempt 1 failed: ...") until
      // this one has something to say; a transient word goes when the
      // state it described does.
      if (!u.error_message.empty()) {
        ti.error_message = u.error_message;
        ctl.transient_error = true;
      } else if (clears) {
        ti.error_message.clear();
        ctl.transient_error = false;
      }
      touch(r);
      emit_task(r.rec.run, name, ti);
      return;
    }
    ti.state = u.state;
    if (!u.upstream_id.empty()) ti.upstream_id = u.upstream_id;
    ti.exit_code = u.exit_code;
    ti.error_message = u.error_message;
    ti.finished = t_now;
    RetryOn outcome = RetryOn::kFailed;
    if (ctl.timed_out) {
      ti.state = TaskState::kTimedOut;
      ti.error_message = "timed out after " + describe_ms(r.spec->policies->timeout->to_millis()) +
                         " and was killed";
      outcome = RetryOn::kTimedOut;
    } else if (!r.replaced_by.empty() && u.state == TaskState::kCancelled) {
      ti.error_message = "killed: replaced by run " + r.replaced_by;
    }
    finish_attempt(r, name, outcome);
  }

  // Queues the run's RUN_RUNNING_LONG for running_long_after past its
  // start, once per term (a new leader queues it again from the stored
  // start, unless the record says it went out).
  void arm_running_long(Run& r) {
    if (options_.running_long_after.count() <= 0 || r.long_armed || r.rec.run.running_long) return;
    const auto started = run_started(r.rec.run);
    if (!started) return;
    r.long_armed = true;
    push_due(saturating_add(*started, options_.running_long_after), DueKind::kRunningLong, r.handle,
             0);
  }

  void on_running_long(std::uint64_t handle) {
    const auto it = runs_.find(handle);
    if (it == runs_.end()) return;
    Run& r = it->second;
    if (is_terminal(r.rec.run.state) || r.rec.run.running_long) return;
    r.rec.run.running_long = now();
    touch(r);  // recorded with the event: a new leader does not repeat it
    Event e;
    e.type = Event::Type::kRunRunningLong;
    e.topology = r.spec;
    e.run = std::make_shared<const RunInfo>(r.rec.run);
    e.topology_id = r.rec.run.topology_id;
    e.run_id = r.rec.run.run_id;
    e.run_type = r.rec.run.run_type;
    e.run_state = r.rec.run.state;
    e.scheduled_time = r.rec.run.scheduled_time;
    e.message = "still running after " + describe_ms(options_.running_long_after);
    emit(std::move(e));
  }

  // The current attempt of task `name` is terminal: retry it, or move on.
  void finish_attempt(Run& r, const std::string& name, RetryOn outcome) {
    TaskRunInfo& ti = r.rec.run.tasks[name];
    TaskCtl& ctl = r.ctl[name];
    ++ctl.timer_gen;  // cancels this attempt's timers
    emit_task(r.rec.run, name, ti);
    const bool failed = ti.state == TaskState::kFailed || ti.state == TaskState::kTimedOut;
    if (failed && r.replaced_by.empty() && !ctl.killed &&
        engine::should_retry(retry_of(*r.spec), ti.attempt, outcome)) {
      const RetryPolicy& p = *retry_of(*r.spec);
      const milliseconds wait =
          engine::retry_backoff(p, ti.attempt, std::uniform_real_distribution<double>(-1, 1)(rng_));
      const int next = ti.attempt + 1;
      TaskRunInfo fresh;
      fresh.task_id = make_task_id(r.rec.run.topology_id, r.rec.run.run_id, name, next);
      fresh.attempt = next;
      fresh.error_message = "attempt " + std::to_string(ti.attempt) + " failed" +
                            (ti.error_message.empty() ? "" : ": " + ti.error_message) +
                            "; retrying after " + describe_ms(wait);
      fresh.not_before = saturating_add(now(), wait);
      ti = fresh;
      ctl = TaskCtl{};
      ctl.timer_gen = 1;
      touch(r);
      emit_task(r.rec.run, name, ti);
      push_due(*ti.not_before, DueKind::kRetry, r.handle, ctl.timer_gen, name);
      return;
    }
    touch(r);
    advance(r);
  }

  void on_run_timer(const Due& d) {
    const auto it = runs_.find(d.key);
    if (it == runs_.end()) return;
    Run& r = it->second;
    if (is_terminal(r.rec.run.state)) return;
    TaskCtl& ctl = r.ctl[d.task];
    if (ctl.timer_gen != d.gen) return;
    TaskRunInfo& ti = r.rec.run.tasks[d.task];
    switch (d.kind) {
      case DueKind::kRetry:
        advance(r);
        break;
      case DueKind::kTaskTimeout:
        if (!is_terminal(ti.state) && ti.state != TaskState::kPending) {
          ctl.timed_out = true;
          kill_soon(ti.task_id);
        }
        break;
      case DueKind::kUnknownTimeout:
        if (ctl.unknown_since && !is_terminal(ti.state)) {
          executor_.detach(ti.task_id);
          ti.state = TaskState::kFailed;
          ti.finished = now();
          ti.error_message = "the executor has not known task " + ti.task_id + " for " +
                             describe_ms(options_.unknown_task_timeout) + "; given up as lost";
          ctl.unknown_since.reset();
          finish_attempt(r, d.task, RetryOn::kLost);
        }
        break;
      default:
        break;
    }
  }

  void touch(Run& r) {
    r.rec.run.updated = now();
    write_run(r);
  }

  // Asks the executor to kill `task_id` once the strand is free; the
  // outcome arrives as a task update.
  void kill_soon(const std::string& task_id) {
    after([this, task_id] { executor_.kill(task_id, [](Status) {}); });
  }

  void replace_run(Run& r, const std::string& by) {
    r.replaced_by = by;
    bool in_flight = false;  // a launch issued, not yet reported on
    for (auto& [name, ti] : r.rec.run.tasks) {
      if (is_terminal(ti.state)) continue;
      TaskCtl& ctl = r.ctl[name];
      if (ti.state == TaskState::kPending) {
        // Its create may still reach the executor: kill it once it reports.
        if (ctl.launched_attempt == ti.attempt) {
          in_flight = true;
          ctl.kill_when_started = true;
        }
        continue;
      }
      kill_soon(ti.task_id);
    }
    if (in_flight) return;  // the run ends when its task does
    // A run waiting for a retry or for its first launch has no live task:
    // end it now.
    const engine::TreeStep step = engine::evaluate(r.spec->task, r.rec.run.tasks);
    if (step.kind == engine::TreeStep::Kind::kLaunch) {
      // Created in this term and nothing of it ever launched: the fire was
      // skipped, not failed, and no launch belongs to it. (A recovered run
      // may have been launched by the previous leader: it fails as
      // replaced, and its task is killed in case it exists.)
      if (!r.recovered && nothing_started(r.rec.run)) {
        finish_run(r, TaskState::kCancelled, "replaced by run " + by + " before it started",
                   RunState::kSkipped);
        return;
      }
      if (r.recovered) kill_in_case(r);
      finish_run(r, TaskState::kCancelled, "replaced by run " + by);
    }
  }

  // Ends a run: its state follows `result` (or is `state` when given).
  void finish_run(Run& r, TaskState result, const std::string& why,
                  std::optional<RunState> state = std::nullopt) {
    const Topo* t = nullptr;
    if (const auto it = topologies_.find(r.rec.run.topology_id); it != topologies_.end()) {
      t = it->second.get();
    }
    const bool at = r.spec && std::holds_alternative<AtTrigger>(r.spec->trigger);
    r.rec.run.state = state ? *state : engine::final_run_state(r.rec.run.run_type, at, result);
    r.rec.run.message = run_message(r.rec.run.state);
    if (result != TaskState::kCompleted) {
      r.rec.run.reason =
          !r.replaced_by.empty() && !state ? "replaced by run " + r.replaced_by : why;
    }
    touch(r);
    emit_run(r.rec.run, r.spec);
    const std::uint64_t h = r.handle;
    run_index_.erase(run_key(r.rec.run.topology_id, r.rec.run.run_id));
    if (t != nullptr) {
      Topo& topo = *topologies_.at(r.rec.run.topology_id);
      std::erase(topo.live, h);
      std::erase(topo.waiting, h);
      mark_view(topo);
      runs_.erase(h);
      release_waiting(topo);
    } else {
      runs_.erase(h);
    }
  }

  // ---- operations ------------------------------------------------------------------

  void do_create(Topology topology, Callback<TopologyDetails> done) {
    if (!leader_) return done(not_leader());
    if (Status s = restore_redacted_secrets(topology, nullptr); !s.ok()) return done(s);
    if (Status s = validate(topology); !s.ok()) return done(s);
    const std::string id = topology.name;
    if (topologies_.count(id)) {
      return done(already_exists("Topology " + id + " already exists with ID: " + id));
    }
    TopologyRecord rec;
    rec.details.id = id;
    rec.details.topology = std::move(topology);
    rec.details.state = TopologyState::kActive;
    rec.details.created = rec.details.updated = now();
    Topo& t = add_topology(std::move(rec));
    const TopologyDetails details = details_of(t);
    if (Status s = prepare_trigger(t); !s.ok()) {
      topo_handles_.erase(t.handle);
      topologies_.erase(id);
      return done(s);
    }
    commits_.put_topology(record_of(t), kMustNotExist);
    t.version = 1;
    // AT triggers in the past fire at once (nothing fires before creation).
    schedule_next_fire(t, t.at_time ? std::min(now(), *t.at_time - milliseconds(1)) : now());
    emit_topology(Event::Type::kTopologyCreated, details);
    after([done = std::move(done), details] { done(details); });
  }

  void do_update(Topology topology, Callback<TopologyDetails> done) {
    if (!leader_) return done(not_leader());
    const auto it = topologies_.find(topology.name);
    if (it == topologies_.end()) return done(not_found("Topology not found: " + topology.name));
    Topo& t = *it->second;
    // A secret shown redacted to the caller, sent back as it was, keeps its value.
    if (Status s = restore_redacted_secrets(topology, t.spec.get()); !s.ok()) return done(s);
    if (Status s = validate(topology); !s.ok()) return done(s);
    const bool trigger_changed = !(t.spec->trigger == topology.trigger);
    const auto old_spec = t.spec;
    t.spec = std::make_shared<const Topology>(topology);
    if (Status s = prepare_trigger(t); !s.ok()) {
      t.spec = old_spec;
      prepare_trigger(t).ok();
      return done(s);
    }
    t.updated = now();
    write_topology(t);
    if (trigger_changed) {
      ++t.gen;
      schedule_next_fire(t, std::max(now(), t.last_fire.value_or(now())));
    }
    const TopologyDetails details = details_of(t);
    emit_topology(Event::Type::kTopologyUpdated, details);
    after([done = std::move(done), details] { done(details); });
  }

  void do_set_paused(const std::string& id, bool paused, Callback<TopologyDetails> done) {
    if (!leader_) return done(not_leader());
    const auto it = topologies_.find(id);
    if (it == topologies_.end()) return done(not_found("Topology not found: " + id));
    Topo& t = *it->second;
    const TopologyState target = paused ? TopologyState::kPaused : TopologyState::kActive;
    if (t.state != target) {
      t.state = target;
      t.updated = now();
      write_topology(t);
      emit_topology(paused ? Event::Type::kTopologyPaused : Event::Type::kTopologyResumed,
                    details_of(t));
      // Queued runs whose turn has not come are fires not yet started: a
      // pause skips them, as it skips fires.
      if (paused) {
        const std::vector<std::uint64_t> queued = t.waiting;  // expire_waiting edits it
        for (std::uint64_t h : queued) {
          if (auto r = runs_.find(h); r != runs_.end()) {
            expire_waiting(r->second, RunState::kSkipped,
                           "topology was paused before its turn came");
          }
        }
      }
    }
    after([done = std::move(done), details = details_of(t)] { done(details); });
  }

  void do_remove(const std::string& id, bool kill_running, Callback<bool> done) {
    if (!leader_) return done(not_leader());
    const auto it = topologies_.find(id);
    if (it == topologies_.end()) return done(not_found("Topology not found: " + id));
    Topo& t = *it->second;
    for (std::uint64_t h : t.live) {
      Run& r = runs_.at(h);
      for (auto& [name, ti] : r.rec.run.tasks) {
        if (r.ctl[name].launched_attempt == 0) continue;
        const std::string task_id = ti.task_id;
        const bool live = !is_terminal(ti.state);
        after([this, task_id, live, kill_running] {
          executor_.detach(task_id);
          if (kill_running && live) executor_.kill(task_id, [](Status) {});
        });
      }
      run_index_.erase(run_key(r.rec.run.topology_id, r.rec.run.run_id));
      runs_.erase(h);
    }
    TopologyDetails details = details_of(t);
    details.state = TopologyState::kDeleted;
    commits_.delete_topology(id);
    topo_handles_.erase(t.handle);
    view_dirty_.push_back(id);  // unpublished at the next flush
    topologies_.erase(it);
    emit_topology(Event::Type::kTopologyDeleted, details);
    after([done = std::move(done)] { done(true); });
  }

  void do_run_now(const std::string& id, Callback<std::string> done) {
    if (!leader_) return done(not_leader());
    const auto it = topologies_.find(id);
    if (it == topologies_.end()) return done(not_found("No such topology: " + id));
    Topo& t = *it->second;
    if (auto v = engine::overlap_verdict(overlap_of(*t.spec), live_runs(t), RunType::kInstant);
        v.kind == Verdict::kRefuse) {
      return done(failed_precondition("topology " + id + ": " + v.reason));
    }
    Instant at = now();
    std::string run_id = make_run_id(RunType::kInstant, at);
    // Unique even for two runs in one millisecond, across restarts too.
    while (run_index_.count(run_key(id, run_id)) || stored_run_exists(id, run_id)) {
      at += milliseconds(1);
      run_id = make_run_id(RunType::kInstant, at);
    }
    start_run(t, RunType::kInstant, at, run_id);
    after([done = std::move(done), run_id] { done(run_id); });
  }

  void do_kill_task(const std::string& tid, const std::string& rid, const std::string& name,
                    Callback<bool> done) {
    if (!leader_) return done(not_leader());
    Run* r = run_by_id(tid, rid);
    if (r == nullptr) {
      return done(
          not_found("No task exists for " + tid + "/" + rid + "/" + name + " (no such live run)"));
    }
    const auto ti = r->rec.run.tasks.find(name);
    if (ti == r->rec.run.tasks.end()) {
      return done(not_found("No task found for the provided id"));
    }
    TaskCtl& ctl = r->ctl[name];
    if (is_terminal(ti->second.state) || ctl.launched_attempt == 0) {
      return done(failed_precondition("task " + name + " of run " + rid + " is not running"));
    }
    ctl.killed = true;
    const std::string task_id = ti->second.task_id;
    std::weak_ptr<Impl> weak = shared_from_this();
    executor_.kill(task_id, [weak, done = std::move(done)](Status s) mutable {
      auto self = weak.lock();
      if (!self) return;
      asio::post(self->strand_, [s, done = std::move(done)] {
        if (s.ok()) {
          done(true);
        } else {
          done(s);
        }
      });
    });
  }

  // ---- retention -------------------------------------------------------------------

  // Retention: the finished runs of every topology are read on the reader
  // thread (not the strand); the strand then deletes those the policy drops
  // and cleans up their tasks in the executor.
  struct Dropped {
    std::string topology_id, run_id;
    std::vector<std::string> task_ids;  // tasks the executor knows
  };

  void prune() {
    if (pruning_) return;  // the last pass is still reading
    std::vector<std::pair<std::string, RetentionPolicy>> policies;
    policies.reserve(topologies_.size());
    for (const auto& [id, t] : topologies_)
      policies.emplace_back(id, engine::retention_of(*t->spec, options_.default_retention));
    pruning_ = true;
    std::weak_ptr<Impl> weak = shared_from_this();
    post_read([weak, &store = store_, strand = strand_, t_now = now(), term = term_,
               policies = std::move(policies)]() mutable {
      static const RunQuery kFinished{{RunState::kCompleted, RunState::kSuccessful,
                                       RunState::kSkipped, RunState::kFailed, RunState::kMissed},
                                      {},
                                      0,
                                      std::nullopt};
      std::vector<Dropped> dropped;
      for (const auto& [id, policy] : policies) {
        auto runs = store.load_runs(id, kFinished);
        if (!runs.ok()) continue;
        for (std::size_t i = 0; i < runs->size(); ++i) {
          const RunInfo& r = (*runs)[i].run;
          if (!engine::retention_drops(policy, i, r.updated, t_now)) continue;
          Dropped d{id, r.run_id, {}};
          for (const auto& [name, ti] : r.tasks) {
            if (!ti.upstream_id.empty() && ti.upstream_id != "UNKNOWN")
              d.task_ids.push_back(ti.task_id);
          }
          dropped.push_back(std::move(d));
        }
      }
      asio::post(strand, [weak, term, dropped = std::move(dropped)]() mutable {
        const auto self = weak.lock();
        if (!self) return;
        self->pruning_ = false;
        if (self->term_ != term) return;  // leadership changed meanwhile
        self->drop_runs(std::move(dropped));
        self->flush();
      });
    });
  }

  void drop_runs(std::vector<Dropped> dropped) {
    for (Dropped& d : dropped) {
      // A topology deleted meanwhile took its runs with it.
      if (!topologies_.count(d.topology_id)) continue;
      commits_.delete_run(d.topology_id, d.run_id);
      for (std::string& task_id : d.task_ids) {
        after([this, task_id = std::move(task_id)] { executor_.cleanup(task_id, [](Status) {}); });
      }
    }
  }

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
  // The blocking store reads, unless options_.store_reads takes them.
  std::unique_ptr<asio::thread_pool> reader_ =
      options_.store_reads ? nullptr : std::make_unique<asio::thread_pool>(1);
};

Scheduler::Scheduler(asio::io_context& ioc, Store& store, Executor& executor,
                     LeaderElector& elector, Clock& clock, EventSink& events,
                     SchedulerOptions options)
    : impl_(std::make_shared<Impl>(ioc, store, executor, elector, clock, events,
                                   std::move(options))) {}

Scheduler::~Scheduler() {
  if (!impl_) return;
  impl_->stop();
  // No callback of this Scheduler runs after this: later ones are dropped,
  // and one running on another thread is waited for.
  impl_->close_callbacks();
}

void Scheduler::start() {
  impl_->start();
}
void Scheduler::stop() {
  impl_->stop();
}
void Scheduler::create(Topology t, Callback<TopologyDetails> done) {
  impl_->create(std::move(t), impl_->guarded(std::move(done)));
}
void Scheduler::update(Topology t, Callback<TopologyDetails> done) {
  impl_->update(std::move(t), impl_->guarded(std::move(done)));
}
void Scheduler::pause(const std::string& id, Callback<TopologyDetails> done) {
  impl_->set_paused(id, true, impl_->guarded(std::move(done)));
}
void Scheduler::resume(const std::string& id, Callback<TopologyDetails> done) {
  impl_->set_paused(id, false, impl_->guarded(std::move(done)));
}
void Scheduler::remove(const std::string& id, bool kill_running, Callback<bool> done) {
  impl_->remove(id, kill_running, impl_->guarded(std::move(done)));
}
void Scheduler::run_now(const std::string& id, Callback<std::string> done) {
  impl_->run_now(id, impl_->guarded(std::move(done)));
}
void Scheduler::kill_task(const std::string& tid, const std::string& rid, const std::string& task,
                          Callback<bool> done) {
  impl_->kill_task(tid, rid, task, impl_->guarded(std::move(done)));
}
void Scheduler::get_topology(const std::string& id, Callback<TopologyView> done) {
  impl_->get_topology(id, impl_->guarded(std::move(done)));
}
void Scheduler::get_run(const std::string& topology_id, const std::string& run_id,
                        Callback<RunInfo> done) {
  impl_->get_run(topology_id, run_id, impl_->guarded(std::move(done)));
}
void Scheduler::list_runs(const std::string& topology_id, RunQuery query,
                          Callback<std::vector<RunInfo>> done) {
  impl_->list_runs(topology_id, std::move(query), impl_->guarded(std::move(done)));
}
void Scheduler::list_topologies(Callback<std::vector<TopologyView>> done) {
  impl_->list_topologies(impl_->guarded(std::move(done)));
}
void Scheduler::stats(Callback<SchedulerStats> done) {
  impl_->stats(impl_->guarded(std::move(done)));
}
bool Scheduler::is_leader() const {
  return impl_->is_leader();
}

}  // namespace epoch
