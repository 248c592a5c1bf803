// ZkStore and ZkElector against a real ZooKeeper server (Debian's, started
// by the test on a free loopback port): the Store contract, Epoch-Java's
// data read and written back in its own format, fenced writes after a
// session expiry, the election, a ZooKeeper restart, and the audit log's
// buckets (100,000 entries kept, moving the old flat layout, retention;
// the audit log is the journal "audit").
#include <doctest/doctest.h>

#include <atomic>
#include <boost/json.hpp>
#include <limits>

#include "../../libepoch/store/zk_connection.h"
#include "daemon_process.h"
#include "epoch/zookeeper.h"
#include "epoch_examples.h"
#include "store_contract.h"
#include "zk_fixtures.h"
#include "zk_server.h"

using namespace epoch;
using namespace epoch::test;
using namespace std::chrono_literals;

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
  REQUIRE(conn->create("/epoch/runs/daily-report/ESR-2024-10-18-06-00-00-000", run_json, 0) == ZOK);

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
  REQUIRE(conn->create("/epoch/runs/a/old-live",
                       to_json(run("a", "old-live", 1, RunState::kRunning)), 0) == ZOK);
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

namespace {

// The JSON of an audit entry as epochd writes it (and wrote it before the
// audit log was a journal): a topology's details JSON before and after a
// change (a few hundred bytes each).
std::string audit_json(int i, const std::string& topology_id) {
  const std::string details = R"({"id":")" + topology_id +
                              R"(","topology":{"name":"x","trigger":{"type":"CRON",)"
                              R"("timeSpec":"0 0/5 * * * ?"},"tasks":[{"taskName":"main"}]},)";
  return boost::json::serialize(boost::json::object{
      {"time", 1'700'000'000'000 + i},
      {"user", "alice"},
      {"role", "READ_WRITE"},
      {"method", "PUT"},
      {"path", "/apis/v1/topologies/" + topology_id + "/pause"},
      {"topologyId", topology_id},
      {"status", 200},
      {"before", details + R"("state":"ACTIVE","created":1,"updated":)" + std::to_string(i) + "}"},
      {"after", details + R"("state":"PAUSED","created":1,"updated":)" + std::to_string(i) + "}"}});
}

// The journal entry epochd appends for it (the key: the topology).
JournalEntry audit_entry(int i, const std::string& topology_id) {
  return JournalEntry{0, topology_id, audit_json(i, topology_id)};
}

StatusOr<std::vector<JournalEntry>> load_audit(Store& store, std::size_t limit,
                                               std::optional<std::int64_t> before = std::nullopt,
                                               std::string key = {}) {
  return store.load_journal("audit", JournalQuery{limit, before, std::move(key)});
}

// ZooKeeper's default jute.maxbuffer: Java clients (zkCli, Curator,
// Epoch-Java) drop the connection on a larger reply, and the server refuses
// larger requests. (The C client the store uses reads any size, so this is
// checked on the tree rather than seen as an error.)
constexpr std::size_t kJuteMaxBuffer = 0xfffff;

// The size of a getChildren reply listing `names` (a 4-byte length per name,
// and a few bytes of header).
std::size_t children_reply_bytes(const std::vector<std::string>& names) {
  std::size_t n = 32;
  for (const std::string& s : names)
    n += 4 + s.size();
  return n;
}

struct AuditTree {
  std::size_t buckets = 0, entries = 0;
  std::size_t largest_listing = 0;  // bytes of the largest getChildren reply
  std::size_t largest_bucket = 0;   // entries
};

// Walks /epoch/audit the way any client may: list it, then each child.
AuditTree walk_audit_tree(ZkConnection& conn) {
  AuditTree t;
  std::vector<std::string> top;
  REQUIRE(conn.children("/epoch/audit", top) == ZOK);
  t.largest_listing = children_reply_bytes(top);
  for (const std::string& b : top) {
    std::vector<std::string> names;
    REQUIRE(conn.children("/epoch/audit/" + b, names) == ZOK);
    if (names.empty()) {
      ++t.entries;  // a flat entry
      continue;
    }
    ++t.buckets;
    t.entries += names.size();
    t.largest_bucket = std::max(t.largest_bucket, names.size());
    t.largest_listing = std::max(t.largest_listing, children_reply_bytes(names));
  }
  return t;
}

}  // namespace

