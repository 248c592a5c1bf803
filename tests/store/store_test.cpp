// The Store contract, checked against every implementation (MemoryStore and
// SqliteStore on a real file), plus what only a file can show: persistence,
// the schema version, and the engine recovering from the file.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include "../engine/harness.h"
#include "epoch/sqlite_store.h"

using namespace epoch;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/epoch-store-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

CommitResult commit(Store& s, Batch b) {
  std::promise<CommitResult> p;
  auto f = p.get_future();
  s.commit(std::move(b), [&](CommitResult r) { p.set_value(std::move(r)); });
  return f.get();
}

RunInfo run(const std::string& tid, const std::string& rid, std::int64_t updated,
            RunState state = RunState::kSuccessful, RunType type = RunType::kScheduled) {
  RunInfo r;
  r.topology_id = tid;
  r.run_id = rid;
  r.state = state;
  r.run_type = type;
  r.message = "Task successful";
  r.updated = from_epoch_millis(updated);
  r.tasks["main"] = TaskRunInfo{tid + "-" + rid + "-main",
                                TaskState::kCompleted,
                                "u",
                                "",
                                0,
                                1,
                                std::nullopt,
                                std::nullopt,
                                std::nullopt};
  return r;
}

TopologyRecord topology(const std::string& id) {
  TopologyRecord t;
  t.details.id = id;
  t.details.topology = test::process_topology(id, "0 * * * * ?");
  t.details.created = t.details.updated = from_epoch_millis(1000);
  return t;
}

// The contract every Store keeps.
void check_contract(Store& store) {
  Batch b;
  b.put_topology(topology("a"), kMustNotExist);
  b.put_run(run("a", "r1", 10), kMustNotExist);
  b.put_run(run("a", "r2", 20, RunState::kRunning), kMustNotExist);
  b.put_run(run("a", "r3", 30, RunState::kFailed, RunType::kInstant), kMustNotExist);
  auto v = commit(store, std::move(b));
  REQUIRE_MESSAGE(v.ok(), v.status().message());
  CHECK(*v == std::vector<std::int64_t>{1, 1, 1, 1});
  // Records come back as written.
  auto t = store.load_topology("a");
  REQUIRE(t.ok());
  REQUIRE(t->has_value());
  CHECK((*t)->details == topology("a").details);
  CHECK((*t)->version == 1);
  CHECK(store.load_run("a", "r1")->value().run == run("a", "r1", 10));
  CHECK_FALSE(store.load_run("a", "nope")->has_value());
  CHECK_FALSE(store.load_topology("nope")->has_value());
  // A stale version aborts the whole batch.
  Batch stale;
  stale.put_run(run("a", "r4", 40), kMustNotExist);
  stale.put_topology(topology("a"), 7);
  auto bad = commit(store, std::move(stale));
  CHECK(bad.status().code() == StatusCode::kAborted);
  CHECK(bad.status().message() == "version conflict on topology a: expected 7, found 1");
  CHECK_FALSE(store.load_run("a", "r4")->has_value());
  Batch exists;
  exists.put_run(run("a", "r1", 11), kMustNotExist);
  CHECK(commit(store, std::move(exists)).status().code() == StatusCode::kAborted);
  // Sequential writes to one record in one batch; versions count.
  Batch twice;
  twice.put_topology(topology("a"), 1);
  twice.put_topology(topology("a"), 2);
  CHECK(*commit(store, std::move(twice)) == std::vector<std::int64_t>{2, 3});
  // The last fire is its own small record and leaves the version alone.
  Batch fire;
  fire.set_last_fire("a", from_epoch_millis(5000));
  REQUIRE(commit(store, std::move(fire)).ok());
  CHECK(store.load_topology("a")->value().last_fire == from_epoch_millis(5000));
  CHECK(store.load_topology("a")->value().version == 3);
  Batch ghost;
  ghost.set_last_fire("ghost", from_epoch_millis(5000));
  CHECK(commit(store, std::move(ghost)).status().code() == StatusCode::kAborted);
  // Queries: newest first, by state and type, limit, before.
  auto all = store.load_runs("a");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK(all->front().run.run_id == "r3");
  RunQuery q;
  q.states = {RunState::kSuccessful, RunState::kFailed};
  CHECK(store.load_runs("a", q)->size() == 2);
  q.types = {RunType::kInstant};
  CHECK(store.load_runs("a", q)->front().run.run_id == "r3");
  q = RunQuery{};
  q.limit = 1;
  q.before = from_epoch_millis(30);
  CHECK(store.load_runs("a", q)->front().run.run_id == "r2");
  CHECK(store.load_runs("nope")->empty());
  // The JSON form: the same runs, in the same order, as Epoch's run JSON.
  auto texts = store.load_runs_json("a", RunQuery{});
  REQUIRE(texts.ok());
  REQUIRE(texts->size() == 3);
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(*run_info_from_json((*texts)[i]) == (*all)[i].run);
  CHECK(store.load_runs_json("a", q)->size() == 1);
  auto live = store.load_live_runs();
  REQUIRE(live->size() == 1);
  CHECK(live->front().run.run_id == "r2");
  // Delete all runs, then create one again, in one batch.
  Batch clear;
  clear.delete_all_runs("a");
  clear.put_run(run("a", "r1", 40), kMustNotExist);
  REQUIRE(commit(store, std::move(clear)).ok());
  CHECK(store.load_runs("a")->size() == 1);
  Batch del;
  del.delete_run("a", "r1", 1);
  del.delete_topology("a", 3);
  REQUIRE(commit(store, std::move(del)).ok());
  CHECK(store.load_topologies()->empty());
  CHECK(store.ping().ok());
}

