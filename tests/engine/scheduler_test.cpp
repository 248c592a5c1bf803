// The engine, driven by a ManualClock and a FakeExecutor: no sleeps.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "epoch/cron.h"
#include "harness.h"

using namespace epoch;
using namespace epoch::test;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST_CASE("a cron topology fires on time, once per nominal fire, and succeeds") {
  Harness h(at("2026-01-01T00:00:00Z"));
  h.start();
  REQUIRE(h.create(process_topology("every10", "*/10 * * * * ?")).ok());
  h.advance_to(at("2026-01-01T00:01:00Z"));
  const auto runs = h.runs("every10");
  REQUIRE(runs.size() == 6);
  CHECK(runs.front().run_id == "ESR-2026-01-01-00-00-10-000");
  CHECK(runs.back().run_id == "ESR-2026-01-01-00-01-00-000");
  for (const RunInfo& r : runs) {
    INFO(r.run_id);
    CHECK(r.state == RunState::kSuccessful);
    CHECK(r.message == "Task successful");
    CHECK(r.run_type == RunType::kScheduled);
    CHECK(r.tasks.at("main").state == TaskState::kCompleted);
    CHECK(r.tasks.at("main").task_id == "every10-" + r.run_id + "-main");
    CHECK(h.executor.create_count(r.tasks.at("main").task_id) == 1);
  }
  // The environment every task gets.
  const auto env = epoch_task_env(h.executor.launches().front());
  CHECK(env.at("EPOCH_TOPOLOGY_ID") == "every10");
  CHECK(env.at("EPOCH_RUN_ID") == "ESR-2026-01-01-00-00-10-000");
  CHECK(env.at("EPOCH_RUN_TYPE") == "SCHEDULED");
  CHECK(env.at("EPOCH_ATTEMPT") == "1");
  CHECK(env.at("EPOCH_TASK_ID") == "every10-ESR-2026-01-01-00-00-10-000-main");
  CHECK(env.at("EPOCH_SCHEDULED_TIME") == "2026-01-01T00:00:10.000Z");
  CHECK(env.at("EPOCH_SCHEDULED_TIME_MS") == "1767225610000");
  // Runs are read from the store, newest first, filtered.
  auto listed = h.store->load_runs("every10", RunQuery{{}, {}, 2, std::nullopt});
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 2);
  CHECK(listed->front().run.run_id == "ESR-2026-01-01-00-01-00-000");
  CHECK(h.run("every10", "ESR-2026-01-01-00-00-10-000").state == RunState::kSuccessful);
  auto view = h.call<TopologyView>([&](auto cb) { h.scheduler->get_topology("every10", cb); });
  CHECK(view->next_fire == at("2026-01-01T00:01:10Z"));
  CHECK(view->live_runs.empty());
  // The topology remembers the last fire it handled.
  CHECK(h.store->load_topology("every10")->value().last_fire == at("2026-01-01T00:01:00Z"));
}

TEST_CASE("a fire is prepared ahead: stored before its time, launched at its time") {
  Harness h(at("2026-01-01T00:00:00Z"));
  h.start();
  REQUIRE(h.create(process_topology("early", "0 0 * * * ?")).ok());
  h.advance_to(at("2026-01-01T00:59:59.600Z"));
  const RunInfo r = h.run("early", "ESR-2026-01-01-01-00-00-000");
  CHECK(r.state == RunState::kRunning);
  CHECK(r.tasks.at("main").state == TaskState::kPending);
  CHECK(r.tasks.at("main").not_before == at("2026-01-01T01:00:00Z"));
  CHECK(h.executor.launches().empty());
  // A restart in between does not launch it early either.
  h.restart();
  CHECK(h.executor.launches().empty());
  h.advance_to(at("2026-01-01T00:59:59.999Z"));
  CHECK(h.executor.launches().empty());
  h.advance_to(at("2026-01-01T01:00:00Z"));
  CHECK(h.executor.launches().size() == 1);
  CHECK(h.run("early", "ESR-2026-01-01-01-00-00-000").state == RunState::kSuccessful);
}

TEST_CASE("bad input is refused and stores nothing") {
  Harness h(at("2026-01-01T00:00:00Z"));
  h.start();
  Topology bad = process_topology("bad", "0 0 25 * * ?");
  auto r = h.create(bad);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("hours must be 0-23") != std::string::npos);
  CHECK(h.store->load_topologies()->empty());
  REQUIRE(h.create(process_topology("dup", "0 * * * * ?")).ok());
  auto again = h.create(process_topology("dup", "0 * * * * ?"));
  CHECK(again.status().code() == StatusCode::kAlreadyExists);
  auto missing = h.call<TopologyDetails>([&](auto cb) { h.scheduler->pause("nope", cb); });
  CHECK(missing.status().code() == StatusCode::kNotFound);
}

TEST_CASE("composite ALL stops at the first failure; later tasks stay PENDING") {
  Harness h(at("2026-01-01T00:00:00Z"));
  h.start();
  Topology t = process_topology("etl", "0 * * * * ?");
  CompositeTask all;
  all.tasks = {process_task("a"), process_task("b"), process_task("c")};
  t.task.spec = all;
  FakeExecutor::Script fail;
  fail.outcome = TaskState::kFailed;
  fail.exit_code = 3;
  fail.error = "exit code 3";
  h.executor.script("b", fail);
  REQUIRE(h.create(t).ok());
  h.advance_to(at("2026-01-01T00:01:00Z"));
  const RunInfo r = h.run("etl", "ESR-2026-01-01-00-01-00-000");
  CHECK(r.state == RunState::kFailed);
  CHECK(r.message == "Task failed");
  CHECK(r.reason == "task b failed: exit code 3");
  CHECK(r.tasks.at("a").state == TaskState::kCompleted);
  CHECK(r.tasks.at("b").state == TaskState::kFailed);
  CHECK(r.tasks.at("b").exit_code == 3);
  CHECK(r.tasks.at("c").state == TaskState::kPending);
}

TEST_CASE("composite ANY succeeds at the first success; nested trees run in order") {
  Harness h(at("2026-01-01T00:00:00Z"));
  h.start();
  Topology t = process_topology("any", "0 * * * * ?");
  CompositeTask any;
  any.composition = CompositionType::kAny;
  CompositeTask inner;
  inner.tasks = {process_task("x"), process_task("y")};
  any.tasks = {process_task("a"), Task{inner}, process_task("z")};
  t.task.spec = any;
  FakeExecutor::Script fail;
  fail.outcome = TaskState::kFailed;
  h.executor.script("a", fail);
  REQUIRE(h.create(t).ok());
  h.advance_to(at("2026-01-01T00:01:00Z"));
  const RunInfo r = h.run("any", "ESR-2026-01-01-00-01-00-000");
  CHECK(r.state == RunState::kSuccessful);
  CHECK(r.tasks.at("a").state == TaskState::kFailed);
  CHECK(r.tasks.at("x").state == TaskState::kCompleted);
  CHECK(r.tasks.at("y").state == TaskState::kCompleted);
  CHECK(r.tasks.at("z").state == TaskState::kPending);
  std::vector<std::string> order;
  for (const TaskLaunch& l : h.executor.launches())
    order.push_back(l.task_name);
  CHECK(order == std::vector<std::string>{"a", "x", "y"});

  // ANY with no success fails with Epoch's message.
  h.executor.script("x", fail);
  h.executor.script("z", fail);
  h.advance_to(at("2026-01-01T00:02:00Z"));
  const RunInfo r2 = h.run("any", "ESR-2026-01-01-00-02-00-000");
  CHECK(r2.state == RunState::kFailed);
  CHECK(r2.reason == "Unknown status for composite task");
}