TEST_CASE("the audit log keeps the default retention (100,000 entries) in bounded reads") {
  constexpr int kKeep = 100'000;  // epochd --audit-retention's default
  constexpr int kTotal = kKeep + 2'500;
  constexpr int kPerBatch = 500;
  // Every seventh entry names a topology with the longest id allowed.
  const std::string longest(255, 'L');
  const auto topology_of = [&](int i) {
    return i % 7 == 0 ? longest : "topology-" + std::to_string(i % 5);
  };
  ZkServer zk;
  // Batches of 500 entries on a loaded 2-core machine (sanitizers, other
  // tests): wait for ZooKeeper as long as a production node would.
  auto conn = connect(zk, "epoch", 10s, 10s);
  auto store = make_zk_store(conn);
  const auto t0 = std::chrono::steady_clock::now();
  for (int at = 0; at < kTotal; at += kPerBatch) {
    Batch b;
    for (int i = at; i < std::min(kTotal, at + kPerBatch); ++i)
      b.append_journal("audit", audit_entry(i, topology_of(i)), kKeep);
    const auto r = commit(*store, std::move(b));
    REQUIRE_MESSAGE(r.ok(), r.status().message());
  }
  auto t1 = std::chrono::steady_clock::now();
  MESSAGE("appended ", kTotal, " entries in ",
          std::chrono::duration_cast<std::chrono::milliseconds>(t1 - t0).count(), " ms");
  // No reply about the audit log passes ZooKeeper's limit (a flat parent of
  // 100,000 entries lists in 1.6 MB); retention deleted exactly the oldest
  // entries and the buckets they emptied.
  const AuditTree tree = walk_audit_tree(*conn);
  MESSAGE("buckets ", tree.buckets, ", largest listing ", tree.largest_listing, " bytes");
  CHECK(tree.largest_listing < kJuteMaxBuffer / 2);
  CHECK(tree.largest_bucket <= 1000);
  CHECK(tree.entries == kKeep);
  CHECK(tree.buckets <= kKeep / 1000 + 1);

  // Paged newest first: exactly the newest kKeep, in order.
  const auto page_all = [&](const std::string& topology_id, std::size_t limit) {
    std::vector<JournalEntry> all;
    JournalQuery q;
    q.limit = limit;
    q.key = topology_id;
    while (true) {
      auto page = store->load_journal("audit", q);
      REQUIRE_MESSAGE(page.ok(), page.status().message());
      CHECK(page->size() <= limit);
      if (page->empty()) break;
      for (JournalEntry& e : *page)
        all.push_back(std::move(e));
      q.before_id = all.back().id;
    }
    return all;
  };
  t1 = std::chrono::steady_clock::now();
  const auto all = page_all("", 1000);
  const auto t2 = std::chrono::steady_clock::now();
  MESSAGE("paged through ", all.size(), " entries in ",
          std::chrono::duration_cast<std::chrono::milliseconds>(t2 - t1).count(), " ms");
  REQUIRE(all.size() == kKeep);
  bool ordered = true, exact = true;
  for (std::size_t k = 0; k < all.size(); ++k) {
    const int i = kTotal - 1 - static_cast<int>(k);  // the entry written i-th
    if (k > 0 && all[k].id >= all[k - 1].id) ordered = false;
    JournalEntry want = audit_entry(i, topology_of(i));
    want.id = all[k].id;
    if (all[k] != want) exact = false;
  }
  CHECK(ordered);
  CHECK(exact);
  // Small pages and before_id land exactly.
  auto three = load_audit(*store, 3, all[1500].id);
  REQUIRE(three.ok());
  REQUIRE(three->size() == 3);
  CHECK((*three)[0] == all[1501]);
  CHECK((*three)[2] == all[1503]);

  // The topology filter returns that topology's entries, and only those.
  for (const std::string& tid : {longest, std::string("topology-3")}) {
    const auto of = page_all(tid, 500);
    std::vector<std::int64_t> want;
    for (const JournalEntry& e : all) {
      if (e.key == tid) want.push_back(e.id);
    }
    std::vector<std::int64_t> got;
    for (const JournalEntry& e : of)
      got.push_back(e.id);
    CHECK(got == want);
    CHECK(!got.empty());
  }
  CHECK(load_audit(*store, 10, std::nullopt, "nobody")->empty());
  MESSAGE(
      "filtered reads in ",
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t2)
          .count(),
      " ms");
}

