// epoch/store.h — durable state: topologies and runs as versioned records.
//
// What: the `Store` seam. Records are topologies (`/topologies/{id}`, with
// the engine's metadata such as the last processed fire instant) and runs
// (`/runs/{topologyId}/{runId}`). Every record carries a version, starting
// at 1 and incremented by each write; writes are compare-and-set on it, so a
// lost update is detected instead of silently overwritten. A `Batch` of
// writes commits atomically (one SQLite transaction, one ZooKeeper multi):
// the engine commits everything one step decided as one batch.
//
// Implementations: `make_memory_store()` here (tests, embedding),
// `make_sqlite_store()` (epoch/sqlite_store.h) and the ZooKeeper store
// (epoch/zookeeper.h), all in libepoch. `StoreWrapper` forwards every call,
// for tests that inject faults.
//
// Threading: every method is thread-safe. Reads block the caller; `commit`
// completes on the store's own thread — except the MemoryStore's, which
// completes inline (named exception: it has no thread); the engine posts
// every result to its own strand, so either is safe for it. A store's
// destructor joins its thread: no commit callback runs after it returns.
// Ownership: the store copies what it is given; callers own what it returns.
// Errors: kAborted when a version check fails (nothing of the batch is
// applied), kFailedPrecondition when the batch's fencing token is stale (a
// deposed leader), kUnavailable when the backing service cannot be reached,
// kInternal for anything unexpected. A failed commit applies nothing.
//
// Example:
//   auto store = epoch::make_memory_store();
//   epoch::Batch b;
//   epoch::TopologyRecord record;
//   record.details.id = topology.name;
//   record.details.topology = topology;
//   b.put_topology(record, /*expected_version=*/epoch::kMustNotExist);
//   store->commit(std::move(b), [](epoch::CommitResult versions) {
//     // on the store's thread; versions->at(0) == 1 for a new record
//     if (!versions.ok()) std::cerr << versions.status().message() << "\n";
//   });
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "epoch/model.h"
#include "epoch/status.h"

namespace epoch {

// A topology as stored: Epoch's details plus the engine's bookkeeping.
struct TopologyRecord {
  TopologyDetails details;
  // The latest nominal fire instant the engine has handled (run, skipped or
  // recorded as missed). Catch-up after downtime starts after it.
  std::optional<Instant> last_fire;
  std::int64_t version = 0;  // 0: not stored yet
  friend bool operator==(const TopologyRecord&, const TopologyRecord&) = default;
};

struct RunRecord {
  RunInfo run;
  std::int64_t version = 0;
  friend bool operator==(const RunRecord&, const RunRecord&) = default;
};

// An entry of an append-only journal. A store keeps journals by name
// beside the records, appends to them in fenced batches like any write, and
// keeps the newest N entries when asked to. It stores `data` as given and
// never looks inside: the program that writes a journal owns its schema
// (epochd's audit log is the journal "audit", its entries JSON).
struct JournalEntry {
  std::int64_t id = 0;  // given by the store: increasing within a journal
  // What the entry is about, for JournalQuery::key: "" (nothing), or 1-255
  // of [0-9a-zA-Z_-] (a topology id fits).
  std::string key;
  std::string data;  // at most kJournalDataMax bytes
  friend bool operator==(const JournalEntry&, const JournalEntry&) = default;
};

// Which entries of a journal to read, newest first.
struct JournalQuery {
  std::size_t limit = 50;
  std::optional<std::int64_t> before_id;  // only entries with a smaller id
  std::string key;                        // empty: any
};

inline constexpr std::size_t kJournalDataMax = 512 * 1024;

// A journal's name: 1-32 of [a-z0-9-], starting with a letter.
// kInvalidArgument otherwise, saying why.
Status check_journal_name(std::string_view name);
// An entry's key, as JournalEntry::key says; kInvalidArgument otherwise.
Status check_journal_key(std::string_view key);

// Expected versions for compare-and-set.
inline constexpr std::int64_t kMustNotExist = 0;  // create
inline constexpr std::int64_t kAnyVersion = -1;   // unconditional

// Proof of leadership that a store can check atomically with a batch (the
// ZooKeeper election node and its version). Empty path: no fencing.
struct FencingToken {
  std::string path;
  std::int64_t version = 0;
};

struct WriteOp {
  enum class Kind {
    kPutTopology,
    kDeleteTopology,
    kSetLastFire,  // TopologyRecord::last_fire only: no version check, version unchanged
    kPutRun,
    kDeleteRun,
    kDeleteAllRuns,
    kAppendJournal,  // `journal`, `entry`; no version
  };
  Kind kind = Kind::kPutRun;
  std::string topology_id;
  std::string run_id;                      // kPutRun, kDeleteRun
  std::optional<TopologyRecord> topology;  // kPutTopology
  std::optional<RunInfo> run;              // kPutRun
  Instant last_fire{};                     // kSetLastFire
  std::string journal;                     // kAppendJournal: its name
  std::optional<JournalEntry> entry;       // kAppendJournal
  std::int64_t journal_keep = 0;           // kAppendJournal: keep the newest N entries (0: all)
  std::int64_t expected_version = kAnyVersion;
};

struct Batch {
  std::vector<WriteOp> ops;
  std::optional<FencingToken> fence;