TEST_CASE("instant runs COMPLETE, also while paused; AT triggers fire at their time, once") {
  Harness h(at("2026-01-01T00:00:00Z"));
  h.start();
  REQUIRE(h.create(process_topology("manual", "0 0 0 1 1 ? 2099")).ok());
  REQUIRE(h.call<TopologyDetails>([&](auto cb) { h.scheduler->pause("manual", cb); }).ok());
  auto id = h.call<std::string>([&](auto cb) { h.scheduler->run_now("manual", cb); });
  REQUIRE(id.ok());
  CHECK(*id == "EIR-2026-01-01-00-00-00-000");
  auto id2 = h.call<std::string>([&](auto cb) { h.scheduler->run_now("manual", cb); });
  CHECK(*id2 == "EIR-2026-01-01-00-00-00-001");  // unique even within one millisecond
  CHECK(h.run("manual", *id).state == RunState::kCompleted);
  CHECK(h.run("manual", *id).run_type == RunType::kInstant);

  Topology once = process_topology("once", "");
  once.trigger = AtTrigger{at("2026-01-01T00:05:00Z")};
  REQUIRE(h.create(once).ok());
  h.advance_to(at("2026-01-01T00:04:59Z"));
  CHECK(h.runs("once").empty());
  h.advance_to(at("2026-01-02T00:00:00Z"));
  const auto runs = h.runs("once");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].run_id == "ESR-2026-01-01-00-05-00-000");
  CHECK(runs[0].state == RunState::kCompleted);
  // After a restart it does not fire again.
  h.restart();
  h.advance_to(at("2026-01-03T00:00:00Z"));
  CHECK(h.runs("once").size() == 1);
}

TEST_CASE("SERIAL: fires that pass during a run are SKIPPED with the reason") {
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
  h.start();
  REQUIRE(h.create(process_topology("slow", "0 * * * * ?")).ok());
  h.advance_to(at("2026-01-01T00:03:30Z"));
  auto runs = h.runs("slow");
  REQUIRE(runs.size() == 3);
  CHECK(states_of(runs) == std::vector<std::string>{"RUNNING", "SKIPPED", "SKIPPED"});
  CHECK(runs[1].reason == "run ESR-2026-01-01-00-01-00-000 is still running");
  h.executor.finish("slow-ESR-2026-01-01-00-01-00-000-main", TaskState::kCompleted);
  h.pump();
  h.advance_to(at("2026-01-01T00:04:00Z"));
  runs = h.runs("slow");
  CHECK(states_of(runs) == std::vector<std::string>{"SUCCESSFUL", "SKIPPED", "SKIPPED", "RUNNING"});
}

TEST_CASE("a run that ends inside the prepare window does not make the next fire SKIPPED") {
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
  h.start();
  REQUIRE(h.create(process_topology("tight", "0/2 * * ? * *")).ok());
  h.advance_to(at("2026-01-01T00:00:02Z"));
  // The run of :02 ends at :03.8, after the :04 fire was prepared (:03.5).
  h.advance_to(at("2026-01-01T00:00:03.800Z"));
  h.executor.finish("tight-ESR-2026-01-01-00-00-02-000-main", TaskState::kCompleted);
  h.pump();
  h.advance_to(at("2026-01-01T00:00:04Z"));
  auto runs = h.runs("tight");
  REQUIRE(runs.size() == 2);
  CHECK(states_of(runs) == std::vector<std::string>{"SUCCESSFUL", "RUNNING"});
  CHECK(runs[1].run_id == "ESR-2026-01-01-00-00-04-000");
  CHECK(h.executor.launches().size() == 2);
  // Still running at its instant: the :06 fire is SKIPPED then, at :06.
  h.advance_to(at("2026-01-01T00:00:06Z"));
  runs = h.runs("tight");
  REQUIRE(runs.size() == 3);
  CHECK(states_of(runs) == std::vector<std::string>{"SUCCESSFUL", "RUNNING", "SKIPPED"});
  CHECK(runs[2].created == at("2026-01-01T00:00:06Z"));
}

TEST_CASE("pause during a run: the run finishes, fires are SKIPPED, resume is idempotent") {
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
  h.start();
  REQUIRE(h.create(process_topology("p", "0 * * * * ?")).ok());
  h.advance_to(at("2026-01-01T00:01:10Z"));
  auto paused = h.call<TopologyDetails>([&](auto cb) { h.scheduler->pause("p", cb); });
  REQUIRE(paused.ok());
  CHECK(paused->state == TopologyState::kPaused);
  // Pausing twice changes nothing.
  CHECK(h.call<TopologyDetails>([&](auto cb) { h.scheduler->pause("p", cb); })->updated ==
        paused->updated);
  h.executor.finish("p-ESR-2026-01-01-00-01-00-000-main", TaskState::kCompleted);
  h.advance_to(at("2026-01-01T00:03:10Z"));
  auto runs = h.runs("p");
  CHECK(states_of(runs) == std::vector<std::string>{"SUCCESSFUL", "SKIPPED", "SKIPPED"});
  CHECK(runs[1].reason == "topology is paused");
  REQUIRE(h.call<TopologyDetails>([&](auto cb) { h.scheduler->resume("p", cb); }).ok());
  REQUIRE(h.call<TopologyDetails>([&](auto cb) { h.scheduler->resume("p", cb); }).ok());
  h.advance_to(at("2026-01-01T00:04:10Z"));
  runs = h.runs("p");
  REQUIRE(runs.size() == 4);  // one fire at 00:04, not two
  CHECK(runs.back().state == RunState::kRunning);
  CHECK(h.executor.launches().size() == 2);
}

