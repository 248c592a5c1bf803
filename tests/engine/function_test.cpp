// In-process jobs (FUNCTION tasks) through the engine: handlers on the
// FunctionExecutor's pool, a ManualClock for every timeout and backoff, a
// FakeExecutor behind it for the other task types.
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "epoch/function_executor.h"
#include "harness.h"

using namespace epoch;
using namespace epoch::test;
using namespace std::chrono_literals;

namespace {

Task function_task(const std::string& name, const std::string& job, const std::string& data = "") {
  FunctionTask f;
  f.task_name = name;
  f.job = job;
  if (!data.empty()) f.data = RawJson{data};
  return Task{f};
}

Topology function_topology(const std::string& name, const std::string& cron, const std::string& job,
                           const std::string& data = "") {
  Topology t;
  t.name = name;
  t.task = function_task("main", job, data);
  t.trigger = CronTrigger{cron, std::nullopt};
  return t;
}

RetryPolicy retry_policy(int attempts, std::vector<RetryOn> on = {
                                           RetryOn::kFailed, RetryOn::kTimedOut, RetryOn::kLost}) {
  RetryPolicy r;
  r.max_attempts = attempts;
  r.initial_backoff = Duration::seconds(10);
  r.multiplier = 2;
  r.jitter = 0;
  r.on = std::move(on);
  return r;
}

// A scheduler whose executor is a FunctionExecutor (on the harness's
// ManualClock) in front of the harness's FakeExecutor.
struct JobHarness {
  explicit JobHarness(std::size_t pool = 2) : threads(pool) { make_jobs(); }
  ~JobHarness() {
    h.scheduler.reset();
    jobs.reset();
  }

  void make_jobs() {
    FunctionExecutorOptions o;
    o.threads = threads;
    o.kill_grace = 5s;
    o.clock = &h.clock;
    jobs = std::make_unique<FunctionExecutor>(o, &h.executor);
    h.use_executor = jobs.get();
  }

  // The process goes: the scheduler and its jobs with it. What the store
  // holds is what a SIGKILL would leave.
  void process_dies() {
    h.scheduler.reset();
    jobs.reset();
    h.elector.revoke();
    h.elector.stop();
    h.pump();
  }

  // A topology of one `job` every minute whose LOST attempts are retried
  // (2 attempts, 10 s apart).
  static Topology retried_when_lost(const std::string& name, const std::string& job) {
    Topology t = function_topology(name, "0 * * * * ?", job);
    t.policies = Policies{};
    t.policies->retry = retry_policy(2, {RetryOn::kLost});
    return t;
  }

  // Waits (pumping) until the run has ended; returns it.
  RunInfo finished(const std::string& topology, const std::string& run) {
    REQUIRE_MESSAGE(h.pump_until([&] { return h.run(topology, run).state != RunState::kRunning; }),
                    "run " << run << " did not end");
    return h.run(topology, run);
  }

  // Waits until the task's attempt `attempt` is in `state`.
  void wait_task(const std::string& topology, const std::string& run, int attempt,
                 TaskState state) {
    REQUIRE_MESSAGE(
        h.pump_until([&] {
          const RunInfo r = h.run(topology, run);
          const TaskRunInfo& t = r.tasks.at("main");
          return t.attempt == attempt && t.state == state;
        }),
        "attempt " << attempt << " of " << run << " never reached " << to_string(state));
  }

  std::string output(const std::string& task_id, OutputStream s = OutputStream::kStdout) {
    auto c = jobs->read_output(task_id, s, 0, 1 << 20);
    REQUIRE(c.ok());
    return c->data;
  }

  Harness h{at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kAutoComplete};
  std::size_t threads;
  std::unique_ptr<FunctionExecutor> jobs;
};

// A door a handler waits at, whatever its token says.
struct Gate {
  void open() {
    std::lock_guard lock(mu);
    opened = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return opened; });
  }
  std::mutex mu;
  std::condition_variable cv;
  bool opened = false;
};

const std::string kRun = "ESR-2026-01-01-00-01-00-000";

}  // namespace

