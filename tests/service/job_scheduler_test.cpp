// JobScheduler, the one-call set-up: real stores (memory, a SQLite file,
// ZooKeeper), its own threads, a ManualClock for every fire.
#include "epoch/job_scheduler.h"

#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "daemon_process.h"
#include "zk_server.h"

using namespace epoch;
using namespace std::chrono_literals;

namespace {

Instant at(const char* iso) {
  return *parse_instant(iso);
}

template <typename Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = 20s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

JobSchedulerOptions manual(ManualClock& clock) {
  JobSchedulerOptions o;
  o.clock = &clock;
  o.other_tasks = JobSchedulerOptions::Tasks::kNone;
  o.scheduler.retention_interval = 0ms;
  o.jobs.kill_grace = 1s;
  return o;
}

// Moves the ManualClock to `t` one timer at a time, giving the scheduler's
// threads a moment after each.
void advance_to(ManualClock& clock, Instant t) {
  while (true) {
    const auto next = clock.next_timer();
    if (!next || *next > t) break;
    clock.set(*next);
    std::this_thread::sleep_for(5ms);
  }
  clock.set(t);
}

RunState state_of(JobScheduler& s, const std::string& topology, const std::string& run) {
  auto r = s.run(topology, run);
  if (!r.ok() || !r->has_value()) return RunState::kRunning;
  return (*r)->state;
}

const std::string kRun = "ESR-2026-01-01-00-01-00-000";

}  // namespace

TEST_CASE("one call: a memory store, a job, blocking and future calls, typed listeners") {
  ManualClock clock(at("2026-01-01T00:00:00Z"));
  JobSchedulerOptions o = manual(clock);
  std::atomic<int> calls{0};
  o.register_job("count", [&](JobContext& c) {
    ++calls;
    c.log("run " + c.run_id());
  });
  auto started = JobScheduler::start(std::move(o));
  REQUIRE_MESSAGE(started.ok(), started.status().message());
  JobScheduler& s = **started;
  REQUIRE(s.wait_until_leader(10s));

  std::mutex mu;
  std::vector<std::string> seen;
  Status from_listener;
  s.on_run([&](const RunEvent& e) {
    std::lock_guard lock(mu);
    seen.push_back("run " + e.run_id + " " + std::string(to_string(e.state)));
    if (e.state != RunState::kRunning && from_listener.ok()) {
      // A blocking call here would wait for itself: refused.
      from_listener = s.list().status();
    }
  });
  s.on_task([&](const TaskEvent& e) {
    std::lock_guard lock(mu);
    seen.push_back("task " + e.task_id + " " + std::string(to_string(e.state)));
  });

  const auto created = s.create(function_topology("every-minute", "0 * * * * ?", "count"));
  REQUIRE_MESSAGE(created.ok(), created.status().message());
  CHECK(s.create(function_topology("every-minute", "0 * * * * ?", "count")).status().code() ==
        StatusCode::kAlreadyExists);
  auto listed = s.list_async().get();
  REQUIRE(listed.ok());
  CHECK(listed->size() == 1);
  CHECK(s.get("every-minute")->next_fire == at("2026-01-01T00:01:00Z"));

  advance_to(clock, at("2026-01-01T00:01:00Z"));
  REQUIRE(eventually([&] { return state_of(s, "every-minute", kRun) != RunState::kRunning; }));
  const auto run = s.run("every-minute", kRun);
  REQUIRE(run.ok());
  CHECK((*run)->state == RunState::kSuccessful);
  CHECK(calls == 1);
  const std::string task_id = (*run)->tasks.at("main").task_id;
  const auto out = s.executor().read_output(task_id, OutputStream::kStdout, 0, 100);
  REQUIRE(out.ok());
  CHECK(out->data == "run " + kRun + "\n");

  REQUIRE(eventually([&] {
    std::lock_guard lock(mu);
    return !from_listener.ok();
  }));
  std::lock_guard lock(mu);
  CHECK(from_listener.code() == StatusCode::kFailedPrecondition);
  const std::vector<std::string> expected = {
      "run " + kRun + " RUNNING", "task " + task_id + " STARTING", "task " + task_id + " RUNNING",
      "task " + task_id + " COMPLETED", "run " + kRun + " SUCCESSFUL"};
  CHECK(seen == expected);
}

