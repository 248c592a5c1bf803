#include "front_door.h"

#include <chrono>

#include "api.h"
#include "audit.h"
#include "auth.h"
#include "leader_router.h"
#include "metrics.h"
#include "ui.h"

namespace epochd {

void FrontDoor::handle(HttpRequest req, Responder respond) const {
  // The UI's static files hold no data: any node serves them to anyone. Its
  // page needs a reader, except in token mode (the app asks for the token; a
  // browser sends none when it navigates).
  const UiRoute ui = ui_route(req);
  if (ui == UiRoute::kAsset || (ui == UiRoute::kPage && auth_mode == "token")) {
    const auto start = std::chrono::steady_clock::now();
    HttpResponse r = serve_ui(req);
    metrics->http_request("ui", req.method, r.status, std::chrono::steady_clock::now() - start);
    return respond(std::move(r));
  }
  if (router != nullptr) {
    // Counted here as route "forwarded"; the leader counts the request itself.
    Responder counted = [respond, m = metrics, method = req.method,
                         start = std::chrono::steady_clock::now()](HttpResponse r) {
      m->http_request("forwarded", method, r.status, std::chrono::steady_clock::now() - start);
      respond(std::move(r));
    };
    if (router->route(req, counted)) return;  // the leader authenticates
  }
  const auto who = auth->check(req, respond);
  if (!who) return;
  if (ui == UiRoute::kPage) return respond(serve_ui(req));
  if (req.method == "GET" &&
      (req.target == "/apis/v1/whoami" || req.target.rfind("/apis/v1/whoami?", 0) == 0)) {
    return respond(whoami(*who, auth_mode));
  }
  Responder audited = audit->wrap(req, *who, std::move(respond));
  api->handle(std::move(req), std::move(audited));
}

}  // namespace epochd