  void put_topology(const TopologyRecord& t, std::int64_t expected_version);
  void delete_topology(const std::string& id, std::int64_t expected_version = kAnyVersion);
  // Records the last nominal fire handled for a topology (it must exist by
  // the time the op is applied). Kept apart from the topology record, so
  // that firing never rewrites the topology.
  void set_last_fire(const std::string& topology_id, Instant fire);
  void put_run(const RunInfo& run, std::int64_t expected_version);
  void delete_run(const std::string& topology_id, const std::string& run_id,
                  std::int64_t expected_version = kAnyVersion);
  void delete_all_runs(const std::string& topology_id);
  // Appends `entry` (its id is given by the store) to the journal named
  // `journal`, which then keeps its newest `keep` entries (0: all). A bad
  // name, key or an entry over kJournalDataMax fails the commit
  // (kInvalidArgument). A batch appends to one journal at most.
  void append_journal(std::string journal, JournalEntry entry, std::int64_t keep = 0);
  bool empty() const noexcept { return ops.empty(); }
};

// New versions of the written records, one per op in order (0 for deletes).
using CommitResult = StatusOr<std::vector<std::int64_t>>;
using CommitCallback = std::function<void(CommitResult)>;

// Which runs to read, newest first by `updated` (then run id).
struct RunQuery {
  std::vector<RunState> states;   // empty: any
  std::vector<RunType> types;     // empty: any
  std::size_t limit = 0;          // 0: no limit
  std::optional<Instant> before;  // only runs updated strictly before this
};

class Store {
 public:
  virtual ~Store() = default;
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // "memory", "sqlite", "zookeeper".
  virtual std::string_view name() const noexcept = 0;

  virtual StatusOr<std::vector<TopologyRecord>> load_topologies() = 0;
  virtual StatusOr<std::optional<TopologyRecord>> load_topology(std::string_view id) = 0;
  // Runs of a topology matching `query`.
  virtual StatusOr<std::vector<RunRecord>> load_runs(std::string_view topology_id,
                                                     const RunQuery& query = {}) = 0;
  virtual StatusOr<std::optional<RunRecord>> load_run(std::string_view topology_id,
                                                      std::string_view run_id) = 0;
  // The same runs as load_runs(), as their JSON text (Epoch's run JSON),
  // for a reader that only passes them on. The default serializes
  // load_runs(); a store that keeps the text returns it as stored.
  virtual StatusOr<std::vector<std::string>> load_runs_json(std::string_view topology_id,
                                                            const RunQuery& query = {});
  // Every stored run that is not terminal, across topologies.
  virtual StatusOr<std::vector<RunRecord>> load_live_runs() = 0;
  // Entries of the journal `journal` matching `query`, newest first (none
  // for a journal never appended to; kInvalidArgument for a bad name or key).
  virtual StatusOr<std::vector<JournalEntry>> load_journal(std::string_view journal,
                                                           const JournalQuery& query) = 0;

  // Applies `batch` atomically, then calls `done` exactly once (possibly on
  // another thread, possibly before commit returns).
  virtual void commit(Batch batch, CommitCallback done) = 0;

  // Whether the backing service answers (for /healthcheck).
  virtual Status ping() = 0;
};

// An in-memory store: thread-safe, atomic batches, versions, no fencing.
// Topologies are kept as JSON text (compact; read back through the model's
// decoder), runs as values.
std::unique_ptr<Store> make_memory_store();

// Forwards every call to `target`; subclass it to inject faults in tests.
class StoreWrapper : public Store {
 public:
  explicit StoreWrapper(Store& target) : target_(target) {}
  std::string_view name() const noexcept override { return target_.name(); }
  StatusOr<std::vector<TopologyRecord>> load_topologies() override {
    return target_.load_topologies();
  }
  StatusOr<std::optional<TopologyRecord>> load_topology(std::string_view id) override {
    return target_.load_topology(id);
  }
  StatusOr<std::vector<RunRecord>> load_runs(std::string_view topology_id,
                                             const RunQuery& query) override {
    return target_.load_runs(topology_id, query);
  }
  StatusOr<std::vector<std::string>> load_runs_json(std::string_view topology_id,
                                                    const RunQuery& query) override {
    return target_.load_runs_json(topology_id, query);
  }
  StatusOr<std::optional<RunRecord>> load_run(std::string_view topology_id,
                                              std::string_view run_id) override {
    return target_.load_run(topology_id, run_id);
  }
  StatusOr<std::vector<RunRecord>> load_live_runs() override { return target_.load_live_runs(); }
  StatusOr<std::vector<JournalEntry>> load_journal(std::string_view journal,
                                                   const JournalQuery& query) override {
    return target_.load_journal(journal, query);
  }
  void commit(Batch batch, CommitCallback done) override {
    target_.commit(std::move(batch), std::move(done));
  }
  Status ping() override { return target_.ping(); }

 protected:
  Store& target_;
};

}  // namespace epoch
