// SqliteStore: the Store seam on one SQLite file (WAL, one transaction per
// batch, versions checked inside the transaction, a writer thread).
#include "epoch/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "../support/work_queue.h"
#include "journal.h"

namespace epoch {
namespace {

// Schema migrations: entry k brings a database from user_version k to k+1.
constexpr const char* kMigrations[] = {
    // 0 -> 1
    "CREATE TABLE topologies ("
    "  id TEXT PRIMARY KEY,"
    "  version INTEGER NOT NULL,"
    "  details TEXT NOT NULL,"  // EpochTopologyDetails JSON
    "  last_fire INTEGER"       // epoch ms of the last nominal fire handled
    ");"
    "CREATE TABLE runs ("
    "  topology_id TEXT NOT NULL,"
    "  run_id TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  run_type TEXT NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  body TEXT NOT NULL,"  // EpochTopologyRunInfo JSON
    "  PRIMARY KEY (topology_id, run_id)"
    ");"
    "CREATE INDEX runs_by_updated ON runs (topology_id, updated DESC, run_id DESC);"
    "CREATE INDEX runs_live ON runs (state) WHERE state = 'RUNNING';",
    // 1 -> 2: the audit log
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time INTEGER NOT NULL,"
    "  user_name TEXT NOT NULL,"
    "  role TEXT NOT NULL,"
    "  method TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  topology_id TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  before_json TEXT NOT NULL,"
    "  after_json TEXT NOT NULL"
    ");"
    "CREATE INDEX audit_by_topology ON audit (topology_id, id DESC);",
    // 2 -> 3: journals (the library's) replace the audit table (epochd's
    // schema); its rows become entries of the journal "audit", keeping
    // their ids, as the JSON epochd writes (a topology id that cannot be a
    // key is kept in the JSON only).
    "CREATE TABLE journals ("  // a journal's last id given
    "  name TEXT PRIMARY KEY,"
    "  last_id INTEGER NOT NULL"
    ");"
    "CREATE TABLE journal_entries ("
    "  name TEXT NOT NULL,"
    "  id INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY (name, id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX journal_by_key ON journal_entries (name, key, id DESC);"
    "INSERT INTO journal_entries (name, id, key, data) SELECT 'audit', id, "
    "  CASE WHEN length(topology_id) > 255 OR topology_id GLOB '*[^0-9a-zA-Z_-]*' THEN '' "
    "       ELSE topology_id END, "
    "  json_object('time', time, 'user', user_name, 'role', role, 'method', method, "
    "              'path', path, 'topologyId', topology_id, 'status', status, "
    "              'before', before_json, 'after', after_json) "
    "FROM audit;"
    "INSERT INTO journals (name, last_id) SELECT 'audit', "
    "  max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0), "
    "      coalesce((SELECT max(id) FROM audit), 0));"
    "DROP TABLE audit;",
};
static_assert(std::size(kMigrations) == kSqliteSchemaVersion);

class Db {
 public:
  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db() {
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  Status open(const SqliteStoreOptions& o) {
    const int rc =
        sqlite3_open_v2(o.path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      return unavailable("cannot open the SQLite store '" + o.path +
                         "': " + (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)));
    }
    sqlite3_busy_timeout(db_, static_cast<int>(o.busy_timeout.count()));
    // Turning WAL on takes the file's lock and does not wait for it (no
    // busy handler): another opener of a new file makes it fail at once.
    // Retried for the busy timeout.
    const auto give_up = std::chrono::steady_clock::now() + o.busy_timeout;
    while (true) {
      const Status wal = exec("PRAGMA journal_mode=WAL");
      if (wal.ok()) break;
      if (sqlite3_errcode(db_) != SQLITE_BUSY || std::chrono::steady_clock::now() > give_up) {
        return wal;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EPOCH_RETURN_IF_ERROR(
        exec(o.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
    return exec("PRAGMA foreign_keys=ON");
  }

  Status exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string message = err != nullptr ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      std::string what = "'";
      what.append(sql, std::min<std::size_t>(std::strlen(sql), 60)).append("'");
      return error(what, message);
    }
    return ok_status();
  }

  Status error(const std::string& what, const std::string& message) const {
    const int code = sqlite3_errcode(db_);
    const std::string m = "SQLite store: " + what + " failed: " + message;
    return code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR ||
                   code == SQLITE_FULL || code == SQLITE_CANTOPEN
               ? unavailable(m)
               : internal_error(m);
  }

  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// The writer's prepared statements, kept for the store's life: a commit
// of a thousand records prepares each statement once, not a thousand times
// (the parser was a tenth of a busy SQLite store's time). Keyed by the SQL
// literal's address; used by the writer thread only.
class StmtCache {
 public:
  StmtCache() = default;
  StmtCache(const StmtCache&) = delete;
  StmtCache& operator=(const StmtCache&) = delete;
  ~StmtCache() {
    for (const auto& [sql, s] : cache_)
      sqlite3_finalize(s);
  }
  // nullptr when the statement cannot be prepared (not kept).
  sqlite3_stmt* get(const Db& db, const char* sql) {
    if (const auto it = cache_.find(sql); it != cache_.end()) return it->second;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) !=
        SQLITE_OK) {
      sqlite3_finalize(s);
      return nullptr;
    }
    cache_.emplace(sql, s);
    return s;
  }

 private:
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// A prepared statement: its own, or one of a StmtCache (reset and its
// bindings cleared when this goes).
class Stmt {
 public:
  Stmt(const Db& db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &s_, nullptr) != SQLITE_OK) s_ = nullptr;
  }
  Stmt(const Db& db, StmtCache& cache, const char* sql)
      : db_(db), s_(cache.get(db, sql)), cached_(true) {}
  ~Stmt() {
    if (!cached_) {
      sqlite3_finalize(s_);
    } else if (s_ != nullptr) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return s_ != nullptr; }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(s_); }
  std::int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string_view text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p == nullptr
               ? std::string_view()
               : std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
  }
  Status error(const std::string& what) const { return db_.error(what, sqlite3_errmsg(db_.get())); }