TEST_CASE("update of the cron while a run is going re-arms from now; the run keeps its spec") {
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
  h.start();
  REQUIRE(h.create(process_topology("u", "0 0 * * * ?")).ok());
  h.advance_to(at("2026-01-01T01:00:30Z"));
  Topology next = process_topology("u", "0 */15 * * * ?");
  std::get<ProcessTask>(next.task.spec).command = "/bin/false";
  REQUIRE(h.call<TopologyDetails>([&](auto cb) { h.scheduler->update(next, cb); }).ok());
  h.executor.finish("u-ESR-2026-01-01-01-00-00-000-main", TaskState::kCompleted);
  h.advance_to(at("2026-01-01T01:16:00Z"));
  const auto runs = h.runs("u");
  CHECK(ids_of(runs) ==
        std::vector<std::string>{"ESR-2026-01-01-01-00-00-000", "ESR-2026-01-01-01-15-00-000"});
  const auto launches = h.executor.launches();
  REQUIRE(launches.size() == 2);
  CHECK(std::get<ProcessTask>(launches[0].task.spec).command == "/bin/true");
  CHECK(std::get<ProcessTask>(launches[1].task.spec).command == "/bin/false");
}

TEST_CASE("delete stops the schedule; with kill it kills live tasks; records are gone") {
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
  h.start();
  REQUIRE(h.create(process_topology("d", "0 * * * * ?")).ok());
  h.advance_to(at("2026-01-01T00:01:10Z"));
  auto removed = h.call<bool>([&](auto cb) { h.scheduler->remove("d", true, cb); });
  REQUIRE(removed.ok());
  CHECK(*removed);
  CHECK(h.executor.killed() == std::vector<std::string>{"d-ESR-2026-01-01-00-01-00-000-main"});
  h.advance_to(at("2026-01-01T00:10:00Z"));
  CHECK(h.runs("d").empty());
  CHECK_FALSE(h.store->load_topology("d")->has_value());
  CHECK(h.executor.launches().size() == 1);
  CHECK(h.call<bool>([&](auto cb) { h.scheduler->remove("d", false, cb); }).status().code() ==
        StatusCode::kNotFound);
}

TEST_CASE("kill a task: the task is CANCELLED and the run FAILED") {
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
  h.start();
  REQUIRE(h.create(process_topology("k", "0 * * * * ?")).ok());
  h.advance_to(at("2026-01-01T00:01:10Z"));
  const std::string run = "ESR-2026-01-01-00-01-00-000";
  CHECK(h.call<bool>([&](auto cb) { h.scheduler->kill_task("k", run, "nope", cb); })
            .status()
            .code() == StatusCode::kNotFound);
  auto killed = h.call<bool>([&](auto cb) { h.scheduler->kill_task("k", run, "main", cb); });
  REQUIRE(killed.ok());
  h.pump();
  const RunInfo r = h.run("k", run);
  CHECK(r.state == RunState::kFailed);
  CHECK(r.tasks.at("main").state == TaskState::kCancelled);
  CHECK(r.reason.value().find("task main was cancelled") == 0);
}

TEST_CASE("retries: exponential backoff, attempt ids, then success") {
  Harness h(at("2026-01-01T00:00:00Z"));
  h.start();
  Topology t = process_topology("r", "0 0 * * * ?");
  Policies p;
  RetryPolicy retry;
  retry.max_attempts = 3;
  retry.initial_backoff = Duration::seconds(10);
  retry.multiplier = 2;
  retry.jitter = 0;
  p.retry = retry;
  t.policies = p;
  FakeExecutor::Script fail;
  fail.outcome = TaskState::kFailed;
  fail.error = "boom";
  h.executor.script_once("main", fail);
  h.executor.script_once("main", fail);
  REQUIRE(h.create(t).ok());
  h.advance_to(at("2026-01-01T01:00:00Z"));
  const std::string run = "ESR-2026-01-01-01-00-00-000";
  RunInfo r = h.run("r", run);
  CHECK(r.state == RunState::kRunning);
  CHECK(r.tasks.at("main").attempt == 2);
  CHECK(r.tasks.at("main").task_id == "r-" + run + "-main-2");
  CHECK(r.tasks.at("main").not_before == at("2026-01-01T01:00:10Z"));
  h.advance_to(at("2026-01-01T01:00:10Z"));  // attempt 2 fails; next after 20 s
  r = h.run("r", run);
  CHECK(r.tasks.at("main").attempt == 3);
  CHECK(r.tasks.at("main").not_before == at("2026-01-01T01:00:30Z"));
  h.advance_to(at("2026-01-01T01:00:30Z"));
  r = h.run("r", run);
  CHECK(r.state == RunState::kSuccessful);
  CHECK(h.executor.create_count("r-" + run + "-main") == 1);
  CHECK(h.executor.create_count("r-" + run + "-main-2") == 1);
  CHECK(h.executor.create_count("r-" + run + "-main-3") == 1);
  CHECK(epoch_task_env(h.executor.launches()[2]).at("EPOCH_ATTEMPT") == "3");
}

TEST_CASE(
    "timeout kills the task and fails the run with the reason; an image that cannot be "
    "pulled fails the run") {
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
  h.start();
  Topology t = process_topology("t", "0 0 * * * ?");
  Policies p;
  p.timeout = Duration::minutes(5);
  t.policies = p;
  REQUIRE(h.create(t).ok());
  h.advance_to(at("2026-01-01T01:06:00Z"));
  const RunInfo r = h.run("t", "ESR-2026-01-01-01-00-00-000");
  CHECK(r.state == RunState::kFailed);
  CHECK(r.tasks.at("main").state == TaskState::kTimedOut);
  CHECK(r.tasks.at("main").error_message == "timed out after 5 min and was killed");
  CHECK(r.reason == "task main timed out: timed out after 5 min and was killed");
  // The events say the same: the task TIMED_OUT, then the run FAILED.
  bool task_event = false;
  for (const Event& e : h.events.events()) {
    if (e.type == Event::Type::kTaskStateChanged && e.task_state == TaskState::kTimedOut)
      task_event = true;
  }
  CHECK(task_event);

  Harness h2(at("2026-01-01T00:00:00Z"));
  h2.start();
  FakeExecutor::Script pull;
  pull.fail_to_start = true;
  pull.error = "image pull failed: manifest unknown";
  h2.executor.script("main", pull);
  REQUIRE(h2.create(process_topology("img", "0 0 * * * ?")).ok());
  h2.advance_to(at("2026-01-01T01:00:00Z"));
  const RunInfo r2 = h2.run("img", "ESR-2026-01-01-01-00-00-000");
  CHECK(r2.state == RunState::kFailed);
  CHECK(r2.reason == "task main failed: image pull failed: manifest unknown");
}