TEST_CASE("audit entries from the flat layout are moved into buckets, ids kept") {
  ZkServer zk;
  auto conn = connect(zk);
  // What earlier versions wrote: sequential nodes /epoch/audit/a-<seq>, some
  // pruned (so the sequence has gaps), over more than two buckets' range.
  for (const char* p : {"/epoch", "/epoch/audit"})
    REQUIRE(conn->create(p, "", 0) == ZOK);
  const std::string odd = "not a valid id/" + std::string(300, 'x');
  std::vector<std::string> flat;
  for (int i = 0; i < 2600; ++i) {
    const std::string tid = i % 100 == 0 ? odd : "t" + std::to_string(i % 3);
    std::string created;
    REQUIRE(conn->create("/epoch/audit/a-", audit_json(i, tid), ZOO_SEQUENCE, &created) == ZOK);
    flat.push_back(created);
  }
  for (int i = 0; i < 2600; i += 7)
    REQUIRE(conn->remove(flat[static_cast<std::size_t>(i)]) == ZOK);

  auto store = make_zk_store(conn);
  // Before this version's first append, the flat log is read as it is: the
  // key of an entry is the topology id its JSON names, when it can be one.
  const auto before = load_audit(*store, 5000);
  REQUIRE(before.ok());
  const std::size_t kept = 2600 - (2600 + 6) / 7;
  REQUIRE(before->size() == kept);
  CHECK(before->front().id == 2599);
  CHECK(before->front().key == "t1");  // 2599 % 3
  CHECK(before->front().data == audit_json(2599, "t1"));
  CHECK(before->back().id == 1);  // a-0000000001 (a-0000000000 was pruned)
  const auto flat_t1 = load_audit(*store, 5000, std::nullopt, "t1");
  REQUIRE(flat_t1.ok());

  // Other writes do not touch the journal; its first append moves the
  // entries, and the new one comes after them.
  Batch b;
  b.put_topology(topology("a"), kMustNotExist);
  REQUIRE(commit(*store, std::move(b)).ok());
  CHECK(*load_audit(*store, 5000) == *before);
  Batch next;
  next.append_journal("audit", audit_entry(9000, "t1"));
  REQUIRE(commit(*store, std::move(next)).ok());
  std::vector<std::string> top;
  REQUIRE(conn->children("/epoch/audit", top) == ZOK);
  std::sort(top.begin(), top.end());
  CHECK(top == std::vector<std::string>{"b-0000000", "b-0000001", "b-0000002"});
  auto after = load_audit(*store, 5000);
  REQUIRE(after.ok());
  REQUIRE(after->size() == kept + 1);
  CHECK(after->front().id == 2600);
  CHECK(after->front().data == audit_json(9000, "t1"));
  after->erase(after->begin());
  CHECK(*after == *before);  // same entries, same ids, same keys
  // The filter sees moved entries too.
  const auto of_t1 = load_audit(*store, 5000, std::nullopt, "t1");
  REQUIRE(of_t1.ok());
  CHECK(of_t1->front().id == 2600);
  CHECK(of_t1->size() == flat_t1->size() + 1);
  std::size_t want = 1;
  for (const JournalEntry& e : *before)
    want += e.key == "t1" ? 1 : 0;
  CHECK(of_t1->size() == want);
  // Entries about an id that cannot be a key are moved with no key
  // (marked "~"): still listed, never matched by a key.
  std::size_t marked = 0;
  for (const std::string& bucket : top) {
    std::vector<std::string> names;
    REQUIRE(conn->children("/epoch/audit/" + bucket, names) == ZOK);
    for (const std::string& n : names)
      marked += n.back() == '~' ? 1 : 0;
  }
  CHECK(marked == 26 - 4);  // i % 100 == 0, less those pruned (i % 700 == 0)
  CHECK(load_audit(*store, 5000, std::nullopt, odd).status().code() ==
        StatusCode::kInvalidArgument);

  // An earlier version, leading for a while in a rolling upgrade, appends
  // in the flat layout again: the next store to append moves its entries
  // after the newest (keeping their sequence numbers, which are larger).
  std::string stray;
  const std::string stray_json = boost::json::serialize(
      boost::json::object{{"time", 5}, {"user", "old"}, {"topologyId", "t2"}, {"status", 200}});
  REQUIRE(conn->create("/epoch/audit/a-", stray_json, ZOO_SEQUENCE, &stray) == ZOK);
  auto restarted = make_zk_store(conn);
  Batch again;
  again.append_journal("audit", audit_entry(9001, "t2"));
  REQUIRE(commit(*restarted, std::move(again)).ok());
  int version = 0;
  CHECK(conn->exists(stray, &version) == ZNONODE);
  const auto newest = load_audit(*restarted, 2);
  REQUIRE(newest->size() == 2);
  CHECK(newest->front().data == audit_json(9001, "t2"));
  CHECK(newest->back().data == stray_json);
  CHECK(newest->back().key == "t2");
  CHECK(newest->back().id > 2600);  // its sequence number, newer than the counter
}

