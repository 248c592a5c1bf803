// ZkStore and ZkElector against a real ZooKeeper server (Debian's, started
// by the test on a free loopback port): the Store contract, Epoch-Java's
// data read and written back in its own format, fenced writes after a
// session expiry, the election, and a ZooKeeper restart.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/json.hpp>

#include "../../libepoch/store/zk_connection.h"
#include "daemon_process.h"
#include "epoch_examples.h"
#include "epoch/zookeeper.h"
#include "store_contract.h"
#include "zk_server.h"

using namespace epoch;
using namespace epoch::test;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<ZkConnection> connect(const ZkServer& zk, std::string ns = "epoch",
                                      std::chrono::milliseconds session = 2000ms) {
  ZkOptions o;
  o.hosts = zk.hosts();
  o.name_space = std::move(ns);
  o.session_timeout = session;
  o.operation_timeout = 1000ms;
  auto c = connect_zookeeper(o);
  REQUIRE(c.ok());
  REQUIRE(eventually([&] { return zk_connected(**c); }));
  return *c;
}

// Expires `conn`'s session the way ZooKeeper does for a node that stalled:
// a second client attaches to the session and closes it.
void expire_session(ZkConnection& conn, const ZkServer& zk) {
  clientid_t id{};
  REQUIRE(conn.client_id(id));
  zhandle_t* other = zookeeper_init(zk.hosts().c_str(), nullptr, 2000, &id, nullptr, 0);
  REQUIRE(other != nullptr);
  REQUIRE(eventually([&] { return zoo_state(other) == ZOO_CONNECTED_STATE; }, 5s, 10ms));
  zookeeper_close(other);
}

struct ElectorProbe {
  std::unique_ptr<LeaderElector> elector;
  std::atomic<int> elected{0}, revoked{0};

  ElectorProbe(std::shared_ptr<ZkConnection> conn, std::string url)
      : elector(make_zk_elector(std::move(conn), std::move(url))) {
    elector->start([this] { ++elected; }, [this] { ++revoked; });
  }
};

}  // namespace

TEST_CASE("ZkStore keeps the Store contract on a real ZooKeeper") {
  ZkServer zk;
  auto conn = connect(zk);
  auto store = make_zk_store(conn);
  check_contract(*store, /*exact_messages=*/false);
  // A record too large for a znode is refused before anything is written.
  Batch big;
  RunInfo r = run("b", "huge", 1);
  r.message.assign(600 * 1024, 'x');
  big.put_topology(topology("b"), kMustNotExist);
  big.put_run(r, kMustNotExist);
  const auto refused = commit(*store, std::move(big));
  CHECK(refused.status().code() == StatusCode::kInvalidArgument);
  CHECK(refused.status().message().find("/epoch/runs/b/huge") != std::string::npos);
  CHECK_FALSE(store->load_topology("b")->has_value());
  // A batch larger than one multi goes in parts, all applied.
  ZkStoreOptions small;
  small.max_multi_bytes = 16 * 1024;
  auto split = make_zk_store(conn, small);
  Batch many;
  many.put_topology(topology("c"), kMustNotExist);
  for (int i = 0; i < 300; ++i)
    many.put_run(run("c", "r" + std::to_string(1000 + i), i), kMustNotExist);
  REQUIRE(commit(*split, std::move(many)).ok());
  CHECK(split->load_runs("c")->size() == 300);
  // Deleting all runs of a topology with many runs.
  Batch clear;
  clear.delete_all_runs("c");
  clear.delete_topology("c");
  REQUIRE(commit(*split, std::move(clear)).ok());
  CHECK(split->load_runs("c")->empty());
  int version = 0;
  CHECK(conn->exists("/epoch/runs/c", &version) == ZNONODE);
}