TEST_CASE("retries on TIMED_OUT and on LOST; not on an outcome the policy leaves out") {
  SchedulerOptions o = Harness::test_options();
  o.unknown_task_timeout = minutes(1);
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual, o);
  h.start();
  RetryPolicy retry;
  retry.max_attempts = 2;
  retry.initial_backoff = Duration::seconds(5);
  retry.jitter = 0;
  // A task that hangs: timed out, retried once.
  Topology slow = process_topology("slow", "0 0 * * * ?");
  slow.policies = Policies{};
  slow.policies->timeout = Duration::minutes(2);
  slow.policies->retry = retry;
  slow.policies->retry->on = {RetryOn::kTimedOut};
  REQUIRE(h.create(slow).ok());
  // A task that vanishes from the executor: lost, retried once.
  Topology ghost = process_topology("ghost", "0 0 * * * ?");
  std::get<ProcessTask>(ghost.task.spec).task_name = "g";
  ghost.policies = Policies{};
  ghost.policies->retry = retry;
  ghost.policies->retry->on = {RetryOn::kLost};
  FakeExecutor::Script vanish;
  vanish.never_appears = true;
  h.executor.script_once("g", vanish);
  REQUIRE(h.create(ghost).ok());
  // A plain failure with retries only on TIMED_OUT: no retry.
  Topology fails = process_topology("fails", "0 0 * * * ?");
  std::get<ProcessTask>(fails.task.spec).task_name = "f";
  fails.policies = Policies{};
  fails.policies->retry = retry;
  fails.policies->retry->on = {RetryOn::kTimedOut};
  REQUIRE(h.create(fails).ok());
  h.advance_to(at("2026-01-01T01:00:30Z"));
  h.executor.finish("fails-ESR-2026-01-01-01-00-00-000-f", TaskState::kFailed, 1, "nope");
  h.advance_to(at("2026-01-01T01:02:10Z"));
  RunInfo r = h.run("slow", "ESR-2026-01-01-01-00-00-000");
  CHECK(r.state == RunState::kRunning);
  CHECK(r.tasks.at("main").attempt == 2);
  CHECK(r.tasks.at("main").error_message ==
        "attempt 1 failed: timed out after 2 min and was killed; retrying after 5 s");
  CHECK(h.executor.create_count("slow-ESR-2026-01-01-01-00-00-000-main-2") == 1);
  r = h.run("ghost", "ESR-2026-01-01-01-00-00-000");
  CHECK(r.tasks.at("g").attempt == 2);
  CHECK(h.executor.create_count("ghost-ESR-2026-01-01-01-00-00-000-g-2") == 1);
  r = h.run("fails", "ESR-2026-01-01-01-00-00-000");
  CHECK(r.state == RunState::kFailed);
  CHECK(r.tasks.at("f").attempt == 1);
}

TEST_CASE("retention by age") {
  SchedulerOptions o;
  o.retention_interval = hours(1);
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kAutoComplete, o);
  h.start();
  Topology t = process_topology("aged", "0 0/10 * * * ?");
  t.policies = Policies{};
  t.policies->retention = RetentionPolicy{std::nullopt, Duration::minutes(25)};
  REQUIRE(h.create(t).ok());
  h.advance_to(at("2026-01-01T01:00:00Z"));
  // At 01:00 the pass keeps runs updated within the last 25 minutes.
  CHECK(ids_of(h.runs("aged")) == std::vector<std::string>{"ESR-2026-01-01-00-40-00-000",
                                                           "ESR-2026-01-01-00-50-00-000",
                                                           "ESR-2026-01-01-01-00-00-000"});
}

TEST_CASE(
    "a task the executor never knows is failed after the configured time, not polled "
    "forever") {
  SchedulerOptions o = Harness::test_options();
  o.unknown_task_timeout = minutes(2);
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual, o);
  h.start();
  FakeExecutor::Script ghost;
  ghost.never_appears = true;
  h.executor.script("main", ghost);
  REQUIRE(h.create(process_topology("g", "0 0 * * * ?")).ok());
  h.advance_to(at("2026-01-01T01:01:00Z"));
  CHECK(h.run("g", "ESR-2026-01-01-01-00-00-000").tasks.at("main").state == TaskState::kUnknown);
  h.advance_to(at("2026-01-01T01:02:00Z"));
  const RunInfo r = h.run("g", "ESR-2026-01-01-01-00-00-000");
  CHECK(r.state == RunState::kFailed);
  CHECK(r.tasks.at("main").error_message.find("given up as lost") != std::string::npos);
}

TEST_CASE("overlap ALLOW, FORBID and REPLACE; start deadline") {
  SUBCASE("ALLOW with a max") {
    Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
    h.start();
    Topology t = process_topology("a", "0 * * * * ?");
    t.policies = Policies{};
    t.policies->overlap = OverlapPolicy{OverlapMode::kAllow, 2};
    REQUIRE(h.create(t).ok());
    h.advance_to(at("2026-01-01T00:03:00Z"));
    CHECK(states_of(h.runs("a")) == std::vector<std::string>{"RUNNING", "RUNNING", "SKIPPED"});
  }
  SUBCASE("FORBID refuses run now while a run is live") {
    Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
    h.start();
    Topology t = process_topology("f", "0 * * * * ?");
    t.policies = Policies{};
    t.policies->overlap = OverlapPolicy{OverlapMode::kForbid, 1};
    REQUIRE(h.create(t).ok());
    h.advance_to(at("2026-01-01T00:01:00Z"));
    auto r = h.call<std::string>([&](auto cb) { h.scheduler->run_now("f", cb); });
    CHECK(r.status().code() == StatusCode::kFailedPrecondition);
  }
  SUBCASE("REPLACE kills the live run and starts the new one") {
    Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
    h.start();
    Topology t = process_topology("x", "0 * * * * ?");
    t.policies = Policies{};
    t.policies->overlap = OverlapPolicy{OverlapMode::kReplace, 1};
    REQUIRE(h.create(t).ok());
    h.advance_to(at("2026-01-01T00:02:00Z"));
    const auto runs = h.runs("x");
    CHECK(states_of(runs) == std::vector<std::string>{"FAILED", "RUNNING"});
    CHECK(runs[0].reason == "replaced by run ESR-2026-01-01-00-02-00-000");
  }
  SUBCASE("a fire handled after its start deadline is MISSED") {
    Harness h(at("2026-01-01T00:00:00Z"));
    h.start();
    Topology t = process_topology("late", "0 * * * * ?");
    t.policies = Policies{};
    t.policies->start_deadline = Duration::seconds(30);
    REQUIRE(h.create(t).ok());
    // The process was frozen for two minutes: the timer is late.
    h.clock.set(at("2026-01-01T00:02:40Z"));
    h.pump();
    const auto runs = h.runs("late");
    REQUIRE(runs.size() == 2);
    CHECK(states_of(runs) == std::vector<std::string>{"MISSED", "MISSED"});
    CHECK(runs[0].reason == "could not start within the start deadline of 30 s (100 s late)");
    CHECK(runs[1].reason == "could not start within the start deadline of 30 s (40 s late)");
  }
}

namespace {

// Every nominal fire between `from` and `to` (exclusive, inclusive).
std::vector<std::string> nominal_ids(const char* cron, const char* zone, Instant from, Instant to) {
  auto c = CronExpression::parse(cron);
  auto z = TimeZone::locate(zone);
  std::vector<std::string> out;
  for (auto t = c->next_after(from, *z); t && *t <= to; t = c->next_after(*t, *z)) {
    out.push_back(make_run_id(RunType::kScheduled, *t));
  }
  return out;
}

}  // namespace