 private:
  const Db& db_;
  sqlite3_stmt* s_ = nullptr;
  bool cached_ = false;
};

// One step at a time, each in a write transaction that reads the version
// it starts from: two processes opening a new file at once do not both
// create its tables (the second sees the first's version).
Status migrate(Db& db, const std::string& path) {
  while (true) {
    EPOCH_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE"));
    int version = 0;
    {
      // Finalized before migrating: a DROP TABLE fails while any statement
      // is still active.
      Stmt v(db, "PRAGMA user_version");
      if (!v.ok() || v.step() != SQLITE_ROW) {
        const Status s = v.error("reading the schema version");
        db.exec("ROLLBACK").ok();
        return s;
      }
      version = static_cast<int>(v.int64(0));
    }
    if (version >= kSqliteSchemaVersion) {
      db.exec("ROLLBACK").ok();
      if (version == kSqliteSchemaVersion) return ok_status();
      return failed_precondition("the SQLite store '" + path + "' has schema version " +
                                 std::to_string(version) + ", newer than this build's " +
                                 std::to_string(kSqliteSchemaVersion) + "; refusing to open it");
    }
    Status s = db.exec(kMigrations[version]);
    if (s.ok()) s = db.exec(("PRAGMA user_version=" + std::to_string(version + 1)).c_str());
    if (!s.ok()) {
      db.exec("ROLLBACK").ok();
      return s;
    }
    EPOCH_RETURN_IF_ERROR(db.exec("COMMIT"));
  }
}

