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

// The topology's details JSON now, if the engine answers at once (it does
// from its published views on the leader); "" when there is none.
std::string AuditRecorder::topology_json(const std::string& id) {
  std::string out;
  if (id.empty()) return out;
  scheduler_.get_topology(id, [&out](epoch::StatusOr<epoch::TopologyView> v) {
    if (v.ok()) out = epoch::to_json(v->details, epoch::Secrets::kRedact);  // no secret in the log
  });
  return out;
}

Responder AuditRecorder::wrap(const HttpRequest& req, const Route& route, const Principal& who,
                              Responder respond) {
  if (!is_write(req.method)) return respond;
  auto entry = std::make_shared<epoch::AuditEntry>();
  entry->user = who.user;
  entry->role = to_string(who.role);
  entry->method = req.method;
  entry->path = route.decoded_path();
  if (const auto q = req.target.find('?'); q != std::string::npos)
    entry->path += utf8_safe(req.target.substr(q));
  entry->topology_id = audited_topology(req, route);
  entry->before = topology_json(entry->topology_id);
  return [this, entry, respond = std::move(respond)](HttpResponse r) {
    const bool changed = r.status >= 200 && r.status < 300 &&
                         r.body.find(R"("status":"SUCCESS")") != std::string::npos;
    if (changed) {
      entry->status = r.status;
      entry->time =
          epoch::from_epoch_millis(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
      entry->after = topology_json(entry->topology_id);
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
    }
    respond(std::move(r));
  };
}

}  // namespace epochd
