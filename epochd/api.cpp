// The REST API: routing, Epoch's envelope and error shapes, and the
// endpoints. Engine calls are asynchronous; each answers through the
// request's responder.
#include "api.h"

#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "audit.h"
#include "epoch/cron.h"
#include "epoch/time_zone.h"

// GCC 12 reports copies of a StatusOr's Status in these callbacks as "may
// be used uninitialized" at -O2 (a known false positive with std::variant).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace epochd {

namespace json = boost::json;
using epoch::Status;
using epoch::StatusCode;
using epoch::StatusOr;

namespace {

HttpResponse ok(const std::string& data) {
  return envelope(200, true, "success", data);
}

HttpResponse failed(int http, std::string_view message, std::string_view data = "null") {
  return envelope(http, false, message, data);
}

// Epoch's error-code messages: "[3004]: Topology not found: x".
HttpResponse epoch_error(int http, int code, std::string_view message) {
  return failed(http, "[" + std::to_string(code) + "]: " + std::string(message));
}

HttpResponse invalid_input(std::string_view reason) {
  return epoch_error(400, 3000, "Invalid Input: " + std::string(reason));
}

std::vector<std::string> split_errors(const std::string& message) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = message.find("; ", start);
    out.push_back(message.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 2;
  }
  return out;
}

// Epoch's bean-validation shape, with the reasons also in the message.
HttpResponse command_validation_failure(const std::string& reasons) {
  json::array list;
  for (const std::string& e : split_errors(reasons))
    list.emplace_back(e);
  json::object data;
  data["validationErrors"] = std::move(list);
  return failed(400, "Command validation failure: " + reasons, json::serialize(data));
}

// Epoch's shape for a body that is not JSON or has wrong types.
HttpResponse json_validation_failure(const std::string& reason) {
  json::object data;
  data["validationErrors"] = reason;
  return failed(400, "JSON validation failure: " + reason, json::serialize(data));
}

HttpResponse internal(std::string_view what, const Status& s) {
  json::object data;
  data["failure"] = s.message();
  return failed(500, std::string(what) + ": " + s.message(), json::serialize(data));
}

HttpResponse not_leader(const Status& s) {
  return failed(503, s.message());
}

// The answer to a failed create or update that is not the endpoint's own
// case (exists, not found): not the leader, refused by validation, or the
// store's failure.
HttpResponse write_failure(const Status& s, std::string_view what) {
  if (s.code() == StatusCode::kUnavailable) return not_leader(s);
  if (s.code() == StatusCode::kInvalidArgument) return command_validation_failure(s.message());
  return internal(what, s);
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 255) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  return true;
}

// A topology's details as readers see them: secret env values redacted.
std::string details_json(const epoch::TopologyDetails& d) {
  return epoch::to_json(d, epoch::Secrets::kRedact);
}

