// The web UI's files as epochd serves them (epochd/ui.h): which paths are
// the app's, content types, ETag and 304, security headers, 404s.
#include <doctest/doctest.h>

#include <optional>

#include "routes.h"
#include "ui.h"

using epochd::Endpoint;
using epochd::HttpRequest;

namespace {

HttpRequest get(std::string target, std::string method = "GET") {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  return r;
}

// The endpoint the route table gives a request, or nullopt for none.
std::optional<Endpoint> ui_route(const HttpRequest& r) {
  const auto route = epochd::parse_route(r.method, r.target);
  if (!route.matched()) return std::nullopt;
  return route.spec->endpoint;
}

epochd::HttpResponse serve(const HttpRequest& r) {
  return epochd::serve_ui(r, epochd::parse_route(r.method, r.target));
}

std::string header(const epochd::HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

}  // namespace

TEST_CASE("which requests are the UI's") {
  CHECK(ui_route(get("/")) == Endpoint::kUiPage);
  CHECK(ui_route(get("/?x=1")) == Endpoint::kUiPage);
  CHECK(ui_route(get("/topologies/daily-report")) == Endpoint::kUiPage);
  CHECK(ui_route(get("/ui/app.js")) == Endpoint::kUiAsset);
  CHECK(ui_route(get("/favicon.ico")) == Endpoint::kUiAsset);
  // Epoch's UI endpoints and the API are not.
  CHECK(ui_route(get("/topologies/create", "POST")) == Endpoint::kUiCreate);
  CHECK(ui_route(get("/topologies/x/update", "PUT")) == Endpoint::kUiUpdate);
  CHECK(ui_route(get("/topologies/x/update")) == std::nullopt);
  CHECK(ui_route(get("/apis/v1/topologies")) == Endpoint::kListTopologies);
  CHECK(ui_route(get("/", "POST")) == std::nullopt);
  // The route is the decoded path's: an encoded name is the same file.
  CHECK(ui_route(get("/%75i/app.js")) == Endpoint::kUiAsset);
  CHECK(serve(get("/%75i/app%2Ejs")).status == 200);
}

TEST_CASE("pages are the app; files carry their type, an ETag and a strict CSP") {
  const auto page = serve(get("/topologies/abc"));
  CHECK(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  CHECK(page.body.find("<script src=\"/ui/app.js\"") != std::string::npos);
  CHECK(header(page, "Content-Security-Policy").find("script-src 'self'") != std::string::npos);
  CHECK(header(page, "X-Content-Type-Options") == "nosniff");
  const auto js = serve(get("/ui/app.js"));
  CHECK(js.content_type == "text/javascript; charset=utf-8");
  CHECK(js.body.find("async function api(") != std::string::npos);
  CHECK(serve(get("/ui/app.css")).content_type == "text/css; charset=utf-8");
  CHECK(serve(get("/favicon.ico")).content_type == "image/svg+xml");

  auto again = get("/ui/app.js");
  again.headers.emplace_back("If-None-Match", header(js, "ETag"));
  const auto cached = serve(again);
  CHECK(cached.status == 304);
  CHECK(cached.body.empty());
  const auto head = serve(get("/ui/app.js", "HEAD"));
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(serve(get("/ui/missing.js")).status == 404);
  CHECK(serve(get("/ui/../daemon.cpp")).status == 404);
}
