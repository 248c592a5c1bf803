// Every HTTP request's way through epochd, in order: the UI's static files
// (open), forwarding to the leader (followers), authentication, the UI's
// page and /apis/v1/whoami, the audit log, then the REST API.
//
// What: FrontDoor is the handler HttpServer calls; it holds references to
// the pieces and decides nothing itself beyond that order. Tests and the
// HTTP fuzzer drive it without sockets.
// Threading: handle() is called on any I/O thread, concurrently; the pieces
// it calls are thread-safe. The pieces may be set after construction
// (epochd binds its port before the API exists) but before the first call.
// Ownership: references only; everything outlives the FrontDoor.
#pragma once

#include <string>

#include "http.h"

namespace epochd {

class Api;
class Auth;
class AuditRecorder;
class LeaderRouter;
class Metrics;

struct FrontDoor {
  Api* api = nullptr;
  LeaderRouter* router = nullptr;  // null: standalone, or the leader's own requests
  Auth* auth = nullptr;
  AuditRecorder* audit = nullptr;
  Metrics* metrics = nullptr;
  std::string auth_mode = "none";  // none | basic | token

  void handle(HttpRequest req, Responder respond) const;
};

}  // namespace epochd
