// The Store contract every implementation keeps, and helpers for store tests.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <memory>

#include "../engine/harness.h"
#include "epoch/store.h"

namespace epoch::test {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/epoch-store-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

inline CommitResult commit(Store& s, Batch b) {
  std::promise<CommitResult> p;
  auto f = p.get_future();
  s.commit(std::move(b), [&](CommitResult r) { p.set_value(std::move(r)); });
  return f.get();
}

inline RunInfo run(const std::string& tid, const std::string& rid, std::int64_t updated,
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

inline TopologyRecord topology(const std::string& id) {
  TopologyRecord t;
  t.details.id = id;
  t.details.topology = test::process_topology(id, "0 * * * * ?");
  t.details.created = t.details.updated = from_epoch_millis(1000);
  return t;
}

// The contract every Store keeps.
// `exact_messages`: the conflict messages are the engine's own (a store
// backed by a service reports that service's words instead).
inline void check_contract(Store& store, bool exact_messages = true) {
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
  if (exact_messages) {
    CHECK(bad.status().message() == "version conflict on topology a: expected 7, found 1");
  }
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
  // Journals: appended through batches, read newest first, paged, by key.
  const auto entry = [](const std::string& key, int i) {
    return JournalEntry{0, key, R"({"n":)" + std::to_string(i) + "}"};
  };
  for (int i = 0; i < 5; ++i) {
    Batch one;
    one.append_journal("audit", entry("t" + std::to_string(i % 2), i));
    REQUIRE(commit(store, std::move(one)).ok());
  }
  Batch other;  // another journal: its own ids, apart from the first
  other.append_journal("jobs-log", entry("", 100));
  other.append_journal("jobs-log", entry("t1", 101));
  REQUIRE(commit(store, std::move(other)).ok());
  auto page = store.load_journal("audit", JournalQuery{3, std::nullopt, ""});
  REQUIRE(page.ok());
  REQUIRE(page->size() == 3);
  CHECK(page->front().data == R"({"n":4})");
  CHECK(page->front().key == "t0");
  CHECK(page->front().id > (*page)[1].id);
  const auto older = store.load_journal("audit", JournalQuery{10, page->back().id, ""});
  REQUIRE(older->size() == 2);
  CHECK(older->back().data == R"({"n":0})");
  const auto of_t1 = store.load_journal("audit", JournalQuery{10, std::nullopt, "t1"});
  REQUIRE(of_t1->size() == 2);
  for (const JournalEntry& e : *of_t1)
    CHECK(e.key == "t1");
  const auto jobs = store.load_journal("jobs-log", JournalQuery{10, std::nullopt, ""});
  REQUIRE(jobs->size() == 2);
  CHECK(jobs->front().data == R"({"n":101})");
  CHECK(jobs->back().key.empty());
  CHECK(store.load_journal("never-written", JournalQuery{})->empty());
  // Retention: an append can keep only the newest entries (of its journal).
  Batch trim;
  trim.append_journal("audit", entry("t2", 5), 3);
  REQUIRE(commit(store, std::move(trim)).ok());
  const auto kept = store.load_journal("audit", JournalQuery{100, std::nullopt, ""});
  REQUIRE(kept->size() == 3);
  CHECK(kept->front().data == R"({"n":5})");
  CHECK(kept->back().data == R"({"n":3})");
  CHECK(store.load_journal("jobs-log", JournalQuery{})->size() == 2);
  // Bad names, keys and sizes are refused, with the rest of their batch;
  // a batch appends to one journal at most.
  const auto refused = [&](Batch rejected) {
    rejected.put_topology(topology("refused"), kMustNotExist);
    const auto r = commit(store, std::move(rejected));
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK_FALSE(store.load_topology("refused")->has_value());
  };
  for (const std::string& name :
       std::vector<std::string>{"", "Audit", "a/b", "-x", std::string(33, 'a'), "../x"}) {
    CAPTURE(name);
    Batch append;
    append.append_journal(name, entry("", 1));
    refused(std::move(append));
    CHECK(store.load_journal(name, JournalQuery{}).status().code() == StatusCode::kInvalidArgument);
  }
  for (const std::string& key :
       std::vector<std::string>{"a b", "x/y", std::string(256, 'k'), "~"}) {
    CAPTURE(key);
    Batch append;
    append.append_journal("audit", entry(key, 1));
    refused(std::move(append));
    CHECK(store.load_journal("audit", JournalQuery{10, std::nullopt, key}).status().code() ==
          StatusCode::kInvalidArgument);
  }
  Batch big;
  big.append_journal("audit", JournalEntry{0, "", std::string(kJournalDataMax + 1, 'x')});
  refused(std::move(big));
  Batch two;
  two.append_journal("audit", entry("", 1));
  two.append_journal("jobs-log", entry("", 1));
  refused(std::move(two));
  CHECK(store.load_journal("audit", JournalQuery{100, std::nullopt, ""})->size() == 3);
}

// Makes a store `rounds` times with commits in flight and destroys it at
// once: every commit's callback runs before the destructor returns, never
// after. Returns how many callbacks came late (0).
template <typename Make>
int churn_with_commits_in_flight(int rounds, Make make) {
  std::atomic<bool> destroyed{false};
  std::atomic<int> late{0}, answered{0};
  for (int i = 0; i < rounds; ++i) {
    destroyed = false;
    {
      std::unique_ptr<Store> s = make(i);
      for (int n = 0; n < 3; ++n) {
        Batch b;
        b.put_topology(topology("churn-" + std::to_string(i) + "-" + std::to_string(n)),
                       kMustNotExist);
        s->commit(std::move(b), [&](CommitResult) {
          ++answered;
          if (destroyed) ++late;
        });
      }
    }
    destroyed = true;
  }
  MESSAGE(answered.load() << " of " << 3 * rounds << " commits answered before their store went");
  return late.load();
}

}  // namespace epoch::test