TEST_CASE("a FUNCTION task calls its handler with the run's context; its lines are its output") {
  JobHarness j;
  std::mutex mu;
  std::vector<std::string> seen;
  std::thread::id handler_thread;
  REQUIRE(j.jobs
              ->register_job(
                  "digest",
                  [&](JobContext& c) {
                    std::lock_guard lock(mu);
                    handler_thread = std::this_thread::get_id();
                    seen.push_back(c.topology_id() + "|" + c.run_id() + "|" + c.task_name() + "|" +
                                   c.task_id() + "|" + c.job() + "|" + std::to_string(c.attempt()) +
                                   "|" + format_utc(c.scheduled_time()));
                    seen.push_back(c.data_string("team").value_or("?") + "|" +
                                   std::to_string(c.data_int("count").value_or(-1)) + "|" +
                                   (c.data_bool("loud").value_or(false) ? "loud" : "quiet") + "|" +
                                   (c.data_string("count") ? "str" : "not-str"));
                    c.log("sent to the ops team");
                    c.progress(0.5, "half way");
                    c.error("one address bounced");
                  })
              .ok());
  j.h.start();
  REQUIRE(j.h.create(function_topology("d", "0 * * * * ?", "digest",
                                       R"({"team":"ops","count":3,"loud":true})"))
              .ok());
  j.h.advance_to(at("2026-01-01T00:01:00Z"));
  const RunInfo r = j.finished("d", kRun);
  CHECK(r.state == RunState::kSuccessful);
  const TaskRunInfo& t = r.tasks.at("main");
  CHECK(t.state == TaskState::kCompleted);
  CHECK(t.exit_code == 0);
  CHECK(t.started == at("2026-01-01T00:01:00Z"));
  CHECK(t.upstream_id.find(":" + std::to_string(::getpid())) != std::string::npos);
  std::lock_guard lock(mu);
  CHECK(seen == std::vector<std::string>{
                    "d|" + kRun + "|main|d-" + kRun + "-main|digest|1|2026-01-01T00:01:00.000Z",
                    "ops|3|loud|not-str"});
  CHECK(handler_thread != std::this_thread::get_id());
  CHECK(j.output(t.task_id) == "sent to the ops team\nprogress 50%: half way\n");
  CHECK(j.output(t.task_id, OutputStream::kStderr) == "one address bounced\n");
  const auto logs = j.jobs->logs(t.task_id);
  REQUIRE(logs.ok());
  CHECK(logs->readable);
  CHECK(j.h.executor.launches().empty());  // nothing went to the other executor
}

TEST_CASE("a handler's error, a throw, and a job nobody registered: FAILED with the reason") {
  JobHarness j;
  REQUIRE(
      j.jobs
          ->register_job("fails", [](JobContext&) { return unavailable("the mail relay is down"); })
          .ok());
  REQUIRE(
      j.jobs
          ->register_job("throws", [](JobContext&) -> Status { throw std::runtime_error("boom"); })
          .ok());
  j.h.start();
  REQUIRE(j.h.create(function_topology("f", "0 * * * * ?", "fails")).ok());
  REQUIRE(j.h.create(function_topology("t", "0 * * * * ?", "throws")).ok());
  REQUIRE(j.h.create(function_topology("n", "0 * * * * ?", "nobody")).ok());
  j.h.advance_to(at("2026-01-01T00:01:00Z"));

  RunInfo r = j.finished("f", kRun);
  CHECK(r.state == RunState::kFailed);
  CHECK(r.tasks.at("main").state == TaskState::kFailed);
  CHECK(r.tasks.at("main").error_message == "the mail relay is down");
  CHECK(j.output(r.tasks.at("main").task_id, OutputStream::kStderr) ==
        "epoch: the mail relay is down\n");

  r = j.finished("t", kRun);
  CHECK(r.state == RunState::kFailed);
  CHECK(r.tasks.at("main").error_message == "the handler threw: boom");

  r = j.finished("n", kRun);
  CHECK(r.state == RunState::kFailed);
  CHECK(r.tasks.at("main").error_message ==
        "no handler is registered for job 'nobody' in this program (registered: fails, throws)");
  CHECK(r.reason.value().find("no handler is registered for job 'nobody'") != std::string::npos);
}

