// Every route epochd answers, and the one parse of a request target that
// routing, authorization, the audit log and metrics all read.
//
// What: parse_route() decodes the target once (Boost.URL: percent-decoding,
// query parameters) and matches the decoded path segments against the route
// table. The result names the endpoint, its template (the metrics label),
// the access it needs, and the ids taken from the decoded path. FrontDoor
// decides authorization from Route::access, AuditRecorder takes the topology
// id from Route::topology_id(), Api dispatches on Route::spec->endpoint: a
// request cannot be authorized as one route and handled as another (an
// encoded "/apis/v1/%61udit" is the audit route for all of them).
//
// Threading: pure functions over immutable data; any thread.
// Errors: a target that is not a valid origin-form path gives a Route with
// `error` set (answered 400); an unknown path gives spec == nullptr with the
// path's allowed methods in `allowed` (405 when not empty, else 404).
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace epochd {

enum class Endpoint {
  kListTopologies,
  kCreateTopology,
  kUpdateTopology,
  kGetTopology,
  kEditTopology,  // PUT /apis/v1/topologies/{id}: the simple request
  kDeleteTopology,
  kRunNow,
  kPause,
  kUnpause,
  kListRuns,
  kGetRun,
  kKillTask,
  kTaskLog,
  kTaskOutput,
  kUiCreate,  // POST /topologies/create (and /apis/ui/...)
  kUiUpdate,  // PUT /topologies/{id}/update
  kLeader,
  kCronNext,
  kAudit,
  kWhoami,
  kHealth,
  kMetrics,
  kUiPage,   // the app's HTML
  kUiAsset,  // its static files
};

// What a route needs from the caller.
enum class Access {
  kOpen,    // anyone, no credentials (the UI's static files)
  kHealth,  // anyone when --auth-open-health (default), else READ_ONLY
  kPage,    // the UI's page: READ_ONLY, open in token mode (browsers send no token)
  kRead,    // READ_ONLY
  kWrite,   // READ_WRITE
  kAdmin,   // ADMIN
};

struct RouteSpec {
  std::string_view method;   // GET routes also answer HEAD
  std::string_view pattern;  // "/apis/v1/topologies/{id}/runs/{runId}"; "{...}" is one segment
  std::string_view label;    // the metrics label (a template; closed set)
  Endpoint endpoint;
  Access access;
  bool local = false;  // answered by every node, never forwarded to the leader
};

// The route table, in matching order.
std::span<const RouteSpec> route_table();

struct Route {
  const RouteSpec* spec = nullptr;                 // null: no route has this method and path
  std::vector<std::string_view> allowed;           // spec null: the methods the path has
  std::string error;                               // set: the target is not a valid path
  std::vector<std::string> path;                   // decoded segments (UTF-8 safe), no trailing ""
  std::multimap<std::string, std::string> params;  // decoded query parameters

  bool matched() const { return spec != nullptr; }
  // The first value of a query parameter, or null.
  const std::string* param(const std::string& name) const;
  // The decoded path segment the pattern names `{name}` ("id", "runId",
  // "taskName"), or "" when the route has none.
  const std::string& segment(std::string_view name) const;
  const std::string& topology_id() const { return segment("id"); }
  // "/a/b/c": the decoded path, for messages.
  std::string decoded_path() const;
  // The metrics label: the route's template, or "unmatched".
  std::string_view label() const { return spec ? spec->label : "unmatched"; }
};

// Parses `target` (path and query, as received) for `method`.
Route parse_route(std::string_view method, std::string_view target);

// Whether `method` changes something (anything but GET, HEAD, OPTIONS).
bool is_write(std::string_view method);

}  // namespace epochd