TEST_CASE("journal entries: names, size limit, fencing, two writers, split multis") {
  ZkServer zk;
  auto conn = connect(zk);
  auto store = make_zk_store(conn);
  // The key is in the entry's name, so that the key filter reads names only.
  for (const std::string& key :
       {std::string(), std::string("ok"), std::string(), std::string("ok")}) {
    Batch b;
    b.append_journal("audit", audit_entry(1, key));
    REQUIRE(commit(*store, std::move(b)).ok());
  }
  std::vector<std::string> names;
  REQUIRE(conn->children("/epoch/audit/b-0000000", names) == ZOK);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"a-0000000001", "a-0000000002-ok", "a-0000000003",
                                          "a-0000000004-ok"});
  CHECK(load_audit(*store, 10, std::nullopt, "ok")->size() == 2);
  CHECK(load_audit(*store, 10)->size() == 4);
  // Another journal lives apart, under /journals, with its own ids.
  Batch jobs;
  jobs.append_journal("jobs", JournalEntry{0, "k", "payload"});
  REQUIRE(commit(*store, std::move(jobs)).ok());
  names.clear();
  REQUIRE(conn->children("/epoch/journals/jobs/b-0000000", names) == ZOK);
  CHECK(names == std::vector<std::string>{"a-0000000001-k"});
  CHECK(store->load_journal("jobs", JournalQuery{})->front().data == "payload");

  // An entry over the size limit is refused, with the rest of its batch.
  Batch big;
  JournalEntry huge = audit_entry(2, "ok");
  huge.data.assign(600 * 1024, 'x');
  big.put_topology(topology("big"), kMustNotExist);
  big.append_journal("audit", huge);
  CHECK(commit(*store, std::move(big)).status().code() == StatusCode::kInvalidArgument);
  CHECK_FALSE(store->load_topology("big")->has_value());

  // A deposed leader's append is fenced like any write.
  ElectorProbe leader(conn, "http://a:1");
  REQUIRE(eventually([&] { return leader.elector->is_leader(); }));
  FencingToken stale = *leader.elector->fencing_token();
  stale.version += 1;
  Batch fenced;
  fenced.append_journal("audit", audit_entry(3, "ok"));
  fenced.fence = stale;
  CHECK(commit(*store, std::move(fenced)).status().code() == StatusCode::kFailedPrecondition);
  Batch current;
  current.append_journal("audit", audit_entry(4, "ok"));
  current.fence = leader.elector->fencing_token();
  REQUIRE(commit(*store, std::move(current)).ok());

  // Two stores appending in turn: each finds the counter moved by the other
  // and reads it again; ids stay unique and consecutive.
  auto other = make_zk_store(conn);
  for (int i = 0; i < 6; ++i) {
    Batch b;
    b.append_journal("audit", audit_entry(10 + i, "ok"), 8);
    REQUIRE(commit(i % 2 == 0 ? *other : *store, std::move(b)).ok());
  }
  auto all = load_audit(*store, 100);
  REQUIRE(all->size() == 8);
  for (std::size_t k = 0; k < all->size(); ++k)
    CHECK((*all)[k].id == 11 - static_cast<std::int64_t>(k));

  // A batch larger than one multi: every part moves the counter with its
  // own entries; retention deletes across buckets.
  ZkStoreOptions small;
  small.max_multi_bytes = 16 * 1024;
  auto split = make_zk_store(conn, small);
  Batch many;
  for (int i = 0; i < 2500; ++i)
    many.append_journal("audit", audit_entry(100 + i, "s" + std::to_string(i % 4)), 1200);
  REQUIRE(commit(*split, std::move(many)).ok());
  all = load_audit(*store, 5000);
  REQUIRE(all->size() == 1200);
  CHECK(all->front().id == 2511);
  CHECK(all->back().id == 1312);
  CHECK(all->front().data == audit_json(2599, "s3"));
  const AuditTree tree = walk_audit_tree(*conn);
  CHECK(tree.entries == 1200);
  CHECK(tree.buckets == 2);  // b-0000001 (1312-1999) and b-0000002

  // One entry per commit, as the daemon appends: retention deletes each
  // entry as it falls out, including those appended after it listed the
  // bucket.
  for (int i = 0; i < 30; ++i) {
    Batch b;
    b.append_journal("audit", audit_entry(3000 + i, "one"), 5);
    REQUIRE(commit(*store, std::move(b)).ok());
  }
  all = load_audit(*store, 100);
  REQUIRE(all->size() == 5);
  CHECK(all->front().id == 2541);
  CHECK(all->back().id == 2537);
  CHECK(walk_audit_tree(*conn).entries == 5);
  CHECK(load_audit(*store, 100, 2537)->empty());
  CHECK(load_audit(*store, 100, std::numeric_limits<std::int64_t>::min())->empty());
}