TEST_CASE("a job that fails twice then succeeds: retried with backoff, one start per attempt") {
  JobHarness j;
  std::mutex mu;
  std::vector<std::string> starts;
  REQUIRE(j.jobs
              ->register_job("flaky",
                             [&](JobContext& c) -> Status {
                               std::lock_guard lock(mu);
                               starts.push_back(c.task_id() + "#" + std::to_string(c.attempt()));
                               if (c.attempt() < 3) return aborted("not yet");
                               return Status();
                             })
              .ok());
  j.h.start();
  Topology t = function_topology("r", "0 * * * * ?", "flaky");
  t.policies = Policies{};
  t.policies->retry = retry_policy(3);
  REQUIRE(j.h.create(t).ok());
  j.h.advance_to(at("2026-01-01T00:01:00Z"));
  j.wait_task("r", kRun, 2, TaskState::kPending);
  CHECK(j.h.run("r", kRun).tasks.at("main").not_before == at("2026-01-01T00:01:10Z"));
  CHECK(j.h.run("r", kRun).tasks.at("main").error_message ==
        "attempt 1 failed: not yet; retrying after 10 s");
  j.h.advance_to(at("2026-01-01T00:01:10Z"));
  j.wait_task("r", kRun, 3, TaskState::kPending);
  j.h.advance_to(at("2026-01-01T00:01:30Z"));
  const RunInfo r = j.finished("r", kRun);
  CHECK(r.state == RunState::kSuccessful);
  std::lock_guard lock(mu);
  const std::string id = "r-" + kRun + "-main";
  CHECK(starts == std::vector<std::string>{id + "#1", id + "-2#2", id + "-3#3"});
}

TEST_CASE(
    "timeout: the token is cancelled; a handler that returns is TIMED_OUT at once, one "
    "that does not after the grace") {
  JobHarness j;
  Gate gate;
  std::atomic<bool> polite_saw_cancel{false};
  REQUIRE(j.jobs
              ->register_job("polite",
                             [&](JobContext& c) -> Status {
                               if (c.sleep_for(1h)) return Status();
                               polite_saw_cancel = c.cancelled();
                               return cancelled("stopped at the token");
                             })
              .ok());
  REQUIRE(j.jobs->register_job("stubborn", [&](JobContext&) { gate.wait(); }).ok());
  j.h.start();
  for (const char* name : {"polite", "stubborn"}) {
    Topology t = function_topology(name, "0 * * * * ?", name);
    t.policies = Policies{};
    t.policies->timeout = Duration::seconds(30);
    REQUIRE(j.h.create(t).ok());
  }
  j.h.advance_to(at("2026-01-01T00:01:00Z"));
  j.wait_task("polite", kRun, 1, TaskState::kRunning);
  j.wait_task("stubborn", kRun, 1, TaskState::kRunning);
  j.h.advance_to(at("2026-01-01T00:01:30Z"));  // both time out: killed

  RunInfo r = j.finished("polite", kRun);
  CHECK(polite_saw_cancel);
  CHECK(r.state == RunState::kFailed);
  CHECK(r.tasks.at("main").state == TaskState::kTimedOut);
  CHECK(r.tasks.at("main").error_message == "timed out after 30 s and was killed");

  // The stubborn one is still running; its grace (5 s) is timed on the
  // ManualClock, armed on the executor's thread.
  CHECK(j.h.run("stubborn", kRun).state == RunState::kRunning);
  REQUIRE(j.h.pump_until([&] { return j.h.clock.next_timer() == at("2026-01-01T00:01:35Z"); }));
  j.h.advance_to(at("2026-01-01T00:01:34.999Z"));
  CHECK(j.h.run("stubborn", kRun).state == RunState::kRunning);
  j.h.advance_to(at("2026-01-01T00:01:35Z"));
  r = j.finished("stubborn", kRun);
  CHECK(r.tasks.at("main").state == TaskState::kTimedOut);
  CHECK(j.output(r.tasks.at("main").task_id, OutputStream::kStderr)
            .find("the handler did not return within 5 s of its cancellation") !=
        std::string::npos);
  CHECK(j.jobs->running() == 1);  // its thread is still held
  gate.open();
  REQUIRE(j.h.pump_until([&] { return j.jobs->running() == 0; }));
  j.h.pump();
  CHECK(j.h.run("stubborn", kRun).tasks.at("main").state == TaskState::kTimedOut);  // unchanged
}