// Waits for every commit, so that engine tests stay step by step.
class SyncStore : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  void commit(Batch batch, CommitCallback done) override {
    std::promise<CommitResult> p;
    auto f = p.get_future();
    target_.commit(std::move(batch), [&](CommitResult r) { p.set_value(std::move(r)); });
    done(f.get());
  }
};

int user_version(const fs::path& file) {
  sqlite3* db = nullptr;
  sqlite3_open(file.c_str(), &db);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr);
  sqlite3_step(s);
  const int v = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

}  // namespace

TEST_CASE("MemoryStore keeps the Store contract") {
  check_contract(*make_memory_store());
}

TEST_CASE("SqliteStore keeps the Store contract on a real file") {
  TempDir dir;
  auto store = make_sqlite_store({(dir.path / "epoch.db").string()});
  REQUIRE_MESSAGE(store.ok(), store.status().message());
  check_contract(**store);
}

TEST_CASE("SqliteStore: data survives reopening; the schema is versioned") {
  TempDir dir;
  const fs::path file = dir.path / "epoch.db";
  {
    auto store = make_sqlite_store({file.string()});
    REQUIRE(store.ok());
    Batch b;
    b.put_topology(topology("keep"), kMustNotExist);
    b.put_run(run("keep", "r1", 10), kMustNotExist);
    REQUIRE(commit(**store, std::move(b)).ok());
  }
  CHECK(user_version(file) == kSqliteSchemaVersion);
  auto again = make_sqlite_store({file.string()});
  REQUIRE(again.ok());
  CHECK((*again)->load_topology("keep")->value().version == 1);
  CHECK((*again)->load_run("keep", "r1")->value().run == run("keep", "r1", 10));
  again->reset();
  // A file from a newer build is refused, untouched.
  {
    sqlite3* db = nullptr;
    sqlite3_open(file.c_str(), &db);
    sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  auto newer = make_sqlite_store({file.string()});
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.status().code() == StatusCode::kFailedPrecondition);
  CHECK(newer.status().message().find("schema version 99") != std::string::npos);
  CHECK(user_version(file) == 99);
  // A path that cannot be a database.
  auto nowhere = make_sqlite_store({(dir.path / "no" / "such" / "dir" / "x.db").string()});
  CHECK(nowhere.status().code() == StatusCode::kUnavailable);
}

TEST_CASE("SqliteStore: concurrent commits from several threads are all applied") {
  TempDir dir;
  SqliteStoreOptions o{(dir.path / "epoch.db").string(), false, std::chrono::seconds(5)};
  auto store = make_sqlite_store(o);
  REQUIRE(store.ok());
  Batch setup;
  for (int t = 0; t < 4; ++t)
    setup.put_topology(topology("t" + std::to_string(t)), kMustNotExist);
  REQUIRE(commit(**store, std::move(setup)).ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        Batch b;
        b.put_run(run("t" + std::to_string(t), "r" + std::to_string(i), i), kMustNotExist);
        if (!commit(**store, std::move(b)).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(failures == 0);
  for (int t = 0; t < 4; ++t)
    CHECK((*store)->load_runs("t" + std::to_string(t))->size() == 50);
}

TEST_CASE(
    "the engine on SQLite: a restart on the same file re-attaches, and launches nothing twice") {
  TempDir dir;
  const std::string file = (dir.path / "epoch.db").string();
  auto sqlite = make_sqlite_store({file});
  REQUIRE(sqlite.ok());
  auto sync = std::make_unique<SyncStore>(**sqlite);
  test::Harness h(test::at("2026-01-01T00:00:00Z"), FakeExecutor::Mode::kManual);
  h.store = sync.get();
  h.start();
  REQUIRE(h.create(test::process_topology("sq", "0 0 * * * ?")).ok());
  h.advance_to(test::at("2026-01-01T01:00:30Z"));
  const std::string task = "sq-ESR-2026-01-01-01-00-00-000-main";
  CHECK(h.executor.create_count(task) == 1);
  // The process goes away; a new one opens the same file.
  h.scheduler.reset();
  sync.reset();
  sqlite->reset();
  auto reopened = make_sqlite_store({file});
  REQUIRE(reopened.ok());
  auto sync2 = std::make_unique<SyncStore>(**reopened);
  h.store = sync2.get();
  h.elector.stop();
  h.advance_to(test::at("2026-01-01T01:30:00Z"));
  h.start();
  CHECK(h.executor.create_count(task) == 1);
  CHECK(h.executor.attach_count(task) == 1);
  h.executor.finish(task, TaskState::kCompleted);
  h.pump();
  CHECK(h.run("sq", "ESR-2026-01-01-01-00-00-000").state == RunState::kSuccessful);
  h.advance_to(test::at("2026-01-01T02:00:00Z"));
  CHECK(h.executor.launches().size() == 2);
  h.scheduler.reset();
}
