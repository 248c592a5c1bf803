#include "ui.h"

#include <functional>
#include <map>

#include "ui_assets.h"

namespace epochd {
namespace {

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

HttpResponse serve_ui(const HttpRequest& req, const Route& route) {
  std::string path;
  if (route.matched() && route.spec->endpoint == Endpoint::kUiPage) {
    path = "/index.html";
  } else if (route.matched() && route.spec->endpoint == Endpoint::kUiAsset) {
    const std::string& file = route.segment("file");
    path = file.empty() ? "/favicon.svg" : "/" + file;  // /favicon.ico has no {file}
  }
  const auto it = files().find(path);
  if (it == files().end()) {
    return failure_response(404, "No such file: " + route.decoded_path());
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
