// The audit log: every change made through the API — who, when, which
// endpoint, the topology, and its JSON before and after — recorded in the
// store's journal "audit" (through a fenced batch, like every leader write)
// and read back with GET /apis/v1/audit (ADMIN; see api.cpp). The library
// keeps journal entries opaque; the schema below is epochd's.
//
// Threading: thread-safe; the recording commit is asynchronous (a failure
// to record is logged and counted, the answer still goes out).
// Ownership: holds references to the scheduler, store, elector and logger.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>

#include "auth.h"
#include "epoch/leader.h"
#include "epoch/scheduler.h"
#include "epoch/store.h"
#include "http.h"
#include "log.h"
#include "routes.h"

namespace epochd {

// One change made through the API.
struct AuditEntry {
  std::int64_t id = 0;  // the journal's
  epoch::Instant time{};
  std::string user, role;
  std::string method, path;
  std::string topology_id;    // empty: none
  int status = 0;             // the HTTP status answered
  std::string before, after;  // EpochTopologyDetails JSON; empty: none
  friend bool operator==(const AuditEntry&, const AuditEntry&) = default;
};

inline constexpr const char* kAuditJournal = "audit";

// The journal entry for `e`: its data is the JSON object
// {"time","user","role","method","path","topologyId","status","before","after"}
// (what the audit log stored before it was a journal, so old entries read
// the same), its key the topology id when that can be a key.
epoch::JournalEntry to_journal(const AuditEntry& e);
// An entry read back; fields the data lacks stay empty (never fails).
AuditEntry from_journal(const epoch::JournalEntry& j);
// The entry as GET /apis/v1/audit shows it: its id, and the topology's
// JSON before and after as JSON (null when none).
boost::json::object api_json(const AuditEntry& e);

class AuditRecorder {
 public:
  // The log keeps its newest `keep` entries (0: all).
  AuditRecorder(epoch::Scheduler& scheduler, epoch::Store& store,
                const epoch::LeaderElector& elector, Logger& log, std::int64_t keep = 0);

  // Records a change (any POST/PUT/DELETE: Epoch's API and the UI's; other
  // requests are not recorded, do not call this for them). Reads the
  // topology's JSON before the change, then calls `proceed` with the
  // responder the API must answer through: once the change succeeded, it
  // reads the JSON after, records the entry, then answers with `respond`.
  // `proceed` and `respond` are always called later, on an engine thread
  // (the reads are the scheduler's get_topology, which never answers
  // inline); a failed change is answered as is and not recorded. The path
  // and topology id recorded are the decoded route's.
  void record(const HttpRequest& req, const Route& route, const Principal& who, Responder respond,
              std::function<void(Responder)> proceed);

  std::uint64_t failures() const { return failures_.load(); }

 private:
  void topology_json(const std::string& id, std::function<void(std::string)> then);

  epoch::Scheduler& scheduler_;
  epoch::Store& store_;
  const epoch::LeaderElector& elector_;
  Logger& log_;
  std::int64_t keep_;
  std::atomic<std::uint64_t> failures_{0};
};

// The topology a request is about: the route's {id}, or the body's "name"
// for a create.
std::string audited_topology(const HttpRequest& req, const Route& route);

}  // namespace epochd
