#include "audit.h"

#include <boost/json.hpp>
#include <chrono>
#include <memory>

namespace epochd {

std::string audited_topology(const HttpRequest& req, const Route& route) {
  if (const std::string& id = route.topology_id(); !id.empty()) return id;
  // A create names the topology in its body.
  boost::system::error_code ec;
  const boost::json::value body = boost::json::parse(req.body, ec);
  if (!ec && body.is_object()) {
    if (const auto* n = body.as_object().if_contains("name"); n != nullptr && n->is_string())
      return std::string(n->as_string());
  }
  return {};
}

AuditRecorder::AuditRecorder(epoch::Scheduler& scheduler, epoch::Store& store,
                             const epoch::LeaderElector& elector, Logger& log, std::int64_t keep)
    : scheduler_(scheduler), store_(store), elector_(elector), log_(log), keep_(keep) {}

// Calls `then` (later, on an engine thread) with the topology's details JSON
// as the engine has it now, secrets redacted; "" when there is none (also
// for an empty id, which names no topology).
void AuditRecorder::topology_json(const std::string& id, std::function<void(std::string)> then) {
  scheduler_.get_topology(id, [then = std::move(then)](epoch::StatusOr<epoch::TopologyView> v) {
    then(v.ok() ? epoch::to_json(v->details, epoch::Secrets::kRedact) : std::string());
  });
}

void AuditRecorder::record(const HttpRequest& req, const Route& route, const Principal& who,
                           Responder respond, std::function<void(Responder)> proceed) {
  auto entry = std::make_shared<epoch::AuditEntry>();
  entry->user = who.user;
  entry->role = to_string(who.role);
  entry->method = req.method;
  entry->path = route.decoded_path();
  if (const auto q = req.target.find('?'); q != std::string::npos)
    entry->path += utf8_safe(req.target.substr(q));
  entry->topology_id = audited_topology(req, route);
  // The answer waits for the entry's "after" read, then goes out; the
  // entry is committed alongside (a failure to record is logged).
  Responder audited = [this, entry, respond = std::move(respond)](HttpResponse r) mutable {
    const bool changed = r.status >= 200 && r.status < 300 &&
                         r.body.find(R"("status":"SUCCESS")") != std::string::npos;
    if (!changed) return respond(std::move(r));
    entry->status = r.status;
    entry->time = epoch::from_epoch_millis(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
    auto answer = std::make_shared<HttpResponse>(std::move(r));
    topology_json(entry->topology_id, [this, entry, answer,
                                       respond = std::move(respond)](std::string after) mutable {
      entry->after = std::move(after);
      epoch::Batch batch;
      batch.append_audit(*entry, keep_);
      batch.fence = elector_.fencing_token();
      store_.commit(std::move(batch), [this, entry](epoch::CommitResult c) {
        if (c.ok()) return;
        ++failures_;
        log_.error("could not record an audit entry", {{"method", entry->method},
                                                       {"path", entry->path},
                                                       {"user", entry->user},
                                                       {"error", c.status().message()}});
      });
      respond(std::move(*answer));
    });
  };
  topology_json(entry->topology_id, [entry, audited = std::move(audited),
                                     proceed = std::move(proceed)](std::string before) mutable {
    entry->before = std::move(before);
    proceed(std::move(audited));
  });
}

}  // namespace epochd
