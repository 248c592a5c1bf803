// Every HTTP request's way through epochd, in order:
//   1. the target is parsed once into a Route (routes.h) — everything below
//      reads that parse, never the raw target;
//   2. the request guard: a method epochd knows (else 501), a Host this node
//      answers to (else 421: DNS rebinding), for writes an Origin that is
//      this node's own or configured (else 403: cross-site requests) and an
//      application/json body (else 415);
//   3. the UI's static files (open, on any node);
//   4. forwarding to the leader (followers; the Origin, checked, is not
//      forwarded);
//   5. authentication and authorization on the route (Auth; a password
//      check runs on Auth's workers and the request goes on from there);
//   6. the UI's page and /apis/v1/whoami, then the audit log's wrapper and
//      the REST API.
// Every answer is counted once in the metrics, under the route's template.
//
// What: FrontDoor is the handler HttpServer calls; it holds pointers to the
// pieces and decides nothing itself beyond that order and the guard. Tests
// and the HTTP fuzzer drive it without sockets.
// Threading: handle() is called on any I/O thread, concurrently; the pieces
// it calls are thread-safe. The pieces may be set after construction
// (epochd binds its port before the API exists) but before the first call.
// Ownership: pointers only; everything outlives the FrontDoor.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth.h"
#include "http.h"

namespace epochd {

class Api;
class Auth;
class AuditRecorder;
class LeaderRouter;
class Metrics;

// Which hosts and origins requests may name.
struct RequestPolicy {
  // Host names this node answers to besides loopback names ("localhost",
  // "*.localhost") and IP literals (which DNS rebinding cannot use): the
  // listen address, the advertised URL's host, --allowed-hosts. An entry
  // "*.example.com" allows the subdomains of example.com; "*" allows any.
  std::vector<std::string> hosts;
  // Origins (scheme://host[:port]) besides this node's own that may send
  // writes and get CORS headers (--cors-origins). Default none: no CORS
  // headers at all.
  std::vector<std::string> cors_origins;
};

// The guard's refusal for `req`, or nullopt when it may go on (pure; see 2.
// above). A CORS preflight (OPTIONS from a configured origin) is answered
// here too, with 204.
std::optional<HttpResponse> guard_request(const HttpRequest& req, const RequestPolicy& policy);

// Whether `host_header` (a Host header value, "name[:port]") is a name this
// node answers to under `policy`.
bool host_allowed(std::string_view host_header, const RequestPolicy& policy);

struct FrontDoor {
  Api* api = nullptr;
  LeaderRouter* router = nullptr;  // null: standalone, or the leader's own requests
  Auth* auth = nullptr;
  AuditRecorder* audit = nullptr;
  Metrics* metrics = nullptr;
  AuthMode auth_mode = AuthMode::kNone;
  RequestPolicy policy;

  void handle(HttpRequest req, Responder respond) const;
};

}  // namespace epochd