TEST_CASE("declared topologies are created, then updated when they differ; bad ones refused") {
  ManualClock clock(at("2026-01-01T00:00:00Z"));
  JobSchedulerOptions o = manual(clock);
  o.register_job("noop", [](JobContext&) {});
  auto s = JobScheduler::start(std::move(o));
  REQUIRE(s.ok());
  REQUIRE((*s)->wait_until_leader(10s));
  REQUIRE((*s)->declare(function_topology("a", "0 0 * * * ?", "noop")).ok());
  Topology bad = function_topology("b", "not cron", "noop");
  CHECK((*s)->declare(bad).code() == StatusCode::kInvalidArgument);
  REQUIRE(eventually([&] { return (*s)->get("a").ok(); }));
  REQUIRE((*s)->declare(function_topology("a", "0 30 * * * ?", "noop")).ok());
  REQUIRE(eventually([&] {
    auto v = (*s)->get("a");
    return v.ok() && std::get<CronTrigger>(v->details.topology.trigger).time_spec == "0 30 * * * ?";
  }));
  REQUIRE(eventually([&] { return (*s)->declared().at(0).second.ok(); }));
  CHECK((*s)->declared().size() == 1);
}

TEST_CASE("a topology declared right after start is always applied (no race with the election)") {
  // Found by the jobs_service example under load: the declaration asked the
  // Scheduler whether it led before its strand had heard of the election,
  // and the election had applied the declarations made so far (none).
  for (int i = 0; i < 50; ++i) {
    JobSchedulerOptions o;
    o.io_threads = 1;
    o.register_job("noop", [](JobContext&) {});
    auto s = JobScheduler::start(std::move(o));
    REQUIRE(s.ok());
    REQUIRE((*s)->declare(function_topology("d", "0 0 * * * ?", "noop")).ok());
    REQUIRE(eventually([&] { return (*s)->get("d").ok(); }, 10s));
  }
}

TEST_CASE("given an io_context, the JobScheduler posts its work there and starts no threads") {
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::thread runner([&] { ioc.run(); });
  ManualClock clock(at("2026-01-01T00:00:00Z"));
  std::atomic<int> calls{0};
  std::atomic<bool> on_runner{false};
  {
    JobSchedulerOptions o = manual(clock);
    o.io_context = &ioc;
    o.register_job("tick", [&](JobContext&) { ++calls; });
    auto s = JobScheduler::start(std::move(o));
    REQUIRE(s.ok());
    (*s)->on_run(
        [&](const RunEvent&) { on_runner = std::this_thread::get_id() == runner.get_id(); });
    REQUIRE((*s)->create(function_topology("t", "0 * * * * ?", "tick")).ok());
    advance_to(clock, at("2026-01-01T00:01:00Z"));
    REQUIRE(eventually([&] { return state_of(**s, "t", kRun) == RunState::kSuccessful; }));
    CHECK(calls == 1);
    CHECK(on_runner);  // listeners ran on the caller's io_context thread
  }                    // destroyed while the caller still runs its io_context, as documented
  work.reset();
  runner.join();
}

