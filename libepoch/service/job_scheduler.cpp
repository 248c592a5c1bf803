// JobScheduler: the one-call set-up. Builds the parts from options, wires
// them like epochd does, and takes them down in the one safe order. See
// epoch/job_scheduler.h.
#include "epoch/job_scheduler.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "../support/process_name.h"

namespace epoch {

namespace asio = boost::asio;

namespace {

// Events to the extra sinks and the typed listeners. Listeners are only
// added (under the lock, copy on write) and live as long as the fan-out.
class Fanout final : public EventSink {
 public:
  explicit Fanout(std::vector<EventSink*> sinks) : sinks_(std::move(sinks)) {}

  void on_run(std::function<void(const RunEvent&)> f) {
    std::lock_guard lock(mu_);
    auto next = std::make_shared<Listeners>(*listeners_);
    next->runs.push_back(std::move(f));
    listeners_ = std::move(next);
  }
  void on_task(std::function<void(const TaskEvent&)> f) {
    std::lock_guard lock(mu_);
    auto next = std::make_shared<Listeners>(*listeners_);
    next->tasks.push_back(std::move(f));
    listeners_ = std::move(next);
  }

  void on_event(const Event& e) override {
    for (EventSink* s : sinks_)
      s->on_event(e);
    std::shared_ptr<const Listeners> l;
    {
      std::lock_guard lock(mu_);
      l = listeners_;
    }
    if (e.type == Event::Type::kRunStateChanged || e.type == Event::Type::kRunRunningLong) {
      if (l->runs.empty() || !e.run_state) return;
      RunEvent r;
      r.topology_id = e.topology_id;
      r.run_id = e.run_id;
      r.run_type = e.run_type.value_or(RunType::kScheduled);
      r.state = *e.run_state;
      r.scheduled_time = e.scheduled_time;
      r.message = e.message;
      r.running_long = e.type == Event::Type::kRunRunningLong;
      r.run = e.run;
      for (const auto& f : l->runs)
        f(r);
    } else if (e.type == Event::Type::kTaskStateChanged) {
      if (l->tasks.empty() || !e.task_state) return;
      TaskEvent t;
      t.topology_id = e.topology_id;
      t.run_id = e.run_id;
      t.task_name = e.task_name;
      t.attempt = e.attempt;
      t.task_id = make_task_id(e.topology_id, e.run_id, e.task_name, e.attempt);
      t.state = *e.task_state;
      t.message = e.message;
      for (const auto& f : l->tasks)
        f(t);
    }
  }

 private:
  struct Listeners {
    std::vector<std::function<void(const RunEvent&)>> runs;
    std::vector<std::function<void(const TaskEvent&)>> tasks;
  };
  const std::vector<EventSink*> sinks_;
  std::mutex mu_;
  std::shared_ptr<const Listeners> listeners_ = std::make_shared<Listeners>();
};

// The elector the Scheduler sees: the real one, plus "apply the declared
// topologies" after every election this copy wins.
class DeclaringElector final : public LeaderElector {
 public:
  DeclaringElector(LeaderElector& inner, std::function<void(bool)> leading)
      : inner_(inner), leading_(std::move(leading)) {}
  void start(std::function<void()> on_elected, std::function<void()> on_revoked) override {
    inner_.start(
        [this, on_elected = std::move(on_elected)] {
          on_elected();
          leading_(true);
        },
        [this, on_revoked = std::move(on_revoked)] {
          leading_(false);
          on_revoked();
        });
  }
  void stop() override { inner_.stop(); }
  bool is_leader() const override { return inner_.is_leader(); }
  std::optional<std::string> leader() const override { return inner_.leader(); }
  std::optional<FencingToken> fencing_token() const override { return inner_.fencing_token(); }

 private:
  LeaderElector& inner_;
  std::function<void(bool)> leading_;
};

}  // namespace

struct JobScheduler::Parts {
  JobSchedulerOptions options;
  std::unique_ptr<Clock> own_clock;
  Clock* clock = nullptr;
  std::unique_ptr<asio::io_context> own_ioc;
  asio::io_context* ioc = nullptr;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::shared_ptr<ZkConnection> zk;
  int file_lock = -1;  // "<sqlite file>.lock", held while we schedule from it
  std::unique_ptr<Store> store;
  std::unique_ptr<LeaderElector> real_elector;
  std::unique_ptr<DeclaringElector> elector;
  std::unique_ptr<Executor> others;
  std::unique_ptr<FunctionExecutor> jobs;
  std::unique_ptr<Fanout> fanout;
  std::unique_ptr<Scheduler> scheduler;

