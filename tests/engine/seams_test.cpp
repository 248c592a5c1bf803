// The seams' own implementations: ManualClock, SystemClock, electors,
// FakeExecutor, and the run machine's arithmetic.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <future>
#include <sstream>
#include <thread>

#include "../../libepoch/engine/run_machine.h"
#include "../../libepoch/support/lifeline.h"
#include "epoch/clock.h"
#include "epoch/events.h"
#include "epoch/fake_executor.h"
#include "epoch/leader.h"

using namespace epoch;
using std::chrono::milliseconds;

TEST_CASE("Lifeline: a guarded callback never runs after close, which waits for one in flight") {
  auto lifeline = std::make_unique<Lifeline>();
  std::atomic<int> calls{0};
  std::function<void(int)> add = lifeline->guard([&](int n) { calls += n; });
  add(2);
  CHECK(calls.load() == 2);

  // A call in flight on another thread: close() returns only after it.
  std::promise<void> entered, release;
  std::function<void()> slow = lifeline->guard([&] {
    entered.set_value();
    release.get_future().wait();
    ++calls;
  });
  std::thread caller([&] { slow(); });
  entered.get_future().wait();
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    lifeline->close();
    closed = true;
  });
  std::this_thread::sleep_for(milliseconds(50));
  CHECK_FALSE(closed.load());  // still waiting for the call in flight
  release.set_value();
  closer.join();
  caller.join();
  CHECK(closed.load());
  CHECK(calls.load() == 3);

  // After close, and after the lifeline itself is gone: no-ops.
  add(5);
  lifeline.reset();
  add(7);
  slow();
  CHECK(calls.load() == 3);

  // close() from inside a guarded callback does not wait for itself, and
  // renew() guards later callbacks again (earlier ones stay dead).
  Lifeline second;
  std::function<void()> self_closing = second.guard([&] {
    second.close();
    ++calls;
  });
  self_closing();
  CHECK(calls.load() == 4);
  second.renew();
  self_closing();
  CHECK(calls.load() == 4);
  std::function<void()> fresh = second.guard([&] { ++calls; });
  fresh();
  CHECK(calls.load() == 5);
}

TEST_CASE("ManualClock: timers fire in order, only when due, and never after cancel") {
  boost::asio::io_context ioc;
  ManualClock clock(from_epoch_millis(1000));
  auto a = clock.make_timer(ioc);
  auto b = clock.make_timer(ioc);
  auto c = clock.make_timer(ioc);
  std::vector<std::string> fired;
  a->arm(from_epoch_millis(3000), [&] { fired.push_back("a"); });
  b->arm(from_epoch_millis(2000), [&] { fired.push_back("b"); });
  c->arm(from_epoch_millis(2500), [&] { fired.push_back("c"); });
  CHECK(clock.next_timer() == from_epoch_millis(2000));
  clock.advance(milliseconds(500));
  ioc.poll();
  CHECK(fired.empty());
  c->cancel();
  clock.set(from_epoch_millis(5000));
  ioc.restart();
  ioc.poll();
  CHECK(fired == std::vector<std::string>{"b", "a"});
  // Re-arming replaces an already posted callback.
  a->arm(from_epoch_millis(4000), [&] { fired.push_back("old"); });
  a->arm(from_epoch_millis(4000), [&] { fired.push_back("new"); });
  ioc.restart();
  ioc.poll();
  CHECK(fired.back() == "new");
  CHECK(std::count(fired.begin(), fired.end(), "old") == 0);
  clock.set(from_epoch_millis(1));  // never backwards
  CHECK(clock.now() == from_epoch_millis(5000));
}

TEST_CASE("SystemClock: a timer fires") {
  boost::asio::io_context ioc;
  auto clock = make_system_clock();
  auto timer = clock->make_timer(ioc);
  bool fired = false;
  timer->arm(clock->now() + milliseconds(5), [&] { fired = true; });
  ioc.run_for(std::chrono::seconds(2));
  CHECK(fired);
}

TEST_CASE("electors") {
  auto standalone = make_standalone_elector("http://h:1");
  int elected = 0;
  standalone->start([&] { ++elected; }, [] {});
  CHECK(elected == 1);
  CHECK(standalone->is_leader());
  CHECK(standalone->leader() == "http://h:1");
  ManualElector m("http://m:2");
  int revoked = 0;
  m.start([&] { ++elected; }, [&] { ++revoked; });
  CHECK_FALSE(m.is_leader());
  m.elect();
  m.elect();
  CHECK(elected == 2);
  CHECK(m.fencing_token()->version == 1);
  m.revoke();
  CHECK(revoked == 1);
  CHECK_FALSE(m.leader().has_value());
}

