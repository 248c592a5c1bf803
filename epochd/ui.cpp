#include "ui.h"

#include <functional>
#include <map>

#include "ui_assets.h"

namespace epochd {
namespace {

std::string_view path_only(std::string_view target) {
  const auto q = target.find_first_of("?#");
  return q == std::string_view::npos ? target : target.substr(0, q);
}

std::string_view content_type(std::string_view path) {
  if (path.ends_with(".html")) return "text/html; charset=utf-8";
  if (path.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (path.ends_with(".css")) return "text/css; charset=utf-8";
  if (path.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

struct Served {
  std::string_view bytes;
  std::string etag;
};

const std::map<std::string_view, Served>& files() {
  static const std::map<std::string_view, Served> all = [] {
    std::map<std::string_view, Served> m;
    for (const EmbeddedAsset& a : ui_assets()) {
      char tag[32];
      std::snprintf(tag, sizeof tag, "\"%zx\"", std::hash<std::string_view>{}(a.bytes));
      m[a.path] = Served{a.bytes, tag};
    }
    return m;
  }();
  return all;
}

}  // namespace

UiRoute ui_route(const HttpRequest& req) {
  if (req.method != "GET" && req.method != "HEAD") return UiRoute::kNone;
  const std::string_view path = path_only(req.target);
  if (path == "/" || path == "/index.html") return UiRoute::kPage;
  if (path.starts_with("/ui/")) return UiRoute::kAsset;
  if (path == "/favicon.ico") return UiRoute::kAsset;
  // Epoch's topology page: /topologies/{id} (one segment after).
  if (path.starts_with("/topologies/")) {
    const std::string_view id = path.substr(12);
    if (!id.empty() && id.find('/') == std::string_view::npos) return UiRoute::kPage;
  }
  return UiRoute::kNone;
}

HttpResponse serve_ui(const HttpRequest& req) {
  std::string_view path = path_only(req.target);
  if (ui_route(req) == UiRoute::kPage) {
    path = "/index.html";
  } else if (path == "/favicon.ico") {
    path = "/favicon.svg";
  } else {
    path.remove_prefix(3);  // "/ui"
  }
  const auto it = files().find(path);
  if (it == files().end()) {
    return failure_response(404, "No such file: " + std::string(path_only(req.target)));
  }
  HttpResponse r;
  r.content_type = std::string(content_type(path));
  r.headers = {
      {"ETag", it->second.etag},
      {"Cache-Control", "no-cache"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "same-origin"},
      {"Content-Security-Policy",
       "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
  };
  if (req.header("If-None-Match") == it->second.etag) {
    r.status = 304;
    return r;
  }
  if (req.method == "GET") r.body = std::string(it->second.bytes);
  return r;
}

}  // namespace epochd