TEST_CASE("ZkStore reads what Epoch-Java wrote, and writes it back in Epoch's format") {
  ZkServer zk;
  auto conn = connect(zk);
  // Epoch's tree, as Curator builds it: container parents, JSON data.
  const std::string details = epoch_details_json("PAUSED");
  const std::string run_json = epoch_run_json("RUNNING", "RUNNING");
  for (const char* p : {"/epoch", "/epoch/topologies", "/epoch/runs", "/epoch/runs/daily-report"})
    REQUIRE(conn->create(p, "", ZOO_CONTAINER) == ZOK);
  REQUIRE(conn->create("/epoch/topologies/daily-report", details, 0) == ZOK);
  REQUIRE(conn->create("/epoch/runs/daily-report/ESR-2024-10-18-06-00-00-000", run_json, 0) ==
          ZOK);

  auto store = make_zk_store(conn);
  auto topologies = store->load_topologies();
  REQUIRE_MESSAGE(topologies.ok(), topologies.status().message());
  REQUIRE(topologies->size() == 1);
  const TopologyRecord& t = topologies->front();
  CHECK(t.details.id == "daily-report");
  CHECK(t.details.state == TopologyState::kPaused);
  CHECK(t.details.topology == *topology_from_json(kEpochFullCreate));
  CHECK(t.version == 1);
  CHECK_FALSE(t.last_fire.has_value());
  auto live = store->load_live_runs();
  REQUIRE(live.ok());
  REQUIRE(live->size() == 1);
  RunRecord rec = live->front();
  CHECK(rec.run.tasks.at("docker-task").state == TaskState::kRunning);
  CHECK(rec.run.created == from_epoch_millis(1729231200012));

  // Written back: still Epoch's JSON, version checked.
  rec.run.state = RunState::kSuccessful;
  rec.run.message = "Task successful";
  Batch b;
  b.put_run(rec.run, rec.version);
  b.set_last_fire("daily-report", from_epoch_millis(1729231200000));
  REQUIRE(commit(*store, std::move(b)).ok());
  ZkNode raw;
  REQUIRE(conn->get("/epoch/runs/daily-report/ESR-2024-10-18-06-00-00-000", raw) == ZOK);
  const auto json = boost::json::parse(raw.data).as_object();
  CHECK(json.at("state").as_string() == "SUCCESSFUL");
  CHECK(json.at("topologyId").as_string() == "daily-report");
  CHECK(json.at("tasks").as_object().contains("docker-task"));
  CHECK(raw.version == 1);
  // The topology node itself was not touched; the fire is a sibling node.
  ZkNode topo;
  REQUIRE(conn->get("/epoch/topologies/daily-report", topo) == ZOK);
  CHECK(topo.data == details);
  CHECK(store->load_topology("daily-report")->value().last_fire ==
        from_epoch_millis(1729231200000));
}

TEST_CASE("a deposed leader's writes are fenced: session expiry, then a stale write") {
  ZkServer zk;
  auto a_conn = connect(zk);
  auto b_conn = connect(zk);
  auto a_store = make_zk_store(a_conn);
  ElectorProbe a(a_conn, "http://a:1");
  REQUIRE(eventually([&] { return a.elector->is_leader(); }));
  ElectorProbe b(b_conn, "http://b:1");
  REQUIRE(eventually([&] { return b.elector->leader() == "http://a:1"; }));
  CHECK_FALSE(b.elector->is_leader());

  Batch first;
  first.put_topology(topology("x"), kMustNotExist);
  first.fence = a.elector->fencing_token();
  REQUIRE(first.fence.has_value());
  REQUIRE(commit(*a_store, std::move(first)).ok());
  const FencingToken stale = *a.elector->fencing_token();

  // A stalls long enough for its session to expire: B takes over.
  expire_session(*a_conn, zk);
  REQUIRE(eventually([&] { return b.elector->is_leader(); }));
  // (A may lose and regain leadership once while its session is taken over
  // by the expiring client, before the session ends: count alternations.)
  REQUIRE(eventually([&] { return !a.elector->is_leader() && a.revoked.load() >= 1; }));
  CHECK(a.revoked.load() == a.elected.load());
  CHECK(b.elector->leader() == "http://b:1");
  // A is back with a new session (as a follower; it did not exit) ...
  REQUIRE(eventually([&] { return a.elector->leader() == "http://b:1"; }));
  // ... and, still holding the old token, writes: refused, nothing applied.
  Batch late;
  late.put_run(run("x", "late", 1), kMustNotExist);
  late.fence = stale;
  const auto refused = commit(*a_store, std::move(late));
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  const auto late_run = a_store->load_run("x", "late");
  REQUIRE(late_run.ok());
  CHECK_FALSE(late_run->has_value());
  // B writes with its own token.
  Batch next;
  next.put_run(run("x", "next", 1), kMustNotExist);
  next.fence = b.elector->fencing_token();
  REQUIRE(commit(*make_zk_store(b_conn), std::move(next)).ok());
  CHECK_FALSE(a.elector->is_leader());
  CHECK(a.elected.load() == a.revoked.load());
}