TEST_CASE("DST in America/New_York: exactly Quartz's fire times, ids in UTC, no duplicates") {
  Harness h(at("2026-03-07T00:00:00Z"));
  h.start();
  REQUIRE(h.create(process_topology("ny", "0 30 * * * ?", "America/New_York")).ok());
  REQUIRE(h.create(process_topology("ny1", "0 30 1 * * ?", "America/New_York")).ok());
  h.advance_to(at("2026-03-09T12:00:00Z"));
  // Spring forward: 02:30 does not exist on 2026-03-08.
  auto spring = ids_of(h.runs("ny"));
  CHECK(spring == nominal_ids("0 30 * * * ?", "America/New_York", at("2026-03-07T00:00:00Z"),
                              at("2026-03-09T12:00:00Z")));
  CHECK(std::find(spring.begin(), spring.end(), "ESR-2026-03-08-06-30-00-000") != spring.end());
  CHECK(std::find(spring.begin(), spring.end(), "ESR-2026-03-08-07-30-00-000") != spring.end());
  CHECK(spring.size() == std::set<std::string>(spring.begin(), spring.end()).size());

  h.advance_to(at("2026-11-02T12:00:00Z"));
  // Fall back: 01:30 happens twice on 2026-11-01 and fires once, at 06:30Z.
  const auto fall = ids_of(h.runs("ny1"));
  CHECK(std::count(fall.begin(), fall.end(), "ESR-2026-11-01-05-30-00-000") == 0);
  CHECK(std::count(fall.begin(), fall.end(), "ESR-2026-11-01-06-30-00-000") == 1);
  const auto all = ids_of(h.runs("ny"));
  CHECK(all.size() == std::set<std::string>(all.begin(), all.end()).size());
  CHECK(all == nominal_ids("0 30 * * * ?", "America/New_York", at("2026-03-07T00:00:00Z"),
                           at("2026-11-02T12:00:00Z")));
}

TEST_CASE("DST in Australia/Lord_Howe: half-hour shifts") {
  Harness h(at("2026-04-04T00:00:00Z"));
  h.start();
  REQUIRE(h.create(process_topology("lh", "0 0/15 1-2 * * ?", "Australia/Lord_Howe")).ok());
  h.advance_to(at("2026-10-05T00:00:00Z"));
  const auto ids = ids_of(h.runs("lh"));
  CHECK(ids == nominal_ids("0 0/15 1-2 * * ?", "Australia/Lord_Howe", at("2026-04-04T00:00:00Z"),
                           at("2026-10-05T00:00:00Z")));
  CHECK(ids.size() == std::set<std::string>(ids.begin(), ids.end()).size());
  // 2026-04-05: 01:30-01:59 happen twice (+11 then +10:30) and fire once each.
  CHECK(std::count(ids.begin(), ids.end(), "ESR-2026-04-04-14-30-00-000") == 0);  // +11:00
  CHECK(std::count(ids.begin(), ids.end(), "ESR-2026-04-04-15-00-00-000") == 1);  // +10:30
}

TEST_CASE("queued catch-up runs wait at most the catch-up window; a pause skips them") {
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
  h.start();
  Topology t = process_topology("q", "0 * * * * ?");
  t.policies = Policies{};
  t.policies->catch_up = CatchUpPolicy{CatchUpMode::kAll, Duration::minutes(3), 10};
  REQUIRE(h.create(t).ok());
  h.advance_to(at("2026-01-01T00:01:30Z"));  // the 00:01 run is going
  // No leader from 00:01:30 to 00:06:30.
  h.elector.revoke();
  h.pump();
  h.clock.set(at("2026-01-01T00:06:30Z"));
  h.elector.elect();
  h.pump();
  const auto state = [&](const char* id) { return h.run("q", id).state; };
  // 00:02 and 00:03 are outside the window; 00:04-00:06 queue behind 00:01 (SERIAL).
  CHECK(state("ESR-2026-01-01-00-02-00-000") == RunState::kMissed);
  CHECK(state("ESR-2026-01-01-00-03-00-000") == RunState::kMissed);
  for (const char* id : {"ESR-2026-01-01-00-04-00-000", "ESR-2026-01-01-00-05-00-000",
                         "ESR-2026-01-01-00-06-00-000"}) {
    CHECK(state(id) == RunState::kRunning);
    CHECK(h.run("q", id).tasks.at("main").state == TaskState::kPending);
    CHECK(h.run("q", id).queued);  // stored as queued: nothing of it was launched
  }
  CHECK_FALSE(h.run("q", "ESR-2026-01-01-00-01-00-000").queued);
  // Another leader change: the next leader reads the queued runs back and
  // knows from the record that none of them was launched.
  h.elector.revoke();
  h.pump();
  h.clock.set(at("2026-01-01T00:06:40Z"));
  h.elector.elect();
  h.pump();
  // 00:01 is still going at 00:07: the 00:04 run's window is over. It was
  // never launched, so it is MISSED, and nothing is killed "in case".
  h.advance_to(at("2026-01-01T00:07:00Z"));
  const RunInfo expired = h.run("q", "ESR-2026-01-01-00-04-00-000");
  CHECK(expired.state == RunState::kMissed);
  CHECK(expired.reason.value().find("its turn did not come within 3 min of its fire") == 0);
  CHECK_FALSE(expired.queued);
  CHECK(h.executor.create_count("q-ESR-2026-01-01-00-04-00-000-main") == 0);
  CHECK(h.executor.killed().empty());
  // 00:01 ends: 00:05 goes.
  h.advance_to(at("2026-01-01T00:07:30Z"));
  h.executor.finish("q-ESR-2026-01-01-00-01-00-000-main", TaskState::kCompleted);
  h.pump();
  CHECK(h.executor.create_count("q-ESR-2026-01-01-00-05-00-000-main") == 1);
  CHECK_FALSE(h.run("q", "ESR-2026-01-01-00-05-00-000").queued);  // let go: stored first
  // A pause skips what is still queued (00:06), as it skips fires.
  REQUIRE(h.call<TopologyDetails>([&](auto cb) { h.scheduler->pause("q", cb); }).ok());
  const RunInfo skipped = h.run("q", "ESR-2026-01-01-00-06-00-000");
  CHECK(skipped.state == RunState::kSkipped);
  CHECK(skipped.reason == "topology was paused before its turn came");
  h.executor.finish("q-ESR-2026-01-01-00-05-00-000-main", TaskState::kCompleted);
  h.advance_to(at("2026-01-01T00:10:00Z"));
  CHECK(h.executor.create_count("q-ESR-2026-01-01-00-06-00-000-main") == 0);
  CHECK(h.executor.killed().empty());
  for (const RunInfo& r : h.runs("q"))
    CHECK_MESSAGE(is_terminal(r.state), r.run_id);
}