  mutable std::mutex declared_mu;
  std::map<std::string, Topology> declared;
  std::map<std::string, Status> applied;
  // Elected (by the elector's word; the Scheduler's own flag is set later,
  // on its strand). Under declared_mu, so that a declaration is either in
  // the snapshot an election applies or sees the election and applies
  // itself — never neither.
  bool elected = false;

  // The safe order: the scheduler (no more fires, launches, callbacks;
  // leaves the election), the running jobs (cancelled, waited for), the
  // other executors, the threads, then what they used.
  ~Parts() {
    if (scheduler && scheduler->is_leader()) {
      // What was decided (a job's end just reported) is made durable
      // first: stop() drops the writes not yet made, and a job whose end
      // is not stored would be LOST, and run again, at the next start.
      jobs->wait_reports(std::chrono::seconds(1));  // then the engine has them
      auto synced = std::make_shared<std::promise<void>>();
      auto done = synced->get_future();
      scheduler->sync([synced](StatusOr<bool>) { synced->set_value(); });
      done.wait_for(std::chrono::seconds(5));
    }
    if (scheduler) scheduler->stop();
    scheduler.reset();
    jobs.reset();
    others.reset();
    if (work) work.reset();
    if (own_ioc) {
      own_ioc->stop();
      for (std::thread& t : threads)
        t.join();
    }
    elector.reset();
    real_elector.reset();
    store.reset();
    zk.reset();
    if (file_lock >= 0) ::close(file_lock);
    fanout.reset();
  }

  // Two processes scheduling from one SQLite file would both be the leader
  // (the standalone election): the second one is refused.
  Status lock_file(const std::string& path) {
    const std::string lock = path + ".lock";
    file_lock = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (file_lock < 0) {
      return unavailable("cannot open " + lock + ": " + std::strerror(errno));
    }
    if (::flock(file_lock, LOCK_EX | LOCK_NB) != 0) {
      return failed_precondition(
          "another process schedules from the SQLite store '" + path + "' (it holds " + lock +
          "): one process per SQLite file; several copies share ZooKeeper instead");
    }
    return Status();
  }

  void leading(bool now) {
    std::vector<Topology> all;
    {
      std::lock_guard lock(declared_mu);
      elected = now;
      if (!now) return;
      for (const auto& [name, t] : declared)
        all.push_back(t);
    }
    for (Topology& t : all)
      apply(std::move(t));
  }

  // Create; if it exists, update when it differs. Callbacks run while the
  // Scheduler exists (it drops them when destroyed), so `this` is alive.
  void apply(Topology t) {
    auto shared = std::make_shared<const Topology>(std::move(t));
    scheduler->create(*shared, [this, shared](StatusOr<TopologyDetails> d) {
      if (d.ok() || d.status().code() != StatusCode::kAlreadyExists) {
        return record(shared->name, d);
      }
      scheduler->get_topology(shared->name, [this, shared](StatusOr<TopologyView> v) {
        if (!v.ok()) return record(shared->name, v);
        if (v->details.topology == *shared) return record(shared->name, v);
        scheduler->update(*shared,
                          [this, shared](StatusOr<TopologyDetails> u) { record(shared->name, u); });
      });
    });
  }