TEST_CASE("kill: the handler's token is cancelled, the task CANCELLED, the run FAILED") {
  JobHarness j;
  std::atomic<bool> saw_cancel{false};
  REQUIRE(j.jobs
              ->register_job("long",
                             [&](JobContext& c) {
                               c.sleep_for(1h);
                               saw_cancel = c.cancelled();
                             })
              .ok());
  j.h.start();
  REQUIRE(j.h.create(function_topology("k", "0 * * * * ?", "long")).ok());
  j.h.advance_to(at("2026-01-01T00:01:00Z"));
  j.wait_task("k", kRun, 1, TaskState::kRunning);
  // The answer comes through the executor's thread.
  std::optional<StatusOr<bool>> killed;
  j.h.scheduler->kill_task("k", kRun, "main", [&](StatusOr<bool> r) { killed.emplace(r); });
  REQUIRE(j.h.pump_until([&] { return killed.has_value(); }));
  CHECK(killed->ok());
  const RunInfo r = j.finished("k", kRun);
  CHECK(saw_cancel);
  CHECK(r.state == RunState::kFailed);
  CHECK(r.tasks.at("main").state == TaskState::kCancelled);
  CHECK(r.reason.value().find("task main was cancelled") == 0);
}

TEST_CASE(
    "a process that dies mid-job: the next leader records the attempt LOST and retries "
    "it; no attempt starts twice") {
  JobHarness j;
  std::mutex mu;
  std::map<std::string, int> starts;  // task id -> handler calls
  const auto handler = [&](JobContext& c) -> Status {
    {
      std::lock_guard lock(mu);
      ++starts[c.task_id()];
    }
    if (c.attempt() == 1) c.sleep_for(1h);  // until the process goes
    return c.cancelled() ? cancelled("the process is going") : Status();
  };
  REQUIRE(j.jobs->register_job("work", handler).ok());
  j.h.start();
  REQUIRE(j.h.create(JobHarness::retried_when_lost("c", "work")).ok());
  j.h.advance_to(at("2026-01-01T00:01:00Z"));
  j.wait_task("c", kRun, 1, TaskState::kRunning);

  // The process goes (the scheduler and its jobs with it); what the store
  // holds is what a SIGKILL leaves: attempt 1 started, not finished.
  j.process_dies();
  CHECK(j.h.run("c", kRun).tasks.at("main").state == TaskState::kRunning);
  j.h.events.clear();

  // A new process: same jobs, a new executor that knows nothing of attempt 1.
  j.make_jobs();
  REQUIRE(j.jobs->register_job("work", handler).ok());
  j.h.advance_to(at("2026-01-01T00:01:20Z"));
  j.h.start();
  j.wait_task("c", kRun, 2, TaskState::kPending);
  RunInfo r = j.h.run("c", kRun);
  CHECK(r.tasks.at("main").error_message.find(
            "attempt 1 failed: attempt 1 is lost: the process that claimed it ended") == 0);
  bool lost_event = false;
  for (const Event& e : j.h.events.events()) {
    lost_event = lost_event ||
                 (e.type == Event::Type::kTaskStateChanged && e.task_state == TaskState::kFailed &&
                  e.message.find("is lost") != std::string::npos);
  }
  CHECK(lost_event);
  CHECK(r.tasks.at("main").not_before == at("2026-01-01T00:01:30Z"));
  j.h.advance_to(at("2026-01-01T00:01:30Z"));
  r = j.finished("c", kRun);
  CHECK(r.state == RunState::kSuccessful);
  std::lock_guard lock(mu);
  const std::string id = "c-" + kRun + "-main";
  CHECK(starts == std::map<std::string, int>{{id, 1}, {id + "-2", 1}});
}

// Holds commits while held (they go through, in order, when released).
class HeldStore : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  void commit(Batch batch, CommitCallback done) override {
    {
      std::lock_guard lock(mu_);
      if (held_) {
        waiting_.emplace_back(std::move(batch), std::move(done));
        return;
      }
    }
    StoreWrapper::commit(std::move(batch), std::move(done));
  }
  void hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void release() {
    std::vector<std::pair<Batch, CommitCallback>> go;
    {
      std::lock_guard lock(mu_);
      held_ = false;
      go.swap(waiting_);
    }
    for (auto& [b, d] : go)
      StoreWrapper::commit(std::move(b), std::move(d));
  }

 private:
  std::mutex mu_;
  bool held_ = false;
  std::vector<std::pair<Batch, CommitCallback>> waiting_;
};

