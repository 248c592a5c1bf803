// The Store contract, checked against every implementation (MemoryStore and
// SqliteStore on a real file), plus what only a file can show: persistence,
// the schema version, and the engine recovering from the file.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "../engine/harness.h"
#include "epoch/sqlite_store.h"
#include "store_contract.h"

using namespace epoch;
using namespace epoch::test;
namespace fs = std::filesystem;

namespace {

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

TEST_CASE("SqliteStore: an audit table (schema 2) becomes the journal \"audit\", ids kept") {
  TempDir dir;
  const fs::path file = dir.path / "epoch.db";
  REQUIRE(make_sqlite_store({file.string()}).ok());
  {
    // The file as schema 2 left it: the audit log in a table of its own.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    const char* v2 =
        "DROP TABLE journals; DROP TABLE journal_entries;"
        "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,"
        "  user_name TEXT NOT NULL, role TEXT NOT NULL, method TEXT NOT NULL,"
        "  path TEXT NOT NULL, topology_id TEXT NOT NULL, status INTEGER NOT NULL,"
        "  before_json TEXT NOT NULL, after_json TEXT NOT NULL);"
        "INSERT INTO audit VALUES (7, 1000, 'alice', 'ADMIN', 'PUT', '/apis/v1/topologies/a/pause',"
        "  'a', 200, '{\"state\":\"ACTIVE\"}', '{\"state\":\"PAUSED\"}');"
        "INSERT INTO audit VALUES (9, 2000, 'bob', 'READ_WRITE', 'POST', '/apis/v1/topologies',"
        "  'not a key!', 200, '', '{}');"
        "DELETE FROM audit WHERE id = 9;"  // the counter stays at 9
        "INSERT INTO audit (time, user_name, role, method, path, topology_id, status,"
        "  before_json, after_json) VALUES (3000, 'carol', 'ADMIN', 'DELETE',"
        "  '/apis/v1/topologies/b', 'b', 200, '{}', '');"
        "PRAGMA user_version=2;";
    REQUIRE(sqlite3_exec(db, v2, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = make_sqlite_store({file.string()});
  REQUIRE(store.ok());
  CHECK(user_version(file) == kSqliteSchemaVersion);
  const auto all = (*store)->load_journal("audit", JournalQuery{10, std::nullopt, ""});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].id == 10);
  CHECK((*all)[0].key == "b");
  CHECK((*all)[1].id == 7);
  CHECK((*all)[1].key == "a");
  // The JSON epochd writes for an entry, field for field.
  CHECK((*all)[1].data == R"({"time":1000,"user":"alice","role":"ADMIN","method":"PUT",)"
                          R"("path":"/apis/v1/topologies/a/pause","topologyId":"a","status":200,)"
                          R"("before":"{\"state\":\"ACTIVE\"}","after":"{\"state\":\"PAUSED\"}"})");
  // New entries come after the old ones.
  Batch b;
  b.append_journal("audit", JournalEntry{0, "a", "{}"});
  REQUIRE(commit(**store, std::move(b)).ok());
  CHECK((*store)->load_journal("audit", JournalQuery{1, std::nullopt, "a"})->front().id == 11);
}

TEST_CASE("SqliteStore: many openers of one new file at once all get the schema, made once") {
  // Found running a service and a reader of its file side by side: both
  // created the tables, and one failed "table topologies already exists".
  for (int round = 0; round < 20; ++round) {
    TempDir dir;
    const std::string file = (dir.path / "epoch.db").string();
    std::vector<std::thread> openers;
    std::atomic<int> failed{0};
    std::mutex mu;
    std::string why;
    for (int i = 0; i < 6; ++i) {
      openers.emplace_back([&] {
        auto s = make_sqlite_store({file});
        if (!s.ok()) {
          ++failed;
          std::lock_guard lock(mu);
          why = s.status().message();
        }
      });
    }
    for (auto& t : openers)
      t.join();
    INFO(why);
    REQUIRE(failed == 0);
  }
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
