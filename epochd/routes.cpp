#include "routes.h"

#include <array>
#include <boost/url/parse.hpp>

#include "http.h"

namespace epochd {
namespace {

using E = Endpoint;
using A = Access;

constexpr RouteSpec kRoutes[] = {
    // Epoch's topology endpoints
    {"GET", "/apis/v1/topologies", "/apis/v1/topologies", E::kListTopologies, A::kRead},
    {"POST", "/apis/v1/topologies", "/apis/v1/topologies", E::kCreateTopology, A::kWrite},
    {"PUT", "/apis/v1/topologies", "/apis/v1/topologies", E::kUpdateTopology, A::kWrite},
    {"GET", "/apis/v1/topologies/{id}", "/apis/v1/topologies/{id}", E::kGetTopology, A::kRead},
    {"PUT", "/apis/v1/topologies/{id}", "/apis/v1/topologies/{id}", E::kEditTopology, A::kWrite},
    {"DELETE", "/apis/v1/topologies/{id}", "/apis/v1/topologies/{id}", E::kDeleteTopology,
     A::kWrite},
    {"PUT", "/apis/v1/topologies/{id}/run", "/apis/v1/topologies/{id}/run", E::kRunNow, A::kWrite},
    {"PUT", "/apis/v1/topologies/{id}/pause", "/apis/v1/topologies/{id}/pause", E::kPause,
     A::kWrite},
    {"PUT", "/apis/v1/topologies/{id}/unpause", "/apis/v1/topologies/{id}/unpause", E::kUnpause,
     A::kWrite},
    // runs and tasks
    {"GET", "/apis/v1/topologies/{id}/runs", "/apis/v1/topologies/{id}/runs", E::kListRuns,
     A::kRead},
    {"GET", "/apis/v1/topologies/{id}/runs/{runId}", "/apis/v1/topologies/{id}/runs/{runId}",
     E::kGetRun, A::kRead},
    {"POST", "/apis/v1/topologies/{id}/runs/{runId}/tasks/{taskName}/kill",
     "/apis/v1/topologies/{id}/runs/{runId}/tasks/{taskName}/kill", E::kKillTask, A::kWrite},
    {"GET", "/apis/v1/topologies/{id}/runs/{runId}/tasks/{taskName}/log",
     "/apis/v1/topologies/{id}/runs/{runId}/tasks/{taskName}/log", E::kTaskLog, A::kRead},
    {"GET", "/apis/v1/topologies/{id}/runs/{runId}/tasks/{taskName}/output",
     "/apis/v1/topologies/{id}/runs/{runId}/tasks/{taskName}/output", E::kTaskOutput, A::kRead},
    // the UI-backing endpoints (Epoch's 17, 18)
    {"POST", "/topologies/create", "/topologies/create", E::kUiCreate, A::kWrite},
    {"POST", "/apis/ui/topologies/create", "/topologies/create", E::kUiCreate, A::kWrite},
    {"PUT", "/topologies/{id}/update", "/topologies/{id}/update", E::kUiUpdate, A::kWrite},
    {"PUT", "/apis/ui/topologies/{id}/update", "/topologies/{id}/update", E::kUiUpdate, A::kWrite},
    // housekeeping, extensions, observability
    {"GET", "/apis/housekeeping/v1/leader", "/apis/housekeeping/v1/leader", E::kLeader, A::kHealth,
     true},
    {"GET", "/apis/v1/cron/next", "/apis/v1/cron/next", E::kCronNext, A::kRead},
    {"GET", "/apis/v1/audit", "/apis/v1/audit", E::kAudit, A::kAdmin},
    {"GET", "/apis/v1/whoami", "/apis/v1/whoami", E::kWhoami, A::kRead},
    {"GET", "/healthcheck", "/healthcheck", E::kHealth, A::kHealth, true},
    {"GET", "/metrics", "/metrics", E::kMetrics, A::kHealth, true},
    // the web UI
    {"GET", "/", "ui", E::kUiPage, A::kPage},
    {"GET", "/index.html", "ui", E::kUiPage, A::kPage},
    {"GET", "/topologies/{id}", "ui", E::kUiPage, A::kPage},
    {"GET", "/ui/{file}", "ui", E::kUiAsset, A::kOpen},
    {"GET", "/favicon.ico", "ui", E::kUiAsset, A::kOpen},
};

// A pattern's segments ("{id}" kept as is), computed once.
struct Compiled {
  std::vector<std::string_view> segments;
};

const std::vector<Compiled>& compiled() {
  static const std::vector<Compiled> all = [] {
    std::vector<Compiled> out;
    for (const RouteSpec& r : kRoutes) {
      Compiled c;
      std::string_view p = r.pattern.substr(1);
      while (!p.empty()) {
        const auto slash = p.find('/');
        c.segments.push_back(p.substr(0, slash));
        if (slash == std::string_view::npos) break;
        p.remove_prefix(slash + 1);
      }
      out.push_back(std::move(c));
    }
    return out;
  }();
  return all;
}

bool wildcard(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool matches(const Compiled& c, const std::vector<std::string>& path) {
  if (c.segments.size() != path.size()) return false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (wildcard(c.segments[i])) {
      if (path[i].empty()) return false;
    } else if (c.segments[i] != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::span<const RouteSpec> route_table() {
  return kRoutes;
}

bool is_write(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

const std::string* Route::param(const std::string& name) const {
  const auto it = params.find(name);
  return it == params.end() ? nullptr : &it->second;
}

const std::string& Route::segment(std::string_view name) const {
  static const std::string kNone;
  if (spec == nullptr) return kNone;
  const auto& c = compiled()[static_cast<std::size_t>(spec - kRoutes)];
  for (std::size_t i = 0; i < c.segments.size(); ++i) {
    const std::string_view s = c.segments[i];
    if (wildcard(s) && s.substr(1, s.size() - 2) == name) return path[i];
  }
  return kNone;
}

std::string Route::decoded_path() const {
  std::string out;
  for (const std::string& s : path)
    out += "/" + s;
  return out.empty() ? "/" : out;
}

Route parse_route(std::string_view method, std::string_view target) {
  Route r;
  auto url = boost::urls::parse_origin_form(target);
  if (!url) {
    r.error =
        "request target '" + utf8_safe(target) + "' is not a valid path: " + url.error().message();
    return r;
  }
  for (auto seg : url->segments())
    r.path.push_back(utf8_safe(seg));  // URL bytes may be anything; JSON needs UTF-8
  if (!r.path.empty() && r.path.back().empty()) r.path.pop_back();  // trailing '/'
  for (auto p : url->params())
    r.params.emplace(utf8_safe(p.key), utf8_safe(p.value));
  // A GET route answers HEAD too (the server sends no body).
  const std::string_view as = method == "HEAD" ? std::string_view("GET") : method;
  const auto& c = compiled();
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (!matches(c[i], r.path)) continue;
    if (kRoutes[i].method == as) {
      r.spec = &kRoutes[i];
      r.allowed.clear();
      return r;
    }
    r.allowed.push_back(kRoutes[i].method);
    if (kRoutes[i].method == "GET") r.allowed.push_back("HEAD");
  }
  return r;
}

}  // namespace epochd
