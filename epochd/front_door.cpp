#include "front_door.h"

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <memory>

#include "api.h"
#include "audit.h"
#include "auth.h"
#include "leader_router.h"
#include "metrics.h"
#include "routes.h"
#include "ui.h"

namespace epochd {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool known_method(std::string_view m) {
  for (std::string_view k : {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
    if (m == k) return true;
  return false;
}

// "name[:port]" or "[v6]:port" -> the host part, lower-case, without a
// trailing dot; "" when malformed.
std::string host_part(std::string_view authority) {
  if (authority.empty()) return {};
  std::string_view host = authority;
  if (host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return {};
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return {};
    host = host.substr(1, close - 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    if (host.find(':') != colon) return {};  // a bare IPv6 address is not a Host value
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  for (char c : host) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '.' || c == ':' || c == '_')) return {};
  }
  return lower(host);
}

// "http://a.b:8080" -> "a.b:8080"; the scheme's default port dropped.
std::string origin_authority(std::string_view origin) {
  std::string o = lower(origin);
  std::string_view v = o;
  std::string_view port_default;
  if (v.starts_with("http://")) {
    v.remove_prefix(7);
    port_default = ":80";
  } else if (v.starts_with("https://")) {
    v.remove_prefix(8);
    port_default = ":443";
  } else {
    return {};
  }
  if (v.find('/') != std::string_view::npos) return {};
  if (v.ends_with(port_default)) v.remove_suffix(port_default.size());
  return std::string(v);
}

// The Host header as an authority to compare with an origin's: lower-case,
// without :80 / :443 (either scheme's default; we do not know which one the
// client used).
std::string host_authority(std::string_view host) {
  std::string h = lower(host);
  for (std::string_view d : {":80", ":443"})
    if (std::string_view(h).ends_with(d)) h.resize(h.size() - d.size());
  return h;
}

bool cors_allowed(std::string_view origin, const RequestPolicy& policy) {
  for (const std::string& o : policy.cors_origins)
    if (lower(o) == lower(origin)) return true;
  return false;
}

std::string media_type(std::string_view content_type) {
  std::string_view v = content_type.substr(0, content_type.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  return lower(v);
}

}  // namespace

bool host_allowed(std::string_view host_header, const RequestPolicy& policy) {
  const std::string host = host_part(host_header);
  if (host.empty()) return false;
  if (host == "localhost" || std::string_view(host).ends_with(".localhost")) return true;
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (!ec) return true;  // an IP literal: no name to rebind
  for (const std::string& entry : policy.hosts) {
    const std::string e = lower(entry);
    if (e == "*" || e == host) return true;
    if (e.size() > 2 && e.starts_with("*.") && std::string_view(host).ends_with(e.substr(1)))
      return true;
  }
  return false;
}

std::optional<HttpResponse> guard_request(const HttpRequest& req, const RequestPolicy& policy) {
  if (!known_method(req.method)) {
    return failure_response(
        501, "Method " + utf8_safe(req.method.substr(0, 32)) + " is not implemented");
  }
  const std::string_view host = req.header("Host");
  if (host.empty()) return failure_response(400, "A Host header is required");
  if (!host_allowed(host, policy)) {
    return failure_response(421, "Host '" + utf8_safe(host.substr(0, 255)) +
                                     "' is not a name this node answers to (the operator allows "
                                     "names with --allowed-hosts)");
  }
  const std::string_view origin = req.header("Origin");
  if (req.method == "OPTIONS" && !origin.empty() && cors_allowed(origin, policy) &&
      !req.header("Access-Control-Request-Method").empty()) {
    HttpResponse r;
    r.status = 204;
    r.content_type.clear();
    r.headers = {{"Access-Control-Allow-Origin", std::string(origin)},
                 {"Access-Control-Allow-Credentials", "true"},
                 {"Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE"},
                 {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
                 {"Access-Control-Max-Age", "600"},
                 {"Vary", "Origin"}};
    return r;
  }
  if (!is_write(req.method)) return std::nullopt;
  if (!origin.empty() && !cors_allowed(origin, policy)) {
    const std::string from = origin_authority(origin);
    if (from.empty() || from != host_authority(host)) {
      return failure_response(403, "Cross-origin request refused: Origin '" +
                                       utf8_safe(origin.substr(0, 255)) +
                                       "' is not this node's (the operator allows origins with "
                                       "--cors-origins)");
    }
  }
  const std::string_view type = req.header("Content-Type");
  if ((!req.body.empty() || !type.empty()) && media_type(type) != "application/json") {
    HttpResponse r = failure_response(
        415, "Content-Type must be application/json, got '" + utf8_safe(type.substr(0, 100)) + "'");
    r.headers.emplace_back("Accept", "application/json");
    return r;
  }
  return std::nullopt;
}

void FrontDoor::handle(HttpRequest req, Responder respond) const {
  auto route = std::make_shared<Route>(parse_route(req.method, req.target));
  // Every answer counted once, under the route's template (closed set), or
  // as "forwarded" for what a follower relays (the leader counts it too).
  const std::string origin(req.header("Origin"));
  const bool cors = !origin.empty() && cors_allowed(origin, policy);
  const auto counted = [&](std::string_view label, Responder to) -> Responder {
    return [m = metrics, label, method = req.method, cors, origin,
            start = std::chrono::steady_clock::now(), to = std::move(to)](HttpResponse r) {
      if (cors) {
        r.headers.emplace_back("Access-Control-Allow-Origin", origin);
        r.headers.emplace_back("Access-Control-Allow-Credentials", "true");
        r.headers.emplace_back("Vary", "Origin");
      }
      m->http_request(label, method, r.status, std::chrono::steady_clock::now() - start);
      to(std::move(r));
    };
  };
  const Responder raw = respond;
  respond = counted(route->label(), std::move(respond));
  if (auto refused = guard_request(req, policy)) return respond(std::move(*refused));
  const Endpoint endpoint = route->matched() ? route->spec->endpoint : Endpoint::kHealth;
  // The UI's static files hold no data: any node serves them to anyone. Its
  // page needs a reader, except in token mode (the app asks for the token; a
  // browser sends none when it navigates).
  if (route->matched() && (endpoint == Endpoint::kUiAsset ||
                           (endpoint == Endpoint::kUiPage && auth_mode == AuthMode::kToken))) {
    return respond(serve_ui(req, *route));
  }
  if (router != nullptr && !(route->matched() && route->spec->local)) {
    // The Origin was checked here; the leader sees this node's request.
    std::erase_if(req.headers,
                  [](const auto& h) { return h.first.size() == 6 && lower(h.first) == "origin"; });
    Responder forwarded = counted("forwarded", raw);
    if (router->route(req, forwarded)) return;  // the leader authenticates
  }
  // What happens once the caller is known.
  auto go_on = [this, route](HttpRequest request, Responder answer, AuthDecision decision) {
    if (decision.kind != AuthDecision::Kind::kAllowed) return answer(std::move(decision.response));
    const Principal& who = decision.principal;
    if (route->matched() && route->spec->endpoint == Endpoint::kUiPage)
      return answer(serve_ui(request, *route));
    if (route->matched() && route->spec->endpoint == Endpoint::kWhoami)
      return answer(whoami(who, auth_mode));
    if (!is_write(request.method))
      return api->handle(*route, std::move(request), who, std::move(answer));
    auto held = std::make_shared<HttpRequest>(std::move(request));
    audit->record(*held, *route, who, std::move(answer),
                  [this, route, held, who](Responder audited) {
                    api->handle(*route, std::move(*held), who, std::move(audited));
                  });
  };
  AuthDecision now = auth->decide(req, *route);
  if (now.kind != AuthDecision::Kind::kPending)
    return go_on(std::move(req), std::move(respond), std::move(now));
  auto held = std::make_shared<HttpRequest>(std::move(req));
  auth->verify(*held, *route,
               [held, respond = std::move(respond), go_on](AuthDecision later) mutable {
                 go_on(std::move(*held), std::move(respond), std::move(later));
               });
}

}  // namespace epochd