TEST_CASE("FakeExecutor: creates once per id, attaches after, scripts outcomes") {
  FakeExecutor fake(FakeExecutor::Mode::kManual);
  TaskLaunch l;
  l.task_id = "t1";
  l.task_name = "main";
  std::vector<TaskState> seen;
  fake.launch(l, [&](const TaskUpdate& u) { seen.push_back(u.state); });
  fake.launch(l, [&](const TaskUpdate& u) { seen.push_back(u.state); });
  CHECK(fake.create_count("t1") == 1);
  CHECK(fake.attach_count("t1") == 1);
  fake.finish("t1", TaskState::kCompleted);
  CHECK(seen == std::vector<TaskState>{TaskState::kStarting, TaskState::kRunning,
                                       TaskState::kRunning, TaskState::kCompleted});
  Status killed;
  fake.kill("t1", [&](Status s) { killed = s; });
  CHECK(killed.code() == StatusCode::kNotFound);
  CHECK(fake.logs("t1")->url == "fake://logs/t1");
}

TEST_CASE("run machine: backoff and retry decisions") {
  RetryPolicy p;
  p.max_attempts = 4;
  p.initial_backoff = Duration::seconds(10);
  p.max_backoff = Duration::seconds(60);
  p.multiplier = 3;
  p.jitter = 0.5;
  CHECK(engine::retry_backoff(p, 1, 0).count() == 10000);
  CHECK(engine::retry_backoff(p, 2, 0).count() == 30000);
  CHECK(engine::retry_backoff(p, 3, 0).count() == 60000);  // capped
  CHECK(engine::retry_backoff(p, 1, 1).count() == 15000);
  CHECK(engine::retry_backoff(p, 1, -1).count() == 5000);
  // Extremes saturate instead of overflowing (the engine's own guard; the API
  // refuses such policies with a 400).
  RetryPolicy huge = p;
  huge.initial_backoff = {INT64_MAX, Duration::Unit::kDays};
  huge.max_backoff = {INT64_MAX, Duration::Unit::kDays};
  huge.multiplier = 1e300;
  CHECK(engine::retry_backoff(huge, 60, 1).count() == 1000000000000000);
  CHECK(saturating_add(from_epoch_millis(0), huge.initial_backoff.to_millis()) == kMaxInstant);
  CHECK(saturating_sub(from_epoch_millis(0), huge.initial_backoff.to_millis()) == kMinInstant);
  CHECK(engine::should_retry(&p, 3, RetryOn::kFailed));
  CHECK_FALSE(engine::should_retry(&p, 4, RetryOn::kFailed));
  p.on = {RetryOn::kTimedOut};
  CHECK_FALSE(engine::should_retry(&p, 1, RetryOn::kFailed));
  CHECK_FALSE(engine::should_retry(nullptr, 1, RetryOn::kFailed));
  CHECK(engine::final_run_state(RunType::kScheduled, false, TaskState::kCompleted) ==
        RunState::kSuccessful);
  CHECK(engine::final_run_state(RunType::kScheduled, true, TaskState::kCompleted) ==
        RunState::kCompleted);
  CHECK(engine::final_run_state(RunType::kInstant, false, TaskState::kCompleted) ==
        RunState::kCompleted);
  CHECK(engine::final_run_state(RunType::kInstant, false, TaskState::kCancelled) ==
        RunState::kFailed);
  CHECK(engine::run_message(RunState::kSkipped) == "Task skipped");
}

TEST_CASE("the log sink writes one EPOCH_EVENT line per event") {
  std::ostringstream out;
  auto sink = make_log_sink(out);
  Event e;
  e.type = Event::Type::kRunStateChanged;
  e.topology_id = "t";
  e.run_id = "r";
  e.run_state = RunState::kMissed;
  e.message = "why";
  sink->on_event(e);
  CHECK(out.str() ==
        "EPOCH_EVENT: {\"type\":\"RUN_STATE_CHANGED\",\"time\":0,\"topologyId\":\"t\","
        "\"runId\":\"r\",\"runState\":\"MISSED\",\"message\":\"why\"}\n");
}