// A job "quick" every minute on a store whose commits can be held, run
// up to 300 ms before the fire at 00:01 (prepared, claimed).
struct HeldJob {
  explicit HeldJob(const std::string& name) {
    j.h.store = &held;
    REQUIRE(j.jobs->register_job("quick", [this](JobContext&) { ++calls; }).ok());
    j.h.start();
    REQUIRE(j.h.create(function_topology(name, "0 * * * * ?", "quick")).ok());
    j.h.advance_to(at("2026-01-01T00:00:59.700Z"));
  }
  // Holds every commit from now on, and lets the fire happen.
  void fire_held() {
    held.hold();
    j.h.advance_to(at("2026-01-01T00:01:00Z"));
    REQUIRE(j.h.pump_until([&] { return calls == 1; }));
  }
  JobHarness j;
  HeldStore held{*j.h.own_store};
  std::atomic<int> calls{0};
};

TEST_CASE(
    "an attempt is claimed ahead of its time: at its time the handler starts without "
    "waiting for the store") {
  HeldJob hj("q");
  const RunInfo before = hj.j.h.run("q", kRun);
  CHECK(before.tasks.at("main").state == TaskState::kPending);
  CHECK(before.tasks.at("main").claimed);
  hj.fire_held();  // the handler ran though nothing reached the store
  hj.held.release();
  CHECK(hj.j.finished("q", kRun).state == RunState::kSuccessful);
}

TEST_CASE("sync() answers once what was decided is durable: a job's end, before a stop") {
  HeldJob hj("s");
  JobHarness& j = hj.j;
  HeldStore& held = hj.held;
  hj.fire_held();
  REQUIRE(j.jobs->wait_reports(std::chrono::seconds(5)));  // the end reached the engine
  std::optional<StatusOr<bool>> synced;
  j.h.scheduler->sync([&](StatusOr<bool> r) { synced.emplace(std::move(r)); });
  j.h.pump();
  CHECK_FALSE(synced.has_value());  // the end is not durable yet
  CHECK(j.h.run("s", kRun).state == RunState::kRunning);
  held.release();
  REQUIRE(j.h.pump_until([&] { return synced.has_value(); }));
  CHECK(synced->ok());
  CHECK(j.h.run("s", kRun).state == RunState::kSuccessful);  // stored before sync answered
}

TEST_CASE(
    "a process that dies after claiming an attempt, before its time: LOST, never started, "
    "retried") {
  JobHarness j;
  std::atomic<int> attempt1{0}, attempt2{0};
  const auto handler = [&](JobContext& c) { ++(c.attempt() == 1 ? attempt1 : attempt2); };
  REQUIRE(j.jobs->register_job("work", handler).ok());
  j.h.start();
  REQUIRE(j.h.create(JobHarness::retried_when_lost("e", "work")).ok());
  j.h.advance_to(at("2026-01-01T00:00:59.800Z"));
  CHECK(j.h.run("e", kRun).tasks.at("main").claimed);
  j.process_dies();  // 200 ms before the fire
  j.make_jobs();
  REQUIRE(j.jobs->register_job("work", handler).ok());
  j.h.advance_to(at("2026-01-01T00:01:02Z"));
  j.h.start();
  j.wait_task("e", kRun, 2, TaskState::kPending);
  CHECK(j.h.run("e", kRun).tasks.at("main").error_message.find(
            "attempt 1 failed: attempt 1 is lost: the process that claimed it ended") == 0);
  j.h.advance_to(at("2026-01-01T00:01:12Z"));
  CHECK(j.finished("e", kRun).state == RunState::kSuccessful);
  CHECK(attempt1 == 0);  // claimed, then never started by anyone
  CHECK(attempt2 == 1);
}