TEST_CASE("a 30-day outage under each catch-up mode: every nominal fire is run or MISSED") {
  for (CatchUpMode mode : {CatchUpMode::kNone, CatchUpMode::kLatest, CatchUpMode::kAll}) {
    CAPTURE(to_string(mode));
    Harness h(at("2026-01-01T00:00:00Z"));
    h.start();
    Topology t = process_topology("c", "0 0 * * * ?");
    t.policies = Policies{};
    t.policies->catch_up = CatchUpPolicy{mode, Duration{6, Duration::Unit::kHours}, 3};
    REQUIRE(h.create(t).ok());
    h.advance_to(at("2026-01-01T10:00:00Z"));
    // The only node goes away for 30 days.
    h.scheduler.reset();
    h.elector.stop();
    h.clock.set(at("2026-01-31T10:30:00Z"));
    h.start();
    h.advance_to(at("2026-01-31T12:00:00Z"));
    const auto runs = h.runs("c");
    const auto expected =
        nominal_ids("0 0 * * * ?", "UTC", at("2026-01-01T00:00:00Z"), at("2026-01-31T12:00:00Z"));
    CHECK(ids_of(runs) == expected);  // one record per nominal fire, no more, no less
    std::size_t ran = 0, missed = 0;
    for (const RunInfo& r : runs) {
      if (r.state == RunState::kMissed) {
        ++missed;
        CHECK(r.reason.value().find("no leader was scheduling") == 0);
      } else {
        CHECK(r.state == RunState::kSuccessful);
        ++ran;
      }
    }
    const std::size_t outage = 30 * 24;  // fires from 11:00 on Jan 1 to 10:00 on Jan 31
    const std::size_t caught = mode == CatchUpMode::kNone     ? 0
                               : mode == CatchUpMode::kLatest ? 1
                                                              : 3;
    CHECK(missed == outage - caught);
    CHECK(ran == expected.size() - missed);
    if (mode == CatchUpMode::kAll) {
      // The latest three missed fires ran, oldest first, one at a time.
      CHECK(h.run("c", "ESR-2026-01-31-08-00-00-000").state == RunState::kSuccessful);
      CHECK(h.run("c", "ESR-2026-01-31-07-00-00-000").state == RunState::kMissed);
    }
  }
}

TEST_CASE("RUN_RUNNING_LONG: once per run, timed from its real start, kept across a new leader") {
  SchedulerOptions o = Harness::test_options();
  o.running_long_after = std::chrono::minutes(10);
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual, o);
  h.start();
  REQUIRE(h.create(process_topology("l", "0 0 * * * ?")).ok());
  const auto long_runs = [&] {
    std::vector<Event> out;
    for (const Event& e : h.events.events())
      if (e.type == Event::Type::kRunRunningLong) out.push_back(e);
    return out;
  };
  // Prepared at 00:59:59.500, started at 01:00: due at 01:10, not before.
  h.advance_to(at("2026-01-01T01:09:59.999Z"));
  CHECK(long_runs().empty());
  h.advance_to(at("2026-01-01T01:10:00Z"));
  auto seen = long_runs();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].time == at("2026-01-01T01:10:00Z"));
  CHECK(seen[0].message == "still running after 10 min");
  CHECK(seen[0].run->tasks.at("main").state == TaskState::kRunning);  // the run as it is now
  CHECK(seen[0].run->tasks.at("main").started == at("2026-01-01T01:00:00Z"));
  CHECK(run_started(*seen[0].run) == at("2026-01-01T01:00:00Z"));
  // A new leader does not say it again: the run record remembers.
  h.restart();
  h.advance_to(at("2026-01-01T01:30:00Z"));
  CHECK(long_runs().size() == 1);
  h.executor.finish("l-ESR-2026-01-01-01-00-00-000-main", TaskState::kCompleted);
  h.pump();
  const RunInfo first = h.run("l", "ESR-2026-01-01-01-00-00-000");
  CHECK(run_finished(first) == at("2026-01-01T01:30:00Z"));
  // A run that ends in time: nothing.
  h.advance_to(at("2026-01-01T02:05:00Z"));
  h.executor.finish("l-ESR-2026-01-01-02-00-00-000-main", TaskState::kCompleted);
  h.advance_to(at("2026-01-01T02:30:00Z"));
  CHECK(long_runs().size() == 1);
  // A leader change before it was due: the new leader says it on time.
  h.advance_to(at("2026-01-01T03:05:00Z"));
  h.restart();
  h.advance_to(at("2026-01-01T03:09:59.999Z"));
  CHECK(long_runs().size() == 1);
  h.advance_to(at("2026-01-01T03:10:00Z"));
  seen = long_runs();
  REQUIRE(seen.size() == 2);
  CHECK(seen[1].run_id == "ESR-2026-01-01-03-00-00-000");
}

TEST_CASE("leadership lost and regained mid-run: the task is attached, never launched twice") {
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
  h.start();
  REQUIRE(h.create(process_topology("l", "0 0 * * * ?")).ok());
  h.advance_to(at("2026-01-01T01:00:30Z"));
  const std::string task = "l-ESR-2026-01-01-01-00-00-000-main";
  CHECK(h.executor.create_count(task) == 1);
  h.elector.revoke();
  h.pump();
  CHECK_FALSE(h.scheduler->is_leader());
  h.advance_to(at("2026-01-01T01:30:00Z"));
  h.elector.elect();
  h.pump();
  CHECK(h.scheduler->is_leader());
  CHECK(h.executor.create_count(task) == 1);
  CHECK(h.executor.attach_count(task) == 1);
  h.executor.finish(task, TaskState::kCompleted);
  h.pump();
  CHECK(h.run("l", "ESR-2026-01-01-01-00-00-000").state == RunState::kSuccessful);
  // While not leader, nothing was written or launched; fires were caught up.
  h.advance_to(at("2026-01-01T02:00:00Z"));
  CHECK(h.executor.launches().size() == 2);
}

namespace {

// Holds commits until released (a slow disk or quorum), and counts store
// reads made while one is held.
class HeldCommits : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  bool hold = false;
  std::vector<std::pair<Batch, CommitCallback>> held;
  int reads = 0, reads_while_held = 0;
  void commit(Batch batch, CommitCallback done) override {
    if (!hold) return target_.commit(std::move(batch), std::move(done));
    held.emplace_back(std::move(batch), std::move(done));
  }
  StatusOr<std::vector<TopologyRecord>> load_topologies() override {
    ++reads;
    if (!held.empty()) ++reads_while_held;
    return target_.load_topologies();
  }
  void release() {
    hold = false;
    for (auto& [batch, done] : std::exchange(held, {}))
      target_.commit(std::move(batch), std::move(done));
  }
};

}  // namespace