// Topology details as Epoch writes them, plus our read-only extension
// fields (next and last nominal fire, live runs).
std::string view_json(const epoch::TopologyView& v) {
  std::string out = details_json(v.details);
  out.pop_back();  // '}'
  if (v.next_fire)
    out += ",\"nextFireTime\":" + std::to_string(epoch::to_epoch_millis(*v.next_fire));
  if (v.last_fire)
    out += ",\"lastFireTime\":" + std::to_string(epoch::to_epoch_millis(*v.last_fire));
  out += ",\"liveRuns\":[";
  for (std::size_t i = 0; i < v.live_runs.size(); ++i) {
    if (i) out += ',';
    out += json_quote(v.live_runs[i]);
  }
  out += "]}";
  return out;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Splits "RUNNING,FAILED" and repeated parameters into names.
std::vector<std::string> list_param(const std::multimap<std::string, std::string>& params,
                                    const std::string& name) {
  std::vector<std::string> out;
  auto [b, e] = params.equal_range(name);
  for (auto it = b; it != e; ++it) {
    std::string_view v = it->second;
    while (!v.empty()) {
      const std::size_t comma = v.find(',');
      std::string_view item = v.substr(0, comma);
      if (!item.empty()) out.emplace_back(item);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return out;
}

}  // namespace

struct Api::Context {
  std::string method;
  Route route;
  Principal who;
  std::string body;
  Responder respond;

  const std::string* param(const std::string& name) const { return route.param(name); }
  const std::string& id() const { return route.segment("id"); }
  const std::string& run_id() const { return route.segment("runId"); }
  const std::string& task_name() const { return route.segment("taskName"); }
};

Api::Api(epoch::Scheduler& scheduler, epoch::Store& store, epoch::LeaderElector& elector,
         epoch::Executor& executor, Metrics& metrics, ApiOptions options)
    : scheduler_(scheduler),
      store_(store),
      elector_(elector),
      executor_(executor),
      metrics_(metrics),
      options_(std::move(options)) {}

void Api::handle(Route route, HttpRequest request, Principal who, Responder respond) {
  auto c = std::make_unique<Context>();
  c->method = request.method;
  c->route = std::move(route);
  c->who = std::move(who);
  c->body = std::move(request.body);
  c->respond = std::move(respond);
  dispatch(*c);
}

void Api::dispatch(Context& c) {
  auto self = this;
  const Route& route = c.route;
  auto& respond = c.respond;
  if (!route.error.empty()) return respond(invalid_input(route.error));
  if (!route.matched()) {
    const std::string path = route.decoded_path();
    if (!route.allowed.empty()) {
      std::string list;
      for (auto m : route.allowed)
        list += (list.empty() ? "" : ", ") + std::string(m);
      HttpResponse r = failed(405, "Method " + utf8_safe(c.method) + " is not allowed on " + path +
                                       " (allowed: " + list + ")");
      r.headers.emplace_back("Allow", list);
      return respond(std::move(r));
    }
    return respond(failed(404, "No such endpoint: " + utf8_safe(c.method) + " " + path));
  }
  // Every id in the path is checked before anything reads it.
  for (const std::string* id : {&c.id(), &c.run_id(), &c.task_name()}) {
    if (!id->empty() && !valid_id(*id))
      return respond(epoch_error(400, 3001, "Input id invalid " + *id));
  }
  const std::string& id = c.id();
  switch (route.spec->endpoint) {
    case Endpoint::kListTopologies:
      return scheduler_.list_topologies([respond](auto r) {
        if (!r.ok()) return respond(not_leader(r.status()));
        std::string out = "[";
        for (const auto& v : *r) {
          if (out.size() > 1) out += ',';
          out += view_json(v);
        }
        out += ']';
        respond(ok(std::move(out)));
      });
    case Endpoint::kCreateTopology:
    case Endpoint::kUpdateTopology: {
      const bool create = route.spec->endpoint == Endpoint::kCreateTopology;
      auto topology = epoch::topology_from_json(c.body);
      if (!topology.ok()) return respond(json_validation_failure(topology.status().message()));
      if (Status s = epoch::validate(*topology); !s.ok())
        return respond(command_validation_failure(s.message()));
      if (auto refused = host_access(*topology, c.who)) return respond(std::move(*refused));
      if (create) {
        const std::string name = topology->name;
        return scheduler_.create(std::move(*topology), [respond, name](auto r) {
          if (r.ok()) return respond(ok(details_json(*r)));
          if (r.status().code() == StatusCode::kAlreadyExists)
            return respond(failed(200, "Topology " + name + " already exists with ID: " + name));
          respond(write_failure(r.status(), "Could not create topology"));
        });
      }
      return update(std::move(*topology), respond, false);
    }
    case Endpoint::kGetTopology:
      return scheduler_.get_topology(id, [respond, id](auto r) {
        if (r.ok()) return respond(ok(view_json(*r)));
        if (r.status().code() == StatusCode::kNotFound)
          return respond(failed(200, "No such topology: " + id));
        respond(not_leader(r.status()));
      });
    case Endpoint::kEditTopology:
      return edit_simple(c, id, false);
    case Endpoint::kDeleteTopology: {
      bool kill = false;
      if (const std::string* k = c.param("killRunning")) {
        if (*k == "true" || *k == "1" || k->empty()) {
          kill = true;
        } else if (*k != "false" && *k != "0") {
          return respond(invalid_input(
              "query parameter 'killRunning' must be true or false, got '" + *k + "'"));
        }
      }
      return scheduler_.remove(id, kill, [respond](auto r) {
        if (r.ok()) return respond(ok(*r ? "true" : "false"));
        if (r.status().code() == StatusCode::kNotFound) return respond(ok("false"));
        if (r.status().code() == StatusCode::kUnavailable) return respond(not_leader(r.status()));
        respond(internal("Could not delete topology", r.status()));
      });
    }
    case Endpoint::kRunNow:
      return scheduler_.run_now(id, [respond, id](auto r) {
        if (r.ok()) return respond(ok(R"({"runId":)" + json_quote(*r) + "}"));
        if (r.status().code() == StatusCode::kNotFound)
          return respond(failed(200, "No such topology: " + id));
        if (r.status().code() == StatusCode::kUnavailable) return respond(not_leader(r.status()));
        if (r.status().code() == StatusCode::kFailedPrecondition)
          return respond(failed(409, r.status().message()));
        respond(internal("Could not run topology", r.status()));
      });
    case Endpoint::kPause:
    case Endpoint::kUnpause: {
      auto done = [respond, id](StatusOr<epoch::TopologyDetails> r) {
        if (r.ok()) return respond(ok(details_json(*r)));
        if (r.status().code() == StatusCode::kNotFound)
          return respond(epoch_error(404, 3004, "Topology not found: " + id));
        if (r.status().code() == StatusCode::kUnavailable) return respond(not_leader(r.status()));
        respond(internal("Could not change topology state", r.status()));
      };
      return route.spec->endpoint == Endpoint::kPause ? scheduler_.pause(id, done)
                                                      : scheduler_.resume(id, done);
    }
    case Endpoint::kListRuns:
      return list_runs(c);
    case Endpoint::kGetRun: {
      auto run = store_.load_run(id, c.run_id());
      if (!run.ok()) return respond(internal("Could not read run", run.status()));
      if (!run->has_value())
        return respond(failed(200, "Not run exists for " + id + "/" + c.run_id()));
      return respond(ok(epoch::to_json((*run)->run)));
    }
    case Endpoint::kKillTask: {
      const std::string what = id + "/" + c.run_id() + "/" + c.task_name();
      return scheduler_.kill_task(id, c.run_id(), c.task_name(), [respond, what](auto r) {
        if (r.ok() && *r)
          return respond(ok(R"({"success":true,"message":"Task cancel accepted"})"));
        if (!r.ok() && r.status().code() == StatusCode::kNotFound)
          return respond(
              failed(200, "No task exists for " + what,
                     R"({"success":false,"message":"No task found for the provided id"})"));
        if (!r.ok() && r.status().code() == StatusCode::kUnavailable)
          return respond(not_leader(r.status()));
        const std::string m =
            "Task cancellation failed with error: " +
            (r.ok() ? std::string("the task is not running") : r.status().message());
        respond(failed(200, "Could not cancel task " + what + ". Error: " + m,
                       R"({"success":false,"message":)" + json_quote(m) + "}"));
      });
    }
    case Endpoint::kTaskLog:
      return task_log_link(c);
    case Endpoint::kTaskOutput:
      return task_output(c);
    case Endpoint::kUiCreate:
      return create_simple(c);
    case Endpoint::kUiUpdate:
      return edit_simple(c, id, true);
    case Endpoint::kLeader: {
      auto leader = elector_.leader();
      HttpResponse r;
      r.status = leader ? 200 : 404;
      r.body = R"({"leader":)" + json_quote(leader ? *leader : "no leader available") + "}";
      return respond(std::move(r));
    }
    case Endpoint::kCronNext:
      return cron_next(c);
    case Endpoint::kAudit:
      return audit_log(c);
    case Endpoint::kHealth:
      return healthcheck(c);
    case Endpoint::kMetrics:
      return scheduler_.stats([self, respond](auto s) {
        HttpResponse r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = self->metrics_.render(s.ok() ? *s : epoch::SchedulerStats{});
        respond(std::move(r));
      });
    case Endpoint::kWhoami:
    case Endpoint::kUiPage:
    case Endpoint::kUiAsset:
      break;  // FrontDoor's
  }
  respond(failed(404, "No such endpoint: " + route.decoded_path()));
}

// ---- endpoint bodies ------------------------------------------------------------------

namespace {

// The simple request's errors: Epoch answers a bad cron alone with [3002],
// anything else as a bean-validation failure.
std::optional<HttpResponse> simple_request_errors(const epoch::SimpleTopologyRequest& req,
                                                  bool creating) {
  Status s = epoch::validate(req, creating);
  if (s.ok()) return std::nullopt;
  const auto errors = split_errors(s.message());
  if (errors.size() == 1 && errors[0].rfind("cron: ", 0) == 0 && !req.cron.empty()) {
    json::object data;
    data["validationErrors"] = json::array{json::value(errors[0])};
    return failed(400, "[3002]: Validation failed for input: cron (" + errors[0].substr(6) + ")",
                  json::serialize(data));
  }
  return command_validation_failure(s.message());
}

std::string redirect_data(const std::string& id) {
  return R"({"redirectUrl":)" + json_quote("/topologies/" + id) + R"(,"topologyId":)" +
         json_quote(id) + "}";
}

}  // namespace

void Api::create_simple(Context& c) {
  auto req = epoch::simple_request_from_json(c.body);
  if (!req.ok()) return c.respond(json_validation_failure(req.status().message()));
  if (auto bad = simple_request_errors(*req, true)) return c.respond(std::move(*bad));
  const std::string id = req->name;
  epoch::Topology topology = epoch::to_topology(*req, id);
  if (auto refused = host_access(topology, c.who)) return c.respond(std::move(*refused));
  scheduler_.create(std::move(topology), [respond = c.respond, id](auto r) {
    if (r.ok()) return respond(ok(redirect_data(id)));
    if (r.status().code() == StatusCode::kAlreadyExists)
      return respond(epoch_error(409, 3003, "Topology already exists with name: " + id));
    respond(write_failure(r.status(), "Could not create topology"));
  });
}

void Api::edit_simple(Context& c, const std::string& id, bool ui) {
  auto req = epoch::simple_request_from_json(c.body);
  if (!req.ok()) return c.respond(json_validation_failure(req.status().message()));
  if (auto bad = simple_request_errors(*req, false)) return c.respond(std::move(*bad));
  epoch::Topology topology = epoch::to_topology(*req, id);
  if (auto refused = host_access(topology, c.who)) return c.respond(std::move(*refused));
  update(std::move(topology), c.respond, ui);
}

void Api::update(epoch::Topology topology, const Responder& respond, bool ui) {
  const std::string id = topology.name;
  scheduler_.update(std::move(topology), [respond, id, ui](auto r) {
    if (r.ok()) return respond(ok(ui ? redirect_data(id) : details_json(*r)));
    if (r.status().code() == StatusCode::kNotFound)
      return respond(epoch_error(404, 3004, "Topology not found: " + id));
    respond(write_failure(r.status(), "Could not update topology"));
  });
}

namespace {

// Whether `path` is `root` or lies under it, comparing whole components of
// the lexically normal forms (so /data2 is not under /data).
bool under_root(const std::filesystem::path& path, const std::filesystem::path& root) {
  const auto p = path.lexically_normal(), r = root.lexically_normal();
  auto pi = p.begin();
  for (auto ri = r.begin(); ri != r.end(); ++ri, ++pi) {
    if (ri->empty() && std::next(ri) == r.end()) return true;  // root "/x/" ends with ""
    if (pi == p.end() || *pi != *ri) return false;
  }
  return true;
}

}  // namespace

std::optional<HttpResponse> Api::host_access(const epoch::Topology& t, const Principal& who) const {
  const HostAccess& h = options_.host;
  std::vector<std::string> errors;
  std::string runs_here;  // the first leaf that runs code on this host
  const std::function<void(const epoch::Task&, const std::string&)> walk =
      [&](const epoch::Task& task, const std::string& path) {
        if (const auto* comp = std::get_if<epoch::CompositeTask>(&task.spec)) {
          for (std::size_t i = 0; i < comp->tasks.size(); ++i)
            walk(comp->tasks[i], path + ".tasks[" + std::to_string(i) + "]");
          return;
        }
        if (std::holds_alternative<epoch::ProcessTask>(task.spec)) {
          if (runs_here.empty()) runs_here = path + " (PROCESS task)";
          return;
        }
        if (const auto* f = std::get_if<epoch::FunctionTask>(&task.spec)) {
          errors.push_back(path + ": a FUNCTION task (job '" + f->job +
                           "') runs only in a program that embeds libepoch and registers the "
                           "job; epochd runs processes and containers");
          return;
        }
        const auto& c = std::get<epoch::ContainerTask>(task.spec);
        if (h.containers_on_host && runs_here.empty())
          runs_here = path + " (container task on the local executor)";
        if (!c.volumes || h.volumes_unrestricted) return;
        for (std::size_t i = 0; i < c.volumes->size(); ++i) {
          const std::string& host = (*c.volumes)[i].path_on_host;
          const std::string where = path + ".volumes[" + std::to_string(i) + "].pathOnHost";
          bool ok = false;
          for (const std::string& root : h.volume_roots)
            ok = ok || under_root(host, root);
          if (ok) continue;
          errors.push_back(
              where + ": '" + host + "' " +
              (h.volume_roots.empty()
                   ? std::string("cannot be mounted: host volumes are not allowed (the operator "
                                 "names the directories they may come from with --volume-roots)")
                   : "is not under a directory host volumes may come from (--volume-roots)"));
        }
      };
  walk(t.task, "task");
  if (!runs_here.empty() &&
      (!h.exec_role || static_cast<int>(who.role) < static_cast<int>(*h.exec_role))) {
    return failed(403, "User " + who.user + " (" + to_string(who.role) + ") may not create or " +
                           "change topologies that run code on this host: " + runs_here +
                           (h.exec_role ? " needs the " + std::string(to_string(*h.exec_role)) +
                                              " role (--host-exec-role)"
                                        : " is turned off (--host-exec-role NONE)"));
  }
  if (!errors.empty()) {
    std::string all;
    for (const std::string& e : errors)
      all += (all.empty() ? "" : "; ") + e;
    return command_validation_failure(all);
  }
  return std::nullopt;
}

void Api::list_runs(Context& c) {
  epoch::RunQuery query;
  for (const std::string& name : list_param(c.route.params, "state")) {
    auto s = epoch::parse_run_state(name);
    if (!s.ok())
      return c.respond(invalid_input("query parameter 'state': " + s.status().message()));
    query.states.push_back(*s);
  }
  for (const std::string& name : list_param(c.route.params, "type")) {
    auto t = epoch::parse_run_type(name);
    if (!t.ok()) return c.respond(invalid_input("query parameter 'type': " + t.status().message()));
    query.types.push_back(*t);
  }
  if (const std::string* l = c.param("limit")) {
    auto n = parse_int(*l);
    if (!n || *n < 1 || *n > 100000)
      return c.respond(
          invalid_input("query parameter 'limit' must be an integer 1-100000, got '" + *l + "'"));
    query.limit = static_cast<std::size_t>(*n);
  }
  if (const std::string* b = c.param("before")) {
    auto t = epoch::parse_instant(*b);
    if (!t.ok())
      return c.respond(invalid_input("query parameter 'before': " + t.status().message()));
    query.before = *t;
  }
  auto runs = store_.load_runs_json(c.id(), query);
  if (!runs.ok()) return c.respond(internal("Could not read runs", runs.status()));
  std::size_t size = 2;
  for (const std::string& r : *runs)
    size += r.size() + 1;
  std::string out;
  out.reserve(size);
  out += '[';
  for (const std::string& r : *runs) {
    if (out.size() > 1) out += ',';
    out += r;
  }
  out += ']';
  c.respond(ok(std::move(out)));
}

// GET /apis/v1/audit?limit=&before=<id>&topologyId= : newest first.
void Api::audit_log(Context& c) {
  epoch::JournalQuery q;
  if (const std::string* l = c.param("limit")) {
    auto n = parse_int(*l);
    if (!n || *n < 1 || *n > 1000)
      return c.respond(
          invalid_input("query parameter 'limit' must be an integer 1-1000, got '" + *l + "'"));
    q.limit = static_cast<std::size_t>(*n);
  }
  if (const std::string* b = c.param("before")) {
    auto n = parse_int(*b);
    if (!n || *n < 0)
      return c.respond(
          invalid_input("query parameter 'before' must be an entry id, got '" + *b + "'"));
    q.before_id = *n;
  }
  if (const std::string* t = c.param("topologyId")) {
    // An id that cannot be a journal key names no topology: no entries.
    if (!epoch::check_journal_key(*t).ok()) return c.respond(ok("[]"));
    q.key = *t;
  }
  auto entries = store_.load_journal(kAuditJournal, q);
  if (!entries.ok()) return c.respond(internal("Could not read the audit log", entries.status()));
  json::array out;
  for (const epoch::JournalEntry& j : *entries)
    out.push_back(api_json(from_journal(j)));
  c.respond(ok(json::serialize(out)));
}

void Api::task_log_link(Context& c) {
  const std::string what = c.id() + "/" + c.run_id() + "/" + c.task_name();
  const HttpResponse none = failed(200, "No log exists for " + what);
  auto run = store_.load_run(c.id(), c.run_id());
  if (!run.ok()) return c.respond(internal("Could not read run", run.status()));
  if (!run->has_value()) return c.respond(none);
  const auto& tasks = (*run)->run.tasks;
  const auto it = tasks.find(c.task_name());
  if (it == tasks.end()) return c.respond(none);
  auto logs = executor_.logs(it->second.task_id);
  if (!logs.ok()) return c.respond(none);
  if (!logs->url.empty()) return c.respond(ok(json_quote(logs->url)));
  if (!logs->readable) return c.respond(none);
  std::string url = options_.advertised_url;
  url += "/apis/v1/topologies/" + c.id() + "/runs/" + c.run_id() + "/tasks/" + c.task_name() +
         "/output";
  c.respond(ok(json_quote(url)));
}

void Api::task_output(Context& c) {
  const std::string what = c.id() + "/" + c.run_id() + "/" + c.task_name();
  std::string stream = "stdout";
  if (const std::string* s = c.param("stream")) stream = *s;
  if (stream != "stdout" && stream != "stderr")
    return c.respond(
        invalid_input("query parameter 'stream' must be stdout or stderr, got '" + stream + "'"));
  std::int64_t offset = 0;
  if (const std::string* o = c.param("offset")) {
    auto n = parse_int(*o);
    if (!n || *n < 0)
      return c.respond(invalid_input(
          "query parameter 'offset' must be a non-negative integer, got '" + *o + "'"));
    offset = *n;
  }
  std::int64_t limit = static_cast<std::int64_t>(options_.max_output_chunk);
  if (const std::string* l = c.param("limit")) {
    auto n = parse_int(*l);
    if (!n || *n < 1 || *n > limit)
      return c.respond(invalid_input("query parameter 'limit' must be an integer 1-" +
                                     std::to_string(limit) + ", got '" + *l + "'"));
    limit = *n;
  }
  auto run = store_.load_run(c.id(), c.run_id());
  if (!run.ok()) return c.respond(internal("Could not read run", run.status()));
  if (!run->has_value())
    return c.respond(failed(404, "Not run exists for " + c.id() + "/" + c.run_id()));
  const auto& tasks = (*run)->run.tasks;
  const auto it = tasks.find(c.task_name());
  if (it == tasks.end()) return c.respond(failed(404, "No task exists for " + what));
  std::string task_id = it->second.task_id;
  if (const std::string* a = c.param("attempt")) {
    auto n = parse_int(*a);
    if (!n || *n < 1 || *n > it->second.attempt)
      return c.respond(invalid_input("query parameter 'attempt' must be 1-" +
                                     std::to_string(it->second.attempt) + ", got '" + *a + "'"));
    task_id = epoch::make_task_id(c.id(), c.run_id(), c.task_name(), static_cast<int>(*n));
  }
  auto chunk = executor_.read_output(
      task_id, stream == "stdout" ? epoch::OutputStream::kStdout : epoch::OutputStream::kStderr,
      offset, static_cast<std::size_t>(limit));
  if (!chunk.ok()) {
    auto logs = executor_.logs(task_id);
    return c.respond(failed(
        404, "No local output exists for " + what +
                 (logs.ok() && !logs->url.empty() ? " (see " + logs->url + ")" : std::string())));
  }
  const std::int64_t size = chunk->size;
  const std::int64_t from = std::min(offset, size);
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(chunk->data);
  const bool finished = epoch::is_terminal(it->second.state) || task_id != it->second.task_id;
  r.headers = {
      {"X-Epoch-Log-Size", std::to_string(size)},
      {"X-Epoch-Next-Offset", std::to_string(from + static_cast<std::int64_t>(r.body.size()))},
      {"X-Epoch-Task-State", std::string(epoch::to_string(it->second.state))},
      {"X-Epoch-Task-Finished", finished ? "true" : "false"},
      {"Cache-Control", "no-store"}};
  c.respond(std::move(r));
}

void Api::cron_next(Context& c) {
  const std::string* expr = c.param("expr");
  if (!expr || expr->empty())
    return c.respond(invalid_input("query parameter 'expr' (the cron expression) is required"));
  std::string zone_name = options_.default_time_zone;
  if (const std::string* tz = c.param("tz")) zone_name = *tz;
  std::int64_t n = 5;
  if (const std::string* s = c.param("n")) {
    auto v = parse_int(*s);
    if (!v || *v < 1 || *v > 100)
      return c.respond(
          invalid_input("query parameter 'n' must be an integer 1-100, got '" + *s + "'"));
    n = *v;
  }
  epoch::Instant after =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  if (const std::string* a = c.param("after")) {
    auto t = epoch::parse_instant(*a);
    if (!t.ok())
      return c.respond(invalid_input("query parameter 'after': " + t.status().message()));
    after = *t;
  }
  if (auto e = epoch::CronExpression::check(*expr)) {
    json::object data;
    data["field"] = epoch::cron_field_name(e->field);
    data["begin"] = e->begin;
    data["end"] = e->end;
    data["text"] = e->text;
    data["reason"] = e->reason;
    return c.respond(failed(400, "[3002]: Validation failed for input: cron (" + e->message() + ")",
                            json::serialize(data)));
  }
  auto zone = epoch::TimeZone::locate(zone_name);
  if (!zone.ok()) {
    json::object data;
    data["field"] = "tz";
    data["reason"] = zone.status().message();
    return c.respond(
        failed(400, "[3002]: Validation failed for input: tz (" + zone.status().message() + ")",
               json::serialize(data)));
  }
  auto cron = epoch::CronExpression::parse(*expr);
  json::object data;
  data["expression"] = *expr;
  data["timeZone"] = zone->name();
  data["description"] = cron->describe();
  data["neverFires"] = cron->never_fires();
  json::array next;
  for (epoch::Instant t : cron->next_n(after, *zone, static_cast<std::size_t>(n))) {
    json::object o;
    o["time"] = epoch::format_local(t, *zone);
    o["utc"] = epoch::format_utc(t);
    o["epochMillis"] = epoch::to_epoch_millis(t);
    next.push_back(std::move(o));
  }
  data["next"] = std::move(next);
  c.respond(ok(json::serialize(data)));
}

void Api::healthcheck(Context& c) {
  const Status store = store_.ping();
  json::object body;
  json::object s;
  s["healthy"] = store.ok();
  s["message"] = store.ok() ? std::string(store_.name()) + " store answers" : store.message();
  body["store"] = std::move(s);
  json::object l;
  const auto leader = elector_.leader();
  l["healthy"] = leader.has_value();
  l["isLeader"] = elector_.is_leader();
  l["message"] = elector_.is_leader() ? "this node is the leader"
                 : leader             ? "following " + *leader
                                      : std::string("no leader known");
  body["leader"] = std::move(l);
  HttpResponse r;
  r.status = store.ok() && leader ? 200 : 503;
  r.body = json::serialize(body);
  c.respond(std::move(r));
}

}  // namespace epochd
