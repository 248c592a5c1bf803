// epochd's HTTP vocabulary: a request, a response and a handler, as plain
// values, so request handling is a function from request to response that
// tests call without sockets. No Beast here: only http_server.cpp sees it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace epochd {

struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // path and query, as received ("/apis/v1/topologies?x=1")
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
};

// A failure in Epoch's envelope: {"status":"FAILED","data":null,"message":…}.
inline HttpResponse failure_response(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = R"({"status":"FAILED","data":null,"message":")";
  for (char c : message) {
    if (c == '"' || c == '\\') r.body += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) r.body += c;
  }
  r.body += "\"}";
  return r;
}

// Sends the response; callable once, from any thread.
using Responder = std::function<void(HttpResponse)>;

// Handles one request. Called on the connection's strand; may answer later,
// from another thread, through the responder.
using Handler = std::function<void(HttpRequest, Responder)>;

}  // namespace epochd
