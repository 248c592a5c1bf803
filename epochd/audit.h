// The audit log: every change made through the API — who, when, which
// endpoint, the topology, and its JSON before and after — recorded in the
// store (through a fenced batch, like every leader write) and read back
// with GET /apis/v1/audit (ADMIN; see api.cpp).
//
// Threading: thread-safe; the recording commit is asynchronous (a failure
// to record is logged and counted, the answer still goes out).
// Ownership: holds references to the scheduler, store, elector and logger.
#pragma once

#include <atomic>

#include "auth.h"
#include "epoch/leader.h"
#include "epoch/scheduler.h"
#include "epoch/store.h"
#include "http.h"
#include "log.h"
#include "routes.h"

namespace epochd {

class AuditRecorder {
 public:
  // The log keeps its newest `keep` entries (0: all).
  AuditRecorder(epoch::Scheduler& scheduler, epoch::Store& store,
                const epoch::LeaderElector& elector, Logger& log, std::int64_t keep = 0);

  // For a change (any POST/PUT/DELETE: Epoch's API and the UI's), returns a
  // responder that
  // records the change once it succeeded, then answers; other requests get
  // `respond` back unchanged. Call before the API handles `req`.
  // The path and topology id recorded are the decoded route's.
  Responder wrap(const HttpRequest& req, const Route& route, const Principal& who,
                 Responder respond);

  std::uint64_t failures() const { return failures_.load(); }

 private:
  std::string topology_json(const std::string& id);

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
