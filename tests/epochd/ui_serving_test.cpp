// The web UI's files as epochd serves them (epochd/ui.h): which paths are
// the app's, content types, ETag and 304, security headers, 404s.
#include <doctest/doctest.h>

#include "ui.h"

using epochd::HttpRequest;
using epochd::UiRoute;

namespace {

HttpRequest get(std::string target, std::string method = "GET") {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  return r;
}

std::string header(const epochd::HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

}  // namespace

TEST_CASE("which requests are the UI's") {
  CHECK(epochd::ui_route(get("/")) == UiRoute::kPage);
  CHECK(epochd::ui_route(get("/?x=1")) == UiRoute::kPage);
  CHECK(epochd::ui_route(get("/topologies/daily-report")) == UiRoute::kPage);
  CHECK(epochd::ui_route(get("/ui/app.js")) == UiRoute::kAsset);
  CHECK(epochd::ui_route(get("/favicon.ico")) == UiRoute::kAsset);
  // Epoch's UI endpoints and the API are not.
  CHECK(epochd::ui_route(get("/topologies/create", "POST")) == UiRoute::kNone);
  CHECK(epochd::ui_route(get("/topologies/x/update", "PUT")) == UiRoute::kNone);
  CHECK(epochd::ui_route(get("/topologies/x/update")) == UiRoute::kNone);
  CHECK(epochd::ui_route(get("/apis/v1/topologies")) == UiRoute::kNone);
  CHECK(epochd::ui_route(get("/", "POST")) == UiRoute::kNone);
}

TEST_CASE("pages are the app; files carry their type, an ETag and a strict CSP") {
  const auto page = epochd::serve_ui(get("/topologies/abc"));
  CHECK(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  CHECK(page.body.find("<script src=\"/ui/app.js\"") != std::string::npos);
  CHECK(header(page, "Content-Security-Policy").find("script-src 'self'") != std::string::npos);
  CHECK(header(page, "X-Content-Type-Options") == "nosniff");
  const auto js = epochd::serve_ui(get("/ui/app.js"));
  CHECK(js.content_type == "text/javascript; charset=utf-8");
  CHECK(js.body.find("async function api(") != std::string::npos);
  CHECK(epochd::serve_ui(get("/ui/app.css")).content_type == "text/css; charset=utf-8");
  CHECK(epochd::serve_ui(get("/favicon.ico")).content_type == "image/svg+xml");

  auto again = get("/ui/app.js");
  again.headers.emplace_back("If-None-Match", header(js, "ETag"));
  const auto cached = epochd::serve_ui(again);
  CHECK(cached.status == 304);
  CHECK(cached.body.empty());
  const auto head = epochd::serve_ui(get("/ui/app.js", "HEAD"));
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(epochd::serve_ui(get("/ui/missing.js")).status == 404);
  CHECK(epochd::serve_ui(get("/ui/../daemon.cpp")).status == 404);
}