TEST_CASE("start refuses what cannot work, saying why") {
  JobSchedulerOptions o;
  o.store = SqliteStoreOptions{"/nonexistent-dir/x/jobs.db"};
  auto s = JobScheduler::start(std::move(o));
  CHECK_FALSE(s.ok());
  JobSchedulerOptions bad_job;
  bad_job.other_tasks = JobSchedulerOptions::Tasks::kNone;
  bad_job.register_job("not a name", [](JobContext&) {});
  s = JobScheduler::start(std::move(bad_job));
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == StatusCode::kInvalidArgument);
  CHECK(s.status().message().find("job name 'not a name'") == 0);
  JobSchedulerOptions no_threads;
  no_threads.io_threads = 0;
  CHECK(JobScheduler::start(std::move(no_threads)).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("a SQLite file across a restart mid-job: the attempt is LOST, retried once, and done") {
  const std::string dir = epoch::test::make_temp_dir("jobs-sqlite");
  ManualClock clock(at("2026-01-01T00:00:00Z"));
  std::mutex mu;
  std::map<std::string, int> starts;
  const auto options = [&] {
    JobSchedulerOptions o = manual(clock);
    o.store = SqliteStoreOptions{dir + "/jobs.db"};
    o.register_job("work", [&](JobContext& c) -> Status {
      {
        std::lock_guard lock(mu);
        ++starts[c.task_id()];
      }
      if (c.attempt() == 1) c.sleep_for(1h);  // until the process goes
      return c.cancelled() ? cancelled("going") : Status();
    });
    return o;
  };
  Topology t = function_topology("w", "0 * * * * ?", "work");
  t.policies = Policies{};
  RetryPolicy retry;
  retry.max_attempts = 2;
  retry.initial_backoff = Duration::seconds(10);
  retry.jitter = 0;
  t.policies->retry = retry;
  {
    auto s = JobScheduler::start(options());
    REQUIRE(s.ok());
    // A second process on the same file would be a second leader: refused.
    const auto second = JobScheduler::start(options());
    REQUIRE_FALSE(second.ok());
    CHECK(second.status().message().find("another process schedules from the SQLite store") == 0);
    REQUIRE((*s)->create(t).ok());
    advance_to(clock, at("2026-01-01T00:01:00Z"));
    REQUIRE(eventually([&] {
      auto r = (*s)->run("w", kRun);
      return r.ok() && r->has_value() && (*r)->tasks.at("main").state == TaskState::kRunning;
    }));
  }  // the process goes mid-job
  clock.set(at("2026-01-01T00:01:05Z"));
  auto s = JobScheduler::start(options());
  REQUIRE(s.ok());
  REQUIRE(eventually([&] {
    auto r = (*s)->run("w", kRun);
    return r.ok() && r->has_value() && (*r)->tasks.at("main").attempt == 2;
  }));
  auto r = (*s)->run("w", kRun);
  CHECK((*r)->tasks.at("main").error_message.find("attempt 1 failed: attempt 1 is lost") == 0);
  advance_to(clock, at("2026-01-01T00:01:15Z"));
  REQUIRE(eventually([&] { return state_of(**s, "w", kRun) != RunState::kRunning; }));
  CHECK(state_of(**s, "w", kRun) == RunState::kSuccessful);
  s = Status();  // closes the file
  std::lock_guard lock(mu);
  const std::string id = "w-" + kRun + "-main";
  CHECK(starts == std::map<std::string, int>{{id, 1}, {id + "-2", 1}});
  std::filesystem::remove_all(dir);
}

TEST_CASE(
    "two copies on ZooKeeper: one leads, the declared topology is created once, the "
    "other takes over when the leader goes") {
  epoch::test::ZkServer zk;
  ManualClock clock(at("2026-01-01T00:00:00Z"));
  std::mutex mu;
  std::vector<std::string> ran;  // "node task_id"
  const auto options = [&](const std::string& node) {
    JobSchedulerOptions o = manual(clock);
    ZkOptions z;
    z.hosts = zk.hosts();
    z.name_space = "jobs";
    z.session_timeout = 1000ms;
    o.store = z;
    o.node_name = node;
    o.register_job("tick", [&, node](JobContext& c) {
      std::lock_guard lock(mu);
      ran.push_back(node + " " + c.task_id());
    });
    return o;
  };
  auto a = JobScheduler::start(options("a"));
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  REQUIRE((*a)->wait_until_leader(20s));
  auto b = JobScheduler::start(options("b"));
  REQUIRE(b.ok());
  const Topology t = function_topology("tick", "0 * * * * ?", "tick");
  REQUIRE((*a)->declare(t).ok());
  REQUIRE((*b)->declare(t).ok());
  CHECK_FALSE((*b)->is_leader());
  REQUIRE(eventually([&] { return (*a)->get("tick").ok(); }));
  CHECK((*b)->create(t).status().code() == StatusCode::kUnavailable);  // not the leader

  advance_to(clock, at("2026-01-01T00:01:00Z"));
  REQUIRE(eventually([&] { return state_of(**b, "tick", kRun) == RunState::kSuccessful; }));
  a = Status();  // the leader goes
  REQUIRE((*b)->wait_until_leader(20s));
  REQUIRE(eventually([&] { return (*b)->get("tick").ok(); }));
  advance_to(clock, at("2026-01-01T00:02:00Z"));
  const std::string second = "ESR-2026-01-01-00-02-00-000";
  REQUIRE(eventually([&] { return state_of(**b, "tick", second) == RunState::kSuccessful; }));
  std::lock_guard lock(mu);
  CHECK(ran == std::vector<std::string>{"a tick-" + kRun + "-main", "b tick-" + second + "-main"});
}
