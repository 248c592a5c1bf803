// Create and destroy, for the stores and the ZooKeeper elector: each made
// and torn down a thousand times with its work in flight (commits, watches,
// posted checks), under both sanitizers (label lifecycle). The rule under
// test: no callback runs after its object's destructor returns.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "epoch/sqlite_store.h"
#include "epoch/store.h"
#include "store_contract.h"
#include "zk_fixtures.h"

using namespace epoch;
using namespace epoch::test;

TEST_CASE("MemoryStore made and destroyed 1,000 times with commits in flight") {
  CHECK(churn_with_commits_in_flight(1000, [](int) { return make_memory_store(); }) == 0);
}

TEST_CASE("SqliteStore made and destroyed 1,000 times with commits in flight") {
  TempDir dir;
  CHECK(churn_with_commits_in_flight(1000, [&](int) {
          SqliteStoreOptions o{(dir.path / "epoch.db").string(), false, std::chrono::seconds(5)};
          auto s = make_sqlite_store(o);
          REQUIRE(s.ok());
          return std::move(*s);
        }) == 0);
}

TEST_CASE("ZkStore made and destroyed 1,000 times on one connection with commits in flight") {
  ZkServer zk;
  auto conn = connect(zk);
  CHECK(churn_with_commits_in_flight(1000, [&](int) { return make_zk_store(conn); }) == 0);
  // The connection still serves a new store.
  auto store = make_zk_store(conn);
  Batch b;
  b.put_topology(topology("after-churn"), kMustNotExist);
  CHECK(commit(*store, std::move(b)).ok());
}

TEST_CASE("an elector destroyed 1,000 times while its watches are pending is never called back") {
  // The connection outlives the electors and keeps their one-shot watches
  // and posted checks; each round destroys a follower (watching the
  // leader's node), then the leader, whose node's deletion fires the
  // follower's watch on the connection's event thread. Before the fix the
  // watch called the destroyed follower (ASan: heap-use-after-free).
  ZkServer zk;
  auto conn = connect(zk);
  auto probe = connect(zk);
  for (int round = 0; round < 1000; ++round) {
    auto leader = std::make_unique<ElectorProbe>(conn, "http://leader");
    REQUIRE(eventually([&] { return leader->elector->is_leader(); }, 5s, 1ms));
    auto follower = std::make_unique<ElectorProbe>(conn, "http://follower");
    REQUIRE(eventually([&] { return follower->elector->leader() == "http://leader"; }, 5s, 1ms));
    follower.reset();
    leader.reset();
    // Both nodes are gone, and the connection still works.
    std::vector<std::string> children;
    REQUIRE(eventually([&] {
      return probe->children("/epoch/leader-selection", children) == ZOK && children.empty();
    }));
  }
  // A last elector on the same connection is elected: nothing stale runs.
  ElectorProbe last(conn, "http://last");
  REQUIRE(eventually([&] { return last.elector->is_leader(); }));
  CHECK(last.revoked.load() == 0);
}