StatusOr<RunRecord> run_from_row(const Stmt& s, int body_col, int version_col) {
  EPOCH_ASSIGN_OR_RETURN(auto run, run_info_from_json(s.text(body_col)));
  return RunRecord{std::move(run), s.int64(version_col)};
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteStoreOptions o) : options_(std::move(o)) {}

  Status open() {
    EPOCH_RETURN_IF_ERROR(writer_.open(options_));
    EPOCH_RETURN_IF_ERROR(migrate(writer_, options_.path));
    for (Reader& r : readers_)
      EPOCH_RETURN_IF_ERROR(r.db.open(options_));
    // The writer: commits one at a time, in order; at destruction the
    // commits already made are applied and answered.
    writes_.emplace([this](Pending& p) { p.done(apply(p.batch)); });
    return ok_status();
  }

  std::string_view name() const noexcept override { return "sqlite"; }

  StatusOr<std::vector<TopologyRecord>> load_topologies() override {
    ReaderLease reader = acquire_reader();
    Stmt s(reader.db, "SELECT details, version, last_fire FROM topologies ORDER BY id");
    std::vector<TopologyRecord> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      EPOCH_ASSIGN_OR_RETURN(auto r, topology_from_row(s));
      out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return s.error("reading topologies");
    return out;
  }

  StatusOr<std::optional<TopologyRecord>> load_topology(std::string_view id) override {
    ReaderLease reader = acquire_reader();
    Stmt s(reader.db, "SELECT details, version, last_fire FROM topologies WHERE id = ?");
    s.bind(1, id);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<TopologyRecord>();
    if (rc != SQLITE_ROW) return s.error("reading topology " + std::string(id));
    EPOCH_ASSIGN_OR_RETURN(auto r, topology_from_row(s));
    return std::optional<TopologyRecord>(std::move(r));
  }

  StatusOr<std::vector<RunRecord>> load_runs(std::string_view topology_id,
                                             const RunQuery& q) override {
    std::vector<RunRecord> out;
    EPOCH_RETURN_IF_ERROR(query_runs(topology_id, q, [&](const Stmt& s) -> Status {
      EPOCH_ASSIGN_OR_RETURN(auto r, run_from_row(s, 0, 1));
      out.push_back(std::move(r));
      return ok_status();
    }));
    return out;
  }

  StatusOr<std::vector<std::string>> load_runs_json(std::string_view topology_id,
                                                    const RunQuery& q) override {
    std::vector<std::string> out;
    EPOCH_RETURN_IF_ERROR(query_runs(topology_id, q, [&](const Stmt& s) -> Status {
      out.emplace_back(s.text(0));
      return ok_status();
    }));
    return out;
  }

  // Runs the runs query of `q`, calling `row` for each row (body, version).
  template <typename Row>
  Status query_runs(std::string_view topology_id, const RunQuery& q, Row&& row) {
    std::string sql = "SELECT body, version FROM runs WHERE topology_id = ?";
    const auto in = [&](std::size_t n) {
      std::string list = " IN (";
      for (std::size_t i = 0; i < n; ++i)
        list += i == 0 ? "?" : ", ?";
      return list + ")";
    };
    if (!q.states.empty()) sql += " AND state" + in(q.states.size());
    if (!q.types.empty()) sql += " AND run_type" + in(q.types.size());
    if (q.before) sql += " AND updated < ?";
    sql += " ORDER BY updated DESC, run_id DESC";
    if (q.limit != 0) sql += " LIMIT ?";
    ReaderLease reader = acquire_reader();
    Stmt s(reader.db, sql);
    int i = 1;
    s.bind(i++, topology_id);
    for (RunState st : q.states)
      s.bind(i++, to_string(st));
    for (RunType t : q.types)
      s.bind(i++, to_string(t));
    if (q.before) s.bind(i++, to_epoch_millis(*q.before));
    if (q.limit != 0) s.bind(i++, static_cast<std::int64_t>(q.limit));
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
      EPOCH_RETURN_IF_ERROR(row(s));
    if (rc != SQLITE_DONE) return s.error("reading runs of " + std::string(topology_id));
    return ok_status();
  }

  StatusOr<std::optional<RunRecord>> load_run(std::string_view topology_id,
                                              std::string_view run_id) override {
    ReaderLease reader = acquire_reader();
    Stmt s(reader.db, "SELECT body, version FROM runs WHERE topology_id = ? AND run_id = ?");
    s.bind(1, topology_id).bind(2, run_id);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<RunRecord>();
    if (rc != SQLITE_ROW) return s.error("reading a run");
    EPOCH_ASSIGN_OR_RETURN(auto r, run_from_row(s, 0, 1));
    return std::optional<RunRecord>(std::move(r));
  }

  StatusOr<std::vector<RunRecord>> load_live_runs() override {
    ReaderLease reader = acquire_reader();
    Stmt s(reader.db, "SELECT body, version FROM runs WHERE state = 'RUNNING'");
    std::vector<RunRecord> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      EPOCH_ASSIGN_OR_RETURN(auto r, run_from_row(s, 0, 1));
      out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return s.error("reading live runs");
    return out;
  }

  StatusOr<std::vector<JournalEntry>> load_journal(std::string_view name,
                                                   const JournalQuery& q) override {
    EPOCH_RETURN_IF_ERROR(check_journal_name(name));
    EPOCH_RETURN_IF_ERROR(check_journal_key(q.key));
    ReaderLease reader = acquire_reader();
    Stmt s(reader.db,
           "SELECT id, key, data FROM journal_entries "
           "WHERE name = ? AND id < ? AND (? = '' OR key = ?) ORDER BY id DESC LIMIT ?");
    s.bind(1, name)
        .bind(2, q.before_id.value_or(std::numeric_limits<std::int64_t>::max()))
        .bind(3, q.key)
        .bind(4, q.key)
        .bind(5, static_cast<std::int64_t>(q.limit));
    std::vector<JournalEntry> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      JournalEntry j;
      j.id = s.int64(0);
      j.key = s.text(1);
      j.data = s.text(2);
      out.push_back(std::move(j));
    }
    if (rc != SQLITE_DONE) return s.error("reading journal " + std::string(name));
    return out;
  }

  void commit(Batch batch, CommitCallback done) override {
    writes_->push({std::move(batch), std::move(done)});
  }

  Status ping() override {
    ReaderLease reader = acquire_reader();
    Stmt s(reader.db, "SELECT 1");
    return s.step() == SQLITE_ROW ? ok_status() : s.error("ping");
  }

 private:
  struct Pending {
    Batch batch;
    CommitCallback done;
  };

  static StatusOr<TopologyRecord> topology_from_row(const Stmt& s) {
    EPOCH_ASSIGN_OR_RETURN(auto details, topology_details_from_json(s.text(0)));
    TopologyRecord r;
    r.details = std::move(details);
    r.version = s.int64(1);
    if (!s.is_null(2)) r.last_fire = from_epoch_millis(s.int64(2));
    return r;
  }

  // The current version of a record (0: absent), or an error.
  StatusOr<std::int64_t> version_of(const std::string& tid, const std::string* rid) {
    Stmt s(writer_, cache_,
           rid == nullptr ? "SELECT version FROM topologies WHERE id = ?"
                          : "SELECT version FROM runs WHERE topology_id = ? AND run_id = ?");
    s.bind(1, tid);
    if (rid != nullptr) s.bind(2, *rid);
    const int rc = s.step();
    if (rc == SQLITE_ROW) return s.int64(0);
    if (rc == SQLITE_DONE) return std::int64_t{0};
    return s.error("reading a version");
  }

  CommitResult apply(const Batch& batch) {
    EPOCH_RETURN_IF_ERROR(store::journal_of(batch).status());
    if (Status s = writer_.exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    CommitResult r = apply_ops(batch);
    if (r.ok()) {
      if (Status s = writer_.exec("COMMIT"); !s.ok()) {
        writer_.exec("ROLLBACK").ok();
        return s;
      }
    } else {
      writer_.exec("ROLLBACK").ok();
    }
    return r;
  }

  CommitResult apply_ops(const Batch& batch) {
    std::vector<std::int64_t> versions;
    versions.reserve(batch.ops.size());
    for (const WriteOp& op : batch.ops) {
      const bool run = op.kind == WriteOp::Kind::kPutRun || op.kind == WriteOp::Kind::kDeleteRun;
      if (op.kind == WriteOp::Kind::kPutTopology || op.kind == WriteOp::Kind::kDeleteTopology ||
          run) {
        EPOCH_ASSIGN_OR_RETURN(const std::int64_t have,
                               version_of(op.topology_id, run ? &op.run_id : nullptr));
        if (op.expected_version != kAnyVersion && op.expected_version != have) {
          return aborted("version conflict on " + std::string(run ? "run " : "topology ") +
                         op.topology_id + (run ? "/" + op.run_id : "") + ": expected " +
                         std::to_string(op.expected_version) + ", found " + std::to_string(have));
        }
        const bool put =
            op.kind == WriteOp::Kind::kPutRun || op.kind == WriteOp::Kind::kPutTopology;
        versions.push_back(put ? have + 1 : 0);
      } else {
        versions.push_back(0);
      }
      Status s;
      switch (op.kind) {
        case WriteOp::Kind::kPutTopology: {
          Stmt st(writer_, cache_,
                  "INSERT INTO topologies (id, version, details, last_fire) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT(id) DO UPDATE SET version = excluded.version, "
                  "details = excluded.details, "
                  "last_fire = COALESCE(excluded.last_fire, topologies.last_fire)");
          st.bind(1, op.topology_id)
              .bind(2, versions.back())
              .bind(3, to_json(op.topology->details));
          if (op.topology->last_fire) {
            st.bind(4, to_epoch_millis(*op.topology->last_fire));
          } else {
            st.bind_null(4);
          }
          if (st.step() != SQLITE_DONE) s = st.error("writing topology " + op.topology_id);
          break;
        }
        case WriteOp::Kind::kDeleteTopology: {
          Stmt st(writer_, cache_, "DELETE FROM topologies WHERE id = ?");
          st.bind(1, op.topology_id);
          if (st.step() != SQLITE_DONE) s = st.error("deleting topology " + op.topology_id);
          break;
        }
        case WriteOp::Kind::kSetLastFire: {
          Stmt st(writer_, cache_, "UPDATE topologies SET last_fire = ? WHERE id = ?");
          st.bind(1, to_epoch_millis(op.last_fire)).bind(2, op.topology_id);
          if (st.step() != SQLITE_DONE) {
            s = st.error("recording the last fire of " + op.topology_id);
          } else if (sqlite3_changes(writer_.get()) == 0) {
            s = aborted("version conflict on topology " + op.topology_id +
                        ": cannot record a fire of a topology that does not exist");
          }
          break;
        }
        case WriteOp::Kind::kPutRun: {
          Stmt st(writer_, cache_,
                  "INSERT INTO runs (topology_id, run_id, version, state, run_type, updated, body) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(topology_id, run_id) DO UPDATE SET "
                  "version = excluded.version, state = excluded.state, "
                  "run_type = excluded.run_type, updated = excluded.updated, body = excluded.body");
          st.bind(1, op.topology_id)
              .bind(2, op.run_id)
              .bind(3, versions.back())
              .bind(4, to_string(op.run->state))
              .bind(5, to_string(op.run->run_type))
              .bind(6, to_epoch_millis(op.run->updated))
              .bind(7, to_json(*op.run));
          if (st.step() != SQLITE_DONE) s = st.error("writing run " + op.run_id);
          break;
        }
        case WriteOp::Kind::kDeleteRun: {
          Stmt st(writer_, cache_, "DELETE FROM runs WHERE topology_id = ? AND run_id = ?");
          st.bind(1, op.topology_id).bind(2, op.run_id);
          if (st.step() != SQLITE_DONE) s = st.error("deleting run " + op.run_id);
          break;
        }
        case WriteOp::Kind::kDeleteAllRuns: {
          Stmt st(writer_, cache_, "DELETE FROM runs WHERE topology_id = ?");
          st.bind(1, op.topology_id);
          if (st.step() != SQLITE_DONE) s = st.error("deleting runs of " + op.topology_id);
          break;
        }
        case WriteOp::Kind::kAppendJournal: {
          Stmt next(writer_, cache_,
                    "INSERT INTO journals (name, last_id) VALUES (?, 1) "
                    "ON CONFLICT(name) DO UPDATE SET last_id = last_id + 1 RETURNING last_id");
          next.bind(1, op.journal);
          if (next.step() != SQLITE_ROW) {
            s = next.error("numbering an entry of journal " + op.journal);
            break;
          }
          const std::int64_t id = next.int64(0);
          if (next.step() != SQLITE_DONE) {
            s = next.error("numbering an entry of journal " + op.journal);
            break;
          }
          Stmt st(writer_, cache_,
                  "INSERT INTO journal_entries (name, id, key, data) VALUES (?, ?, ?, ?)");
          st.bind(1, op.journal).bind(2, id).bind(3, op.entry->key).bind(4, op.entry->data);
          if (st.step() != SQLITE_DONE) {
            s = st.error("writing an entry of journal " + op.journal);
          } else if (op.journal_keep > 0) {
            Stmt prune(writer_, cache_,
                       "DELETE FROM journal_entries WHERE name = ? AND id <= ? - ?");
            prune.bind(1, op.journal).bind(2, id).bind(3, op.journal_keep);
            if (prune.step() != SQLITE_DONE) s = prune.error("pruning journal " + op.journal);
          }
          break;
        }
      }
      if (!s.ok()) return s;
    }
    return versions;
  }

  const SqliteStoreOptions options_;
  Db writer_;        // the writer thread's
  StmtCache cache_;  // its statements (after writer_: finalized before it closes)
  // Reads run on a small pool of connections (WAL lets them run alongside
  // each other and the writer); each is used by one thread at a time.
  struct Reader {
    Db db;
    std::mutex mu;
  };
  struct ReaderLease {
    std::unique_lock<std::mutex> lock;
    Db& db;
  };
  ReaderLease acquire_reader() {
    const std::size_t start = next_reader_.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < readers_.size(); ++i) {
      Reader& r = readers_[(start + i) % readers_.size()];
      std::unique_lock lock(r.mu, std::try_to_lock);
      if (lock.owns_lock()) return ReaderLease{std::move(lock), r.db};
    }
    Reader& r = readers_[start % readers_.size()];
    return ReaderLease{std::unique_lock(r.mu), r.db};
  }
  std::array<Reader, 4> readers_;
  std::atomic<std::size_t> next_reader_{0};
  std::optional<WorkQueue<Pending>> writes_;  // last: stops first
};

}  // namespace

StatusOr<std::unique_ptr<Store>> make_sqlite_store(const SqliteStoreOptions& options) {
  auto store = std::make_unique<SqliteStore>(options);
  EPOCH_RETURN_IF_ERROR(store->open());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace epoch
