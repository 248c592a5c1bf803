// The engine's parts on their own: the commit queue (merging, one commit in
// flight, splitting, actions after durability) and the published views.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../../libepoch/engine/commit_queue.h"
#include "../../libepoch/engine/views.h"

using namespace epoch;
using namespace epoch::engine;
using Op = WriteOp::Kind;

namespace {

// `mark` tells one write of a record from another.
TopologyRecord topology(const std::string& id, int mark = 0) {
  TopologyRecord r;
  r.details.id = id;
  r.details.topology.name = id;
  r.details.updated = Instant(std::chrono::milliseconds(mark));
  return r;
}

int mark_of(const WriteOp& op) {
  return static_cast<int>(to_epoch_millis(op.topology->details.updated));
}

RunInfo run(const std::string& topology_id, const std::string& run_id,
            RunState state = RunState::kRunning) {
  RunInfo r;
  r.topology_id = topology_id;
  r.run_id = run_id;
  r.state = state;
  return r;
}

std::vector<Op> kinds(const Batch& b) {
  std::vector<Op> out;
  for (const WriteOp& op : b.ops)
    out.push_back(op.kind);
  return out;
}

}  // namespace

TEST_CASE("commit queue: writes to one record merge until their batch is taken") {
  CommitQueue q(0);
  CHECK(q.put_run(run("a", "r1"), kMustNotExist));  // a create: later writes merge into it
  CHECK_FALSE(q.put_run(run("a", "r1", RunState::kCompleted), 1));
  CHECK(q.put_topology(topology("a", 1), 3));
  CHECK_FALSE(q.put_topology(topology("a", 2), 4));
  q.set_last_fire("a", Instant(std::chrono::milliseconds(10)));
  q.set_last_fire("a", Instant(std::chrono::milliseconds(20)));
  // Typed keys: the run "c" of topology "a/b" is not the run "b/c" of "a".
  CHECK(q.put_run(run("a/b", "c"), 1));
  CHECK(q.put_run(run("a", "b/c"), 1));
  // A record written once is never merged into.
  q.add_run(run("a", "skipped", RunState::kSkipped));
  q.add_run(run("a", "skipped", RunState::kSkipped));
  REQUIRE(q.queued_ops() == 7);

  auto step = q.take();
  REQUIRE(step);
  const auto& ops = step->batch.ops;
  CHECK(kinds(step->batch) == std::vector<Op>{Op::kPutRun, Op::kPutTopology, Op::kSetLastFire,
                                              Op::kPutRun, Op::kPutRun, Op::kPutRun, Op::kPutRun});
  CHECK(ops[0].expected_version == kMustNotExist);   // merged: the first write's version
  CHECK(ops[0].run->state == RunState::kCompleted);  // and the last write's content
  CHECK(ops[1].expected_version == 3);
  CHECK(mark_of(ops[1]) == 2);
  CHECK(ops[2].last_fire == Instant(std::chrono::milliseconds(20)));
  CHECK(q.in_flight());

  // Taken: a write now is a new op, in the next batch.
  CHECK(q.put_run(run("a", "r1", RunState::kFailed), 2));
  CHECK_FALSE(q.take());  // one commit in flight at a time
  q.committed();
  step = q.take();
  REQUIRE(step);
  REQUIRE(step->batch.ops.size() == 1);
  CHECK(step->batch.ops[0].expected_version == 2);
}

TEST_CASE("commit queue: events and actions follow the batch that makes them durable") {
  CommitQueue q(0);
  std::vector<std::string> log;
  CHECK_FALSE(q.take());  // nothing queued

  // Nothing to write: they go at once, and no commit is in flight.
  q.after([&] { log.push_back("a"); });
  auto step = q.take();
  REQUIRE(step);
  CHECK(step->batch.empty());
  CHECK_FALSE(q.in_flight());
  REQUIRE(step->actions.size() == 1);

  // Queued behind a commit in flight, they wait for it even with nothing
  // of their own to write (what they act on may be in that commit).
  q.put_run(run("a", "r1"), kMustNotExist);
  Event e;
  e.topology_id = "a";
  q.emit(e);
  q.after([&] { log.push_back("b"); });
  step = q.take();
  REQUIRE(step);
  CHECK(step->batch.ops.size() == 1);
  CHECK(step->events.size() == 1);
  CHECK(step->actions.size() == 1);
  q.after([&] { log.push_back("c"); });
  CHECK_FALSE(q.take());
  q.committed();
  step = q.take();
  REQUIRE(step);
  CHECK(step->batch.empty());
  CHECK(step->actions.size() == 1);
}