  template <typename T>
  void record(const std::string& name, const StatusOr<T>& result) {
    std::lock_guard lock(declared_mu);
    if (result.ok()) {
      applied[name] = Status();
    } else {
      applied[name] = result.status();
    }
  }
};

StatusOr<std::unique_ptr<JobScheduler>> JobScheduler::start(JobSchedulerOptions options) {
  auto p = std::make_unique<Parts>();
  p->options = std::move(options);
  JobSchedulerOptions& o = p->options;
  if (o.io_context == nullptr && o.io_threads == 0) {
    return invalid_argument("io_threads must be at least 1 when no io_context is given");
  }
  if (o.node_name.empty()) o.node_name = host_and_pid();

  // Time and threads.
  if (o.clock == nullptr) p->own_clock = make_system_clock();
  p->clock = o.clock != nullptr ? o.clock : p->own_clock.get();
  if (o.io_context == nullptr) p->own_ioc = std::make_unique<asio::io_context>();
  p->ioc = o.io_context != nullptr ? o.io_context : p->own_ioc.get();

  // Store and election.
  if (const auto* sqlite = std::get_if<SqliteStoreOptions>(&o.store)) {
    EPOCH_RETURN_IF_ERROR(p->lock_file(sqlite->path));
    auto s = make_sqlite_store(*sqlite);
    if (!s.ok()) return s.status();
    p->store = std::move(*s);
    p->real_elector = make_standalone_elector(o.node_name);
  } else if (const auto* zk = std::get_if<ZkOptions>(&o.store)) {
    auto c = connect_zookeeper(*zk);
    if (!c.ok()) return c.status();
    p->zk = std::move(*c);
    p->store = make_zk_store(p->zk);
    p->real_elector = make_zk_elector(p->zk, o.node_name);
  } else {
    p->store = make_memory_store();
    p->real_elector = make_standalone_elector(o.node_name);
  }
  Parts* parts = p.get();
  p->elector = std::make_unique<DeclaringElector>(*p->real_elector, [parts](bool now) {
    // On the elector's thread (or inline in start()); the Scheduler queues
    // what arrives while it recovers, and answers on its own threads.
    parts->leading(now);
  });

  // Executors: the jobs in front of the others.
  switch (o.other_tasks) {
    case JobSchedulerOptions::Tasks::kLocal:
      p->others = make_local_executor(o.local);
      break;
    case JobSchedulerOptions::Tasks::kDrove: {
      auto d = make_drove_executor(o.drove);
      if (!d.ok()) return d.status();
      p->others = std::move(*d);
      break;
    }
    case JobSchedulerOptions::Tasks::kNone:
      break;
  }
  FunctionExecutorOptions jo = o.jobs;
  if (jo.clock == nullptr) jo.clock = p->clock;
  p->jobs = std::make_unique<FunctionExecutor>(jo, p->others.get());
  for (auto& add : o.job_handlers) {
    if (Status s = add(*p->jobs); !s.ok()) return s;
  }
  o.job_handlers.clear();

  p->fanout = std::make_unique<Fanout>(o.sinks);
  p->scheduler = std::make_unique<Scheduler>(*p->ioc, *p->store, *p->jobs, *p->elector, *p->clock,
                                             *p->fanout, o.scheduler);
  if (p->own_ioc) {
    p->work.emplace(asio::make_work_guard(*p->own_ioc));
    for (std::size_t i = 0; i < o.io_threads; ++i)
      p->threads.emplace_back([ioc = p->own_ioc.get()] { ioc->run(); });
  }
  p->scheduler->start();
  return std::unique_ptr<JobScheduler>(new JobScheduler(std::move(p)));
}

JobScheduler::JobScheduler(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
JobScheduler::~JobScheduler() = default;

Status JobScheduler::declare(Topology topology) {
  EPOCH_RETURN_IF_ERROR(validate(topology));
  bool now = false;
  {
    std::lock_guard lock(parts_->declared_mu);
    parts_->declared[topology.name] = topology;
    parts_->applied.try_emplace(topology.name, unavailable("not applied yet"));
    now = parts_->elected;
  }
  if (now) parts_->apply(std::move(topology));
  return Status();
}

std::vector<std::pair<std::string, Status>> JobScheduler::declared() const {
  std::lock_guard lock(parts_->declared_mu);
  return {parts_->applied.begin(), parts_->applied.end()};
}

template <typename T, typename Op>
JobScheduler::Future<T> JobScheduler::promise(Op op) {
  auto p = std::make_shared<std::promise<StatusOr<T>>>();
  Future<T> f = p->get_future();
  op([p](StatusOr<T> r) { p->set_value(std::move(r)); });
  return f;
}

template <typename T, typename Op>
StatusOr<T> JobScheduler::wait(Op op) {
  if (parts_->ioc->get_executor().running_in_this_thread()) {
    return failed_precondition(
        "a blocking JobScheduler call on a thread that runs its io_context would wait for "
        "itself: use the *_async variant there");
  }
  return promise<T>(std::move(op)).get();
}

StatusOr<TopologyDetails> JobScheduler::create(Topology t) {
  return wait<TopologyDetails>([&](auto cb) { parts_->scheduler->create(std::move(t), cb); });
}
StatusOr<TopologyDetails> JobScheduler::update(Topology t) {
  return wait<TopologyDetails>([&](auto cb) { parts_->scheduler->update(std::move(t), cb); });
}
StatusOr<TopologyDetails> JobScheduler::pause(const std::string& id) {
  return wait<TopologyDetails>([&](auto cb) { parts_->scheduler->pause(id, cb); });
}
StatusOr<TopologyDetails> JobScheduler::resume(const std::string& id) {
  return wait<TopologyDetails>([&](auto cb) { parts_->scheduler->resume(id, cb); });
}
StatusOr<bool> JobScheduler::remove(const std::string& id, bool kill_running) {
  return wait<bool>([&](auto cb) { parts_->scheduler->remove(id, kill_running, cb); });
}
StatusOr<std::string> JobScheduler::run_now(const std::string& id) {
  return wait<std::string>([&](auto cb) { parts_->scheduler->run_now(id, cb); });
}
StatusOr<bool> JobScheduler::kill_task(const std::string& topology_id, const std::string& run_id,
                                       const std::string& task_name) {
  return wait<bool>(
      [&](auto cb) { parts_->scheduler->kill_task(topology_id, run_id, task_name, cb); });
}
StatusOr<TopologyView> JobScheduler::get(const std::string& id) {
  return wait<TopologyView>([&](auto cb) { parts_->scheduler->get_topology(id, cb); });
}
StatusOr<std::vector<TopologyView>> JobScheduler::list() {
  return wait<std::vector<TopologyView>>([&](auto cb) { parts_->scheduler->list_topologies(cb); });
}

StatusOr<std::vector<RunInfo>> JobScheduler::runs(const std::string& topology_id,
                                                  const RunQuery& query) {
  auto records = parts_->store->load_runs(topology_id, query);
  if (!records.ok()) return records.status();
  std::vector<RunInfo> out;
  out.reserve(records->size());
  for (RunRecord& r : *records)
    out.push_back(std::move(r.run));
  return out;
}

StatusOr<std::optional<RunInfo>> JobScheduler::run(const std::string& topology_id,
                                                   const std::string& run_id) {
  auto r = parts_->store->load_run(topology_id, run_id);
  if (!r.ok()) return r.status();
  if (!r->has_value()) return std::optional<RunInfo>();
  return std::optional<RunInfo>(std::move((*r)->run));
}

JobScheduler::Future<TopologyDetails> JobScheduler::create_async(Topology t) {
  return promise<TopologyDetails>([&](auto cb) { parts_->scheduler->create(std::move(t), cb); });
}
JobScheduler::Future<TopologyDetails> JobScheduler::update_async(Topology t) {
  return promise<TopologyDetails>([&](auto cb) { parts_->scheduler->update(std::move(t), cb); });
}
JobScheduler::Future<TopologyDetails> JobScheduler::pause_async(const std::string& id) {
  return promise<TopologyDetails>([&](auto cb) { parts_->scheduler->pause(id, cb); });
}
JobScheduler::Future<TopologyDetails> JobScheduler::resume_async(const std::string& id) {
  return promise<TopologyDetails>([&](auto cb) { parts_->scheduler->resume(id, cb); });
}
JobScheduler::Future<bool> JobScheduler::remove_async(const std::string& id, bool kill_running) {
  return promise<bool>([&](auto cb) { parts_->scheduler->remove(id, kill_running, cb); });
}
JobScheduler::Future<std::string> JobScheduler::run_now_async(const std::string& id) {
  return promise<std::string>([&](auto cb) { parts_->scheduler->run_now(id, cb); });
}
JobScheduler::Future<TopologyView> JobScheduler::get_async(const std::string& id) {
  return promise<TopologyView>([&](auto cb) { parts_->scheduler->get_topology(id, cb); });
}
JobScheduler::Future<std::vector<TopologyView>> JobScheduler::list_async() {
  return promise<std::vector<TopologyView>>(
      [&](auto cb) { parts_->scheduler->list_topologies(cb); });
}

void JobScheduler::on_run(std::function<void(const RunEvent&)> listener) {
  parts_->fanout->on_run(std::move(listener));
}
void JobScheduler::on_task(std::function<void(const TaskEvent&)> listener) {
  parts_->fanout->on_task(std::move(listener));
}

bool JobScheduler::is_leader() const {
  return parts_->scheduler->is_leader();
}

bool JobScheduler::wait_until_leader(std::chrono::milliseconds limit) const {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!is_leader()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

Scheduler& JobScheduler::scheduler() {
  return *parts_->scheduler;
}
Store& JobScheduler::store() {
  return *parts_->store;
}
FunctionExecutor& JobScheduler::jobs() {
  return *parts_->jobs;
}
Executor& JobScheduler::executor() {
  return *parts_->jobs;
}

Topology function_topology(std::string name, std::string cron, std::string job,
                           std::optional<std::string> time_zone, std::string data_json) {
  FunctionTask f;
  f.task_name = "main";
  f.job = std::move(job);
  if (!data_json.empty()) f.data = RawJson{std::move(data_json)};
  Topology t;
  t.name = std::move(name);
  t.task.spec = std::move(f);
  t.trigger = CronTrigger{std::move(cron), std::move(time_zone)};
  return t;
}

}  // namespace epoch