TEST_CASE("election among three: one leader, known to all; a stopped leader is replaced at once") {
  ZkServer zk;
  std::vector<std::unique_ptr<ElectorProbe>> nodes;
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(std::make_unique<ElectorProbe>(connect(zk), "http://n" + std::to_string(i)));
    // Joining in order makes the first the leader.
    REQUIRE(eventually([&] { return nodes.back()->elector->leader().has_value(); }));
  }
  const auto leaders = [&] {
    int n = 0;
    for (auto& p : nodes)
      n += p->elector->is_leader() ? 1 : 0;
    return n;
  };
  CHECK(leaders() == 1);
  CHECK(nodes[0]->elector->is_leader());
  for (auto& p : nodes)
    CHECK(p->elector->leader() == "http://n0");
  // Election nodes are named like Curator's and hold the URL.
  auto probe = connect(zk);
  std::vector<std::string> children;
  REQUIRE(probe->children("/epoch/leader-selection", children) == ZOK);
  CHECK(children.size() == 3);
  for (const std::string& c : children)
    CHECK(c.rfind("_c_", 0) == 0);
  // The leader leaves: the next candidate leads well before any session
  // timeout, and everyone agrees.
  const auto t0 = std::chrono::steady_clock::now();
  nodes[0]->elector->stop();
  REQUIRE(eventually([&] { return nodes[1]->elector->is_leader(); }, 5s, 5ms));
  CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);
  REQUIRE(eventually([&] { return nodes[2]->elector->leader() == "http://n1"; }));
  CHECK(leaders() == 1);
  CHECK(nodes[0]->revoked.load() == 0);  // stop() calls no callback
}

TEST_CASE("ZooKeeper restart: calls fail while it is down, leadership is dropped and regained") {
  ZkServer zk;
  auto conn = connect(zk, "epoch", 10000ms);
  auto store = make_zk_store(conn);
  ElectorProbe e(conn, "http://only:1");
  REQUIRE(eventually([&] { return e.elector->is_leader(); }));
  Batch b;
  b.put_topology(topology("t"), kMustNotExist);
  b.fence = e.elector->fencing_token();
  REQUIRE(commit(*store, std::move(b)).ok());

  zk.stop();
  REQUIRE(eventually([&] { return !e.elector->is_leader(); }));
  CHECK(e.revoked.load() == 1);
  const auto down = store->load_topologies();
  CHECK(down.status().code() == StatusCode::kUnavailable);
  CHECK(store->ping().code() == StatusCode::kUnavailable);

  zk.start();
  REQUIRE(eventually([&] { return e.elector->is_leader(); }, 20s));
  CHECK(e.elected.load() == 2);
  auto back = store->load_topologies();
  REQUIRE(back.ok());
  CHECK(back->size() == 1);
  Batch again;
  again.put_run(run("t", "r", 1), kMustNotExist);
  again.fence = e.elector->fencing_token();
  CHECK(commit(*store, std::move(again)).ok());
}

TEST_CASE("the live-run index: recovery reads only live runs, and stays exact") {
  ZkServer zk;
  auto conn = connect(zk);
  auto store = make_zk_store(conn);
  // An Epoch-Java tree has no index: the first reader scans every run.
  for (const char* p : {"/epoch", "/epoch/topologies", "/epoch/runs", "/epoch/runs/a"})
    REQUIRE(conn->create(p, "", 0) == ZOK);
  REQUIRE(conn->create("/epoch/topologies/a", to_json(topology("a").details), 0) == ZOK);
  REQUIRE(conn->create("/epoch/runs/a/old-live", to_json(run("a", "old-live", 1, RunState::kRunning)),
                       0) == ZOK);
  REQUIRE(conn->create("/epoch/runs/a/old-done", to_json(run("a", "old-done", 2)), 0) == ZOK);
  auto live = store->load_live_runs();
  REQUIRE(live.ok());
  REQUIRE(live->size() == 1);
  int version = 0;
  CHECK(conn->exists("/epoch/live", &version) == ZNONODE);
  // The first commit builds the index, including what the scan found.
  Batch b;
  b.put_run(run("a", "new-live", 3, RunState::kRunning), kMustNotExist);
  b.put_run(run("a", "new-done", 4), kMustNotExist);
  REQUIRE(commit(*store, std::move(b)).ok());
  std::vector<std::string> index;
  REQUIRE(conn->children("/epoch/live", index) == ZOK);
  std::sort(index.begin(), index.end());
  CHECK(index == std::vector<std::string>{"a~new-live", "a~old-live"});
  // Finishing a run, in another store (another leader), drops its entry.
  auto other = make_zk_store(connect(zk));
  auto stored = other->load_run("a", "old-live");
  RunInfo finished = stored->value().run;
  finished.state = RunState::kFailed;
  Batch f;
  f.put_run(finished, stored->value().version);
  REQUIRE(commit(*other, std::move(f)).ok());
  live = other->load_live_runs();
  REQUIRE(live->size() == 1);
  CHECK(live->front().run.run_id == "new-live");
  // Deleting the topology's runs clears its entries.
  Batch d;
  d.delete_all_runs("a");
  REQUIRE(commit(*other, std::move(d)).ok());
  REQUIRE(conn->children("/epoch/live", index) == ZOK);
  CHECK(index.empty());
  CHECK(other->load_live_runs()->empty());
}