TEST_CASE("a leader re-elected while its last commit is out recovers after that commit") {
  // A ZooKeeper leader re-elected after a disconnection keeps its node,
  // hence its fencing token, so its last term's commit can still apply: the new term's recovery
  // read must come after it, or it would miss the run that commit stores.
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
  HeldCommits store(*h.own_store);
  h.store = &store;
  h.start();
  REQUIRE(h.create(process_topology("w", "0 0 * * * ?")).ok());
  store.hold = true;
  h.advance_to(at("2026-01-01T01:00:00Z"));  // the fire's run is being stored
  REQUIRE(store.held.size() == 1);
  CHECK(h.executor.launches().empty());
  h.elector.revoke();
  h.pump();
  const int reads_before = store.reads;
  h.elector.elect();
  h.pump();
  CHECK(store.reads == reads_before);  // waiting for the commit
  store.release();
  h.pump();
  CHECK(store.reads == reads_before + 1);
  CHECK(store.reads_while_held == 0);
  REQUIRE(h.scheduler->is_leader());
  // It recovered the stored run: launched once, and the fire not run again.
  const std::string task = "w-ESR-2026-01-01-01-00-00-000-main";
  CHECK(h.executor.create_count(task) == 1);
  h.executor.finish(task, TaskState::kCompleted);
  h.pump();
  CHECK(ids_of(h.runs("w")) == std::vector<std::string>{"ESR-2026-01-01-01-00-00-000"});
  CHECK(h.run("w", "ESR-2026-01-01-01-00-00-000").state == RunState::kSuccessful);
}

namespace {

// Applies commits to the real store but never reports them: the engine never
// learns its writes are durable, as if it crashed right after the commit.
class SwallowingStore : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  bool swallow = false;
  void commit(Batch batch, CommitCallback done) override {
    if (!swallow) return target_.commit(std::move(batch), std::move(done));
    target_.commit(std::move(batch), [](CommitResult) {});
  }
};

}  // namespace

TEST_CASE("a crash between storing a run and launching it: the restart launches it once") {
  Harness h(at("2026-01-01T00:00:00Z"));
  SwallowingStore swallowing(*h.own_store);
  h.store = &swallowing;
  h.start();
  REQUIRE(h.create(process_topology("c", "0 0 * * * ?")).ok());
  swallowing.swallow = true;
  h.advance_to(at("2026-01-01T01:00:00Z"));
  // The run is stored, its task PENDING, and nothing was launched.
  const RunInfo stored = h.run("c", "ESR-2026-01-01-01-00-00-000");
  CHECK(stored.state == RunState::kRunning);
  CHECK(stored.tasks.at("main").state == TaskState::kPending);
  CHECK(h.executor.launches().empty());
  // Crash and restart.
  swallowing.swallow = false;
  h.restart();
  CHECK(h.executor.create_count("c-ESR-2026-01-01-01-00-00-000-main") == 1);
  CHECK(h.run("c", "ESR-2026-01-01-01-00-00-000").state == RunState::kSuccessful);
  // And a second restart does not launch it again.
  h.restart();
  CHECK(h.executor.create_count("c-ESR-2026-01-01-01-00-00-000-main") == 1);
}

namespace {

// A store that cannot be read for a while.
class FlakyReads : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  int failures_left = 2;
  StatusOr<std::vector<TopologyRecord>> load_topologies() override {
    if (failures_left > 0) {
      --failures_left;
      return unavailable("disk on fire");
    }
    return target_.load_topologies();
  }
};

}  // namespace

TEST_CASE("a store that cannot be read at election: the engine steps down and retries") {
  Harness h(at("2026-01-01T00:00:00Z"));
  FlakyReads flaky(*h.own_store);
  h.store = &flaky;
  h.start();
  CHECK_FALSE(h.scheduler->is_leader());
  h.advance(seconds(1));
  CHECK_FALSE(h.scheduler->is_leader());
  h.advance(seconds(1));
  CHECK(h.scheduler->is_leader());
  REQUIRE(h.create(process_topology("ok", "0 * * * * ?")).ok());
}

TEST_CASE("retention keeps the newest finished runs and cleans the executor's tasks") {
  SchedulerOptions o;
  o.retention_interval = minutes(10);
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kAutoComplete, o);
  h.start();
  Topology t = process_topology("ret", "0 * * * * ?");
  t.policies = Policies{};
  t.policies->retention = RetentionPolicy{3, std::nullopt};
  REQUIRE(h.create(t).ok());
  // At 00:10 the pass runs before that minute's fire: of the nine finished
  // runs, the newest three stay; the run of 00:10 is not finished yet.
  h.advance_to(at("2026-01-01T00:10:00Z"));
  const auto runs = h.runs("ret");
  CHECK(ids_of(runs) ==
        std::vector<std::string>{"ESR-2026-01-01-00-07-00-000", "ESR-2026-01-01-00-08-00-000",
                                 "ESR-2026-01-01-00-09-00-000", "ESR-2026-01-01-00-10-00-000"});
  CHECK(h.executor.cleaned().size() == 6);
  CHECK(h.executor.cleaned().front() == "ret-ESR-2026-01-01-00-06-00-000-main");
}

TEST_CASE("events for every state change, after it is stored") {
  Harness h(at("2026-01-01T00:00:00Z"));
  h.start();
  REQUIRE(h.create(process_topology("e", "0 * * * * ?")).ok());
  h.advance_to(at("2026-01-01T00:01:00Z"));
  std::vector<std::string> seen;
  for (const Event& e : h.events.events()) {
    std::string s(to_string(e.type));
    if (e.run_state) s += ":" + std::string(to_string(*e.run_state));
    if (e.task_state) s += ":" + e.task_name + ":" + std::string(to_string(*e.task_state));
    seen.push_back(s);
  }
  CHECK(seen == std::vector<std::string>{
                    "TOPOLOGY_CREATED", "RUN_STATE_CHANGED:RUNNING",
                    "TASK_STATE_CHANGED:main:STARTING", "TASK_STATE_CHANGED:main:RUNNING",
                    "TASK_STATE_CHANGED:main:COMPLETED", "RUN_STATE_CHANGED:SUCCESSFUL"});
}

TEST_CASE("not the leader: operations are refused") {
  Harness h(at("2026-01-01T00:00:00Z"));
  h.scheduler = std::make_unique<Scheduler>(h.ioc, *h.store, h.executor, h.elector, h.clock,
                                            h.events, h.options);
  h.scheduler->start();
  h.pump();
  auto r = h.create(process_topology("x", "0 * * * * ?"));
  CHECK(r.status().code() == StatusCode::kUnavailable);
}