TEST_CASE(
    "a node that stops scheduling cancels its jobs; it reports them lost when it leads "
    "again") {
  JobHarness j;
  std::atomic<int> calls{0};
  REQUIRE(j.jobs
              ->register_job("work",
                             [&](JobContext& c) {
                               ++calls;
                               c.sleep_for(1h);
                             })
              .ok());
  j.h.start();
  REQUIRE(j.h.create(JobHarness::retried_when_lost("s", "work")).ok());
  j.h.advance_to(at("2026-01-01T00:01:00Z"));
  j.wait_task("s", kRun, 1, TaskState::kRunning);
  j.h.elector.revoke();  // the same process, no longer the leader: detach cancels
  j.h.pump();
  REQUIRE(j.h.pump_until([&] { return j.jobs->running() == 0; }));
  j.h.elector.elect();
  j.wait_task("s", kRun, 2, TaskState::kPending);
  CHECK(j.h.run("s", kRun).tasks.at("main").error_message.find(
            "attempt 1 failed: attempt 1 is lost: it was cancelled when this node stopped "
            "scheduling it") == 0);
  CHECK(calls == 1);
}

TEST_CASE("FUNCTION tasks mix with other task types in one composite") {
  JobHarness j;
  std::atomic<int> prepared{0};
  REQUIRE(j.jobs->register_job("prepare", [&](JobContext&) { ++prepared; }).ok());
  REQUIRE(j.jobs->register_job("broken", [](JobContext&) { return internal_error("no"); }).ok());
  j.h.start();
  Topology all = function_topology("all", "0 * * * * ?", "prepare");
  all.task = Task{CompositeTask{{function_task("prep", "prepare"), process_task("ship")},
                                CompositionType::kAll}};
  Topology any = function_topology("any", "0 * * * * ?", "broken");
  any.task = Task{CompositeTask{{function_task("try", "broken"), process_task("fallback")},
                                CompositionType::kAny}};
  REQUIRE(j.h.create(all).ok());
  REQUIRE(j.h.create(any).ok());
  j.h.advance_to(at("2026-01-01T00:01:00Z"));
  RunInfo r = j.finished("all", kRun);
  CHECK(r.state == RunState::kSuccessful);
  CHECK(r.tasks.at("prep").state == TaskState::kCompleted);
  CHECK(r.tasks.at("ship").state == TaskState::kCompleted);
  CHECK(prepared == 1);
  r = j.finished("any", kRun);
  CHECK(r.state == RunState::kSuccessful);
  CHECK(r.tasks.at("try").state == TaskState::kFailed);
  CHECK(r.tasks.at("fallback").state == TaskState::kCompleted);
  std::vector<std::string> launched;
  for (const TaskLaunch& l : j.h.executor.launches())
    launched.push_back(l.task_name);
  std::sort(launched.begin(), launched.end());
  CHECK(launched == std::vector<std::string>{"fallback", "ship"});  // only those went there
}

// ---- the executor on its own ---------------------------------------------------------

namespace {

TaskLaunch launch_of(const std::string& id, const std::string& job) {
  TaskLaunch l;
  l.task_id = id;
  l.topology_id = "t";
  l.run_id = "r";
  l.task_name = "main";
  l.task = function_task("main", job);
  return l;
}

// Collects a task's reports.
struct Reports {
  TaskObserver observer() {
    return [this](const TaskUpdate& u) {
      std::lock_guard lock(mu);
      states.push_back(u.state);
      last = u;
      threads.push_back(std::this_thread::get_id());
      cv.notify_all();
    };
  }
  bool wait_terminal() {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 20s, [&] { return !states.empty() && is_terminal(states.back()); });
  }
  std::mutex mu;
  std::condition_variable cv;
  std::vector<TaskState> states;
  std::vector<std::thread::id> threads;
  TaskUpdate last;
};

}  // namespace

TEST_CASE("register_job: names are checked, a name is taken once, handlers may return nothing") {
  FunctionExecutor jobs;
  CHECK(jobs.register_job("send-digest", [](JobContext&) {}).ok());
  CHECK(jobs.register_job("send-digest", [](JobContext&) {}).code() == StatusCode::kAlreadyExists);
  CHECK(jobs.register_job("bad name", [](JobContext&) {}).code() == StatusCode::kInvalidArgument);
  CHECK(jobs.register_job("", [](JobContext&) {}).code() == StatusCode::kInvalidArgument);
  CHECK(jobs.register_job(std::string(256, 'a'), [](JobContext&) {}).code() ==
        StatusCode::kInvalidArgument);
  CHECK(jobs.register_job("empty", JobHandler{}).code() == StatusCode::kInvalidArgument);
  CHECK(jobs.jobs() == std::vector<std::string>{"send-digest"});
  CHECK(jobs.in_process(function_task("x", "send-digest")));
  CHECK_FALSE(jobs.in_process(process_task("p")));
}

