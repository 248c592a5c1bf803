#include "audit.h"

#include <boost/json.hpp>
#include <chrono>
#include <memory>

namespace epochd {

std::string audited_topology(const HttpRequest& req) {
  const std::string path = req.target.substr(0, req.target.find('?'));
  const std::string key = "/topologies/";
  if (const auto at = path.find(key); at != std::string::npos) {
    const std::string rest = path.substr(at + key.size());
    const std::string id = rest.substr(0, rest.find('/'));
    // (the UI's create is POST /topologies/create: the name is in the body)
    if (!id.empty() && !(id == "create" && rest == "create")) return id;
  }
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
    if (v.ok()) out = epoch::to_json(v->details);
  });
  return out;
}

Responder AuditRecorder::wrap(const HttpRequest& req, const Principal& who, Responder respond) {
  const std::string path = req.target.substr(0, req.target.find('?'));
  if (req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS") return respond;
  auto entry = std::make_shared<epoch::AuditEntry>();
  entry->user = who.user;
  entry->role = to_string(who.role);
  entry->method = req.method;
  entry->path = req.target;
  entry->topology_id = audited_topology(req);
  entry->before = topology_json(entry->topology_id);
  return [this, entry, respond = std::move(respond)](HttpResponse r) {
    const bool changed = r.status >= 200 && r.status < 300 &&
                         r.body.find(R"("status":"SUCCESS")") != std::string::npos;
    if (changed) {
      entry->status = r.status;
      entry->time = epoch::from_epoch_millis(
          std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count());
      entry->after = topology_json(entry->topology_id);
      epoch::Batch batch;
      batch.append_audit(*entry, keep_);
      batch.fence = elector_.fencing_token();
      store_.commit(std::move(batch), [this, entry](epoch::CommitResult c) {
        if (c.ok()) return;
        ++failures_;
        log_.error("could not record an audit entry",
                   {{"method", entry->method},
                    {"path", entry->path},
                    {"user", entry->user},
                    {"error", c.status().message()}});
      });
    }
    respond(std::move(r));
  };
}

}  // namespace epochd