TEST_CASE("reads answer from the published views, never inline, and follow every change") {
  Harness h(at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
  h.start();
  REQUIRE(h.create(process_topology("a", "*/10 * * * * ?")).ok());
  REQUIRE(h.create(process_topology("b", "0 0 * * * ?")).ok());
  // Never answered inline (a caller may hold a lock or a frame the answer
  // writes to), and answered by one turn of the io_context, not behind the
  // strand's queue.
  const auto read = [&](const std::string& id) {
    std::optional<StatusOr<TopologyView>> got;
    h.scheduler->get_topology(id, [&](StatusOr<TopologyView> v) { got.emplace(std::move(v)); });
    REQUIRE_FALSE_MESSAGE(got.has_value(), "get_topology answered inline");
    h.ioc.restart();
    h.ioc.poll_one();
    REQUIRE_MESSAGE(got.has_value(), "get_topology's answer was not the next handler");
    return std::move(*got);
  };
  CHECK(read("a")->next_fire == at("2026-01-01T00:00:10Z"));
  CHECK(read("nope").status().code() == StatusCode::kNotFound);
  std::optional<StatusOr<std::vector<TopologyView>>> all;
  h.scheduler->list_topologies([&](auto v) { all.emplace(std::move(v)); });
  REQUIRE_FALSE(all.has_value());
  h.ioc.restart();
  h.ioc.poll_one();
  REQUIRE(all.has_value());
  REQUIRE((*all)->size() == 2);
  CHECK((*all)->front().details.id == "a");
  // A fire: the live run and the next fire show at once.
  h.advance_to(at("2026-01-01T00:00:10Z"));
  auto v = read("a");
  REQUIRE(v->live_runs.size() == 1);
  CHECK(v->live_runs.front() == "ESR-2026-01-01-00-00-10-000");
  CHECK(v->last_fire == at("2026-01-01T00:00:10Z"));
  CHECK(v->next_fire == at("2026-01-01T00:00:20Z"));
  // Pause, update and delete are visible once their callback has run.
  REQUIRE(h.call<TopologyDetails>([&](auto cb) { h.scheduler->pause("a", cb); }).ok());
  CHECK(read("a")->details.state == TopologyState::kPaused);
  Topology changed = process_topology("a", "0 */5 * * * ?");
  REQUIRE(h.call<TopologyDetails>([&](auto cb) { h.scheduler->update(changed, cb); }).ok());
  CHECK(std::get<CronTrigger>(read("a")->details.topology.trigger).time_spec == "0 */5 * * * ?");
  REQUIRE(h.call<bool>([&](auto cb) { h.scheduler->remove("b", false, cb); }).ok());
  CHECK(read("b").status().code() == StatusCode::kNotFound);
  // A deposed leader serves nothing it no longer owns.
  h.elector.revoke();
  h.pump();
  auto after = h.call<TopologyView>([&](auto cb) { h.scheduler->get_topology("a", cb); });
  CHECK(after.status().code() == StatusCode::kUnavailable);
}

TEST_CASE("a new leader reads the store off the strand; operations wait for it, then see it") {
  Harness h(at("2026-01-01T00:00:00Z"));
  h.start();
  REQUIRE(h.create(process_topology("kept", "0 0 0 1 1 ? 2099")).ok());
  auto first = h.call<std::string>([&](auto cb) { h.scheduler->run_now("kept", cb); });
  REQUIRE(first.ok());
  CHECK(*first == "EIR-2026-01-01-00-00-00-000");

  // The next leader's store reads are held back: nothing reads the store on
  // the strand, so the io_context stays free while they wait.
  std::vector<std::function<void()>> held;
  h.options.store_reads = [&](std::function<void()> job) { held.push_back(std::move(job)); };
  h.restart();
  REQUIRE(held.size() == 1);  // the recovery read
  CHECK(h.scheduler->is_leader());
  std::optional<StatusOr<TopologyDetails>> created;
  std::optional<StatusOr<TopologyView>> got;
  h.scheduler->create(process_topology("kept", "0 * * * * ?"),
                      [&](auto r) { created.emplace(std::move(r)); });
  h.scheduler->get_topology("kept", [&](auto r) { got.emplace(std::move(r)); });
  bool free = false;
  boost::asio::post(h.ioc, [&] { free = true; });
  h.pump();
  CHECK(free);
  CHECK_FALSE(created.has_value());  // waiting for the recovered state
  CHECK_FALSE(got.has_value());

  auto recovery = std::move(held.front());
  held.clear();
  recovery();
  h.pump();
  REQUIRE(created.has_value());
  CHECK(created->status().code() == StatusCode::kAlreadyExists);  // it saw the stored one
  REQUIRE(got.has_value());
  REQUIRE(got->ok());
  CHECK((*got)->details.id == "kept");

  // Run now, in the same millisecond as the run of the last leader: the
  // store is asked (off the strand) and the id moves on past it.
  std::optional<StatusOr<std::string>> id;
  h.scheduler->run_now("kept", [&](auto r) { id.emplace(std::move(r)); });
  h.pump();
  REQUIRE(held.size() == 1);
  CHECK_FALSE(id.has_value());
  std::move(held.front())();
  h.pump();
  REQUIRE(id.has_value());
  REQUIRE(id->ok());
  CHECK(**id == "EIR-2026-01-01-00-00-00-001");
}

TEST_CASE("io_context::run() does not return while a new leader's store read is out") {
  // As an embedder writes it: start, create, run. The recovery read runs
  // on the Scheduler's own reader thread; the io_context must wait for it
  // (and for the create behind it) instead of running out of work.
  boost::asio::io_context ioc;
  auto memory = make_memory_store();
  // A store that takes a while to read (ZooKeeper, a large SQLite file).
  struct SlowReads : StoreWrapper {
    using StoreWrapper::StoreWrapper;
    StatusOr<std::vector<TopologyRecord>> load_topologies() override {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return target_.load_topologies();
    }
  } slow(*memory);
  Store* store = &slow;
  FakeExecutor executor(FakeExecutor::Mode::kAutoComplete);
  auto elector = make_standalone_elector("http://localhost:0");
  ManualClock clock(at("2026-01-01T00:00:00Z"));
  RecordingSink events;
  Scheduler scheduler(ioc, *store, executor, *elector, clock, events);
  scheduler.start();
  std::optional<StatusOr<TopologyDetails>> created;
  scheduler.create(process_topology("a", "0 0 0 1 1 ? 2099"), [&](auto r) {
    created.emplace(std::move(r));
    ioc.stop();
  });
  ioc.run();
  REQUIRE(created.has_value());
  CHECK(created->ok());
}

TEST_CASE(
    "a cron topology created on a fire instant: the running leader and a restarted one count "
    "the same fires (none at the creation instant)") {
  // Found by the jobs_service example: created at 19:00:54.000 exactly, the
  // fire at 19:00:54 was not run (fires come strictly after a create), but
  // a restart before the first fire would have recorded it MISSED.
  Harness h(at("2026-01-01T00:01:00Z"));
  h.start();
  REQUIRE(h.create(process_topology("c", "0 * * * * ?")).ok());
  h.advance_to(at("2026-01-01T00:01:30Z"));
  h.restart();
  h.advance_to(at("2026-01-01T00:02:00Z"));
  CHECK(ids_of(h.runs("c")) == std::vector<std::string>{"ESR-2026-01-01-00-02-00-000"});
}