TEST_CASE("the executor never reports inline; a killed job that waited for a thread never starts") {
  FunctionExecutorOptions o;
  o.threads = 1;
  FunctionExecutor jobs(o);
  Gate gate;
  std::atomic<int> second_calls{0};
  REQUIRE(jobs.register_job("block", [&](JobContext&) { gate.wait(); }).ok());
  REQUIRE(jobs.register_job("second", [&](JobContext&) { ++second_calls; }).ok());
  Reports first, second, unknown, other;
  jobs.launch(launch_of("a", "block"), first.observer());
  jobs.launch(launch_of("b", "second"), second.observer());
  jobs.launch(launch_of("c", "none"), unknown.observer());
  TaskLaunch process = launch_of("d", "");
  process.task = process_task("main");
  jobs.launch(process, other.observer());  // no other executor was given
  {
    std::lock_guard lock(unknown.mu);
    for (auto id : unknown.threads)
      CHECK(id != std::this_thread::get_id());
  }
  std::promise<Status> killed;
  jobs.kill("b", [&](Status s) { killed.set_value(s); });
  CHECK(killed.get_future().get().ok());
  REQUIRE(second.wait_terminal());
  CHECK(second.last.state == TaskState::kCancelled);
  CHECK(second.last.error_message == "killed before its handler started");
  REQUIRE(unknown.wait_terminal());
  CHECK(unknown.last.error_message ==
        "no handler is registered for job 'none' in this program (registered: block, second)");
  REQUIRE(other.wait_terminal());
  CHECK(other.last.error_message ==
        "this program runs only FUNCTION tasks (its jobs); no executor for PROCESS tasks was set "
        "up");
  gate.open();
  REQUIRE(first.wait_terminal());
  CHECK(first.last.state == TaskState::kCompleted);
  CHECK(second_calls == 0);
  for (Reports* r : {&first, &second, &unknown, &other}) {
    std::lock_guard lock(r->mu);
    for (auto id : r->threads)
      CHECK(id != std::this_thread::get_id());
  }
  // A launch of an attempt it does not hold, that the store says started:
  // lost, never started.
  Reports resumed;
  TaskLaunch again = launch_of("e", "second");
  again.resumed = true;
  jobs.launch(again, resumed.observer());
  REQUIRE(resumed.wait_terminal());
  CHECK(resumed.last.lost);
  CHECK(second_calls == 0);
}

TEST_CASE("output is kept up to the limit per stream, then one line says the rest was dropped") {
  FunctionExecutorOptions o;
  o.max_output_bytes = 64;
  FunctionExecutor jobs(o);
  REQUIRE(jobs.register_job("chatty",
                            [](JobContext& c) {
                              for (int i = 0; i < 100; ++i)
                                c.log("line " + std::to_string(i));
                            })
              .ok());
  Reports r;
  jobs.launch(launch_of("a", "chatty"), r.observer());
  REQUIRE(r.wait_terminal());
  const auto out = jobs.read_output("a", OutputStream::kStdout, 0, 1 << 20);
  REQUIRE(out.ok());
  CHECK(out->data.rfind("[epoch: output past 64 bytes dropped]\n") != std::string::npos);
  CHECK(out->data.find("line 8\n") != std::string::npos);  // 9 lines of 7 bytes fit in 64
  CHECK(out->data.find("line 9\n") == std::string::npos);
  const auto tail = jobs.read_output("a", OutputStream::kStdout, 5, 3);
  REQUIRE(tail.ok());
  CHECK(tail->data == "0\nl");
  CHECK(tail->size == out->size);
  CHECK(jobs.read_output("a", OutputStream::kStdout, -1, 3).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(jobs.read_output("zz", OutputStream::kStdout, 0, 3).status().code() ==
        StatusCode::kNotFound);
  std::promise<Status> cleaned;
  jobs.cleanup("a", [&](Status s) { cleaned.set_value(s); });
  CHECK(cleaned.get_future().get().ok());
  CHECK(jobs.read_output("a", OutputStream::kStdout, 0, 3).status().code() ==
        StatusCode::kNotFound);
}