TEST_CASE("commit queue: a burst is split at the batch limit; actions ride with the last piece") {
  CommitQueue q(2);
  for (int i = 0; i < 5; ++i)
    q.put_run(run("a", "r" + std::to_string(i)), 1);
  q.after([] {});
  auto step = q.take();
  REQUIRE(step);
  CHECK(step->batch.ops.size() == 2);
  CHECK(step->actions.empty());
  // What stays queued can still be merged into.
  CHECK_FALSE(q.put_run(run("a", "r4", RunState::kCompleted), 9));
  q.committed();
  step = q.take();
  REQUIRE(step);
  CHECK(step->batch.ops.size() == 2);
  CHECK(step->actions.empty());
  q.committed();
  step = q.take();
  REQUIRE(step);
  REQUIRE(step->batch.ops.size() == 1);
  CHECK(step->batch.ops[0].run->state == RunState::kCompleted);
  CHECK(step->batch.ops[0].expected_version == 1);
  CHECK(step->actions.size() == 1);
}

TEST_CASE("commit queue: a delete ends merging into the records it deletes") {
  CommitQueue q(0);
  q.put_topology(topology("a", 1), 1);
  q.put_run(run("a", "r1"), 1);
  q.put_run(run("b", "r1"), 1);
  q.delete_topology("a");
  // Created again in the same batch: new ops after the delete.
  CHECK(q.put_topology(topology("a", 2), kMustNotExist));
  CHECK(q.put_run(run("a", "r1"), kMustNotExist));
  CHECK_FALSE(q.put_run(run("b", "r1", RunState::kCompleted), 2));  // another topology's run
  q.delete_run("b", "r1");
  CHECK(q.put_run(run("b", "r1"), kMustNotExist));
  auto step = q.take();
  REQUIRE(step);
  CHECK(kinds(step->batch) == std::vector<Op>{Op::kPutTopology, Op::kPutRun, Op::kPutRun,
                                              Op::kDeleteTopology, Op::kDeleteAllRuns,
                                              Op::kPutTopology, Op::kPutRun, Op::kDeleteRun,
                                              Op::kPutRun});
  CHECK(mark_of(step->batch.ops[0]) == 1);
  CHECK(mark_of(step->batch.ops[5]) == 2);
}

TEST_CASE("commit queue: clear drops what is queued; a commit in flight stays in flight") {
  CommitQueue q(0);
  q.put_run(run("a", "r1"), 1);
  REQUIRE(q.take());
  q.put_run(run("a", "r2"), 1);
  q.after([] {});
  q.clear();
  CHECK(q.queued_ops() == 0);
  CHECK(q.in_flight());
  q.committed();
  CHECK_FALSE(q.take());
}

TEST_CASE("views: readers see nothing until published, then what was published") {
  Views v;
  CHECK_FALSE(v.find("a").ready);
  CHECK_FALSE(v.all());
  auto p = std::make_shared<Published>();
  p->id = "a";
  p->spec = std::make_shared<const Topology>();
  p->live_runs = {"r1"};
  v.publish({{"a", p}});
  CHECK(v.find("a").ready);
  REQUIRE(v.find("a").view);
  CHECK(v.find("a").view->view().live_runs == std::vector<std::string>{"r1"});
  CHECK(v.find("b").ready);
  CHECK_FALSE(v.find("b").view);
  REQUIRE(v.all());
  CHECK(v.all()->size() == 1);
  v.publish({{"a", nullptr}});  // deleted
  CHECK_FALSE(v.find("a").view);
  v.withdraw();
  CHECK_FALSE(v.find("a").ready);
  CHECK_FALSE(v.all());
}
