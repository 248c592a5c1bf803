// epoch/sqlite_store.h — the embedded default Store: one SQLite file.
//
// What: a Store on a SQLite database file (default ./epoch.db) in WAL mode.
// Every batch is one transaction, so it is applied whole or not at all, and
// a crash at any point leaves the file as of the last committed batch.
// Versions are checked inside the transaction (compare-and-set). The schema
// is versioned (PRAGMA user_version) and migrated forward on open; a file
// written by a newer schema is refused rather than damaged.
//
// Records are stored as Epoch's JSON (the same text the REST API and
// ZooKeeper carry), with the columns needed for queries beside them.
//
// Threading: thread-safe. Commits are applied, in the order they were made,
// by the store's own writer thread, which calls `done`; reads run on the
// caller's thread over a small pool of read connections (WAL lets them run
// alongside each other and a commit).
// Ownership: the store owns its connections and thread; destroying it
// finishes the queued commits first.
// Errors: open fails with kUnavailable (cannot open or lock the file) or
// kFailedPrecondition (a newer schema); commit reports kAborted on a
// version conflict and kUnavailable/kInternal on SQLite errors, naming the
// SQLite message.
//
// Example:
//   epoch::SqliteStoreOptions o;
//   o.path = "/var/lib/myservice/epoch.db";
//   auto store = epoch::make_sqlite_store(o);
//   if (!store.ok()) return store.status();  // cannot open or lock, newer schema
//   auto topologies = (*store)->load_topologies();
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "epoch/store.h"

namespace epoch {

struct SqliteStoreOptions {
  // The database file (default "epoch.db" in the working directory).
  std::string path = "epoch.db";
  // FULL (default) survives power loss; NORMAL only process crashes, faster.
  bool synchronous_full = true;
  // How long to wait for a lock held by another process (default 5 s).
  std::chrono::milliseconds busy_timeout = std::chrono::seconds(5);
};

StatusOr<std::unique_ptr<Store>> make_sqlite_store(const SqliteStoreOptions& options);

// The schema version this build writes.
inline constexpr int kSqliteSchemaVersion = 3;

}  // namespace epoch
