// The seams' own implementations: MemoryStore, ManualClock, electors,
// FakeExecutor, and the run machine's arithmetic.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <sstream>

#include "../../libepoch/engine/run_machine.h"
#include "epoch/clock.h"
#include "epoch/events.h"
#include "epoch/fake_executor.h"
#include "epoch/leader.h"
#include "epoch/store.h"

using namespace epoch;
using std::chrono::milliseconds;

namespace {

RunInfo run(const std::string& tid, const std::string& rid, std::int64_t updated,
            RunState state = RunState::kSuccessful) {
  RunInfo r;
  r.topology_id = tid;
  r.run_id = rid;
  r.state = state;
  r.updated = from_epoch_millis(updated);
  return r;
}

CommitResult commit(Store& s, Batch b) {
  std::optional<CommitResult> out;
  s.commit(std::move(b), [&](CommitResult r) { out.emplace(std::move(r)); });
  REQUIRE(out.has_value());
  return *out;
}

}  // namespace

TEST_CASE("MemoryStore: versions, compare-and-set, atomic batches, queries") {
  auto store = make_memory_store();
  TopologyRecord t;
  t.details.id = "a";
  Batch b;
  b.put_topology(t, kMustNotExist);
  b.put_run(run("a", "r1", 10), kMustNotExist);
  b.put_run(run("a", "r2", 20, RunState::kRunning), kMustNotExist);
  auto v = commit(*store, std::move(b));
  REQUIRE(v.ok());
  CHECK(*v == std::vector<std::int64_t>{1, 1, 1});
  // A stale version aborts the whole batch.
  Batch stale;
  stale.put_run(run("a", "r3", 30), kMustNotExist);
  stale.put_topology(t, 7);
  auto bad = commit(*store, std::move(stale));
  CHECK(bad.status().code() == StatusCode::kAborted);
  CHECK(bad.status().message() == "version conflict on topology a: expected 7, found 1");
  CHECK_FALSE(store->load_run("a", "r3")->has_value());
  // Sequential writes to one record in one batch.
  Batch twice;
  twice.put_topology(t, 1);
  twice.put_topology(t, 2);
  CHECK(*commit(*store, std::move(twice)) == std::vector<std::int64_t>{2, 3});
  CHECK(store->load_topology("a")->value().version == 3);
  // Queries: newest first, filters, limit, before.
  CHECK(store->load_runs("a")->front().run.run_id == "r2");
  RunQuery q;
  q.states = {RunState::kSuccessful};
  CHECK(store->load_runs("a", q)->size() == 1);
  q = RunQuery{};
  q.limit = 1;
  q.before = from_epoch_millis(20);
  CHECK(store->load_runs("a", q)->front().run.run_id == "r1");
  CHECK(store->load_live_runs()->size() == 1);
  // Delete all runs, then create one again in the same batch.
  Batch clear;
  clear.delete_all_runs("a");
  clear.put_run(run("a", "r1", 40), kMustNotExist);
  REQUIRE(commit(*store, std::move(clear)).ok());
  CHECK(store->load_runs("a")->size() == 1);
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
