#include "audit.h"

#include <boost/json.hpp>
#include <chrono>
#include <memory>

namespace epochd {

namespace {

// The entry's fields, with the topology's JSON before and after as given.
boost::json::object fields(const AuditEntry& e, boost::json::value before,
                           boost::json::value after) {
  return boost::json::object{{"time", epoch::to_epoch_millis(e.time)},
                             {"user", e.user},
                             {"role", e.role},
                             {"method", e.method},
                             {"path", e.path},
                             {"topologyId", e.topology_id},
                             {"status", e.status},
                             {"before", std::move(before)},
                             {"after", std::move(after)}};
}

}  // namespace

epoch::JournalEntry to_journal(const AuditEntry& e) {
  epoch::JournalEntry j;
  j.id = e.id;
  if (epoch::check_journal_key(e.topology_id).ok()) j.key = e.topology_id;
  j.data = boost::json::serialize(
      fields(e, boost::json::string(e.before), boost::json::string(e.after)));
  return j;
}

boost::json::object api_json(const AuditEntry& e) {
  // The topology's JSON as JSON (null when none; as text if it is not JSON).
  const auto parsed = [](const std::string& text) -> boost::json::value {
    if (text.empty()) return nullptr;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text, ec);
    return ec ? boost::json::value(text) : v;
  };
  boost::json::object o{{"id", e.id}};
  for (auto& field : fields(e, parsed(e.before), parsed(e.after)))
    o.emplace(field.key(), std::move(field.value()));
  return o;
}

AuditEntry from_journal(const epoch::JournalEntry& j) {
  AuditEntry e;
  e.id = j.id;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(j.data, ec);
  if (ec || !v.is_object()) return e;
  const auto& o = v.as_object();
  const auto str = [&](const char* k) -> std::string {
    const auto* f = o.if_contains(k);
    return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
  };
  const auto num = [&](const char* k) -> std::int64_t {
    const auto* f = o.if_contains(k);
    return f != nullptr && f->is_int64() ? f->as_int64() : 0;
  };
  e.time = epoch::from_epoch_millis(num("time"));
  e.user = str("user");
  e.role = str("role");
  e.method = str("method");
  e.path = str("path");
  e.topology_id = str("topologyId");
  e.status = static_cast<int>(num("status"));
  e.before = str("before");
  e.after = str("after");
  return e;
}

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
  auto entry = std::make_shared<AuditEntry>();
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
      batch.append_journal(kAuditJournal, to_journal(*entry), keep_);
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
