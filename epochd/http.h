// epochd's HTTP vocabulary: a request, a response and a handler, as plain
// values, so request handling is a function from request to response that
// tests call without sockets. No Beast here: only http_server.cpp sees it.
#pragma once

#include <cstdint>
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
  // The client's IP address as the server saw it ("" when not from a socket).
  std::string remote_address;

  // The first header named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
};

// `text` with every byte sequence that is not UTF-8 replaced by U+FFFD, so
// that what came from a URL (ids, query values) can go into JSON.
inline std::string utf8_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    std::size_t len = c < 0x80         ? 1
                      : (c >> 5) == 6  ? 2
                      : (c >> 4) == 14 ? 3
                      : (c >> 3) == 30 ? 4
                                       : 0;
    bool ok = len > 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (p[i + k] & 0xC0) == 0x80;
    if (ok && len > 1) {
      // No overlong forms, surrogates, or code points past U+10FFFF.
      std::uint32_t cp = c & (0x7F >> len);
      for (std::size_t k = 1; k < len; ++k)
        cp = (cp << 6) | (p[i + k] & 0x3F);
      static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// `text` as a JSON string: made UTF-8 safe, then quoted and escaped.
std::string json_quote(std::string_view text);

// Epoch's envelope, the one writer of it:
// {"status":"SUCCESS"|"FAILED","data":<data, or null>,"message":"…"}.
// `data` is JSON already; `message` is any bytes (made UTF-8 safe, quoted).
HttpResponse envelope(int status, bool success, std::string_view message,
                      std::string_view data = "null");

// A failure in Epoch's envelope: {"status":"FAILED","data":null,"message":…}.
inline HttpResponse failure_response(int status, std::string_view message) {
  return envelope(status, false, message);
}

// Sends the response; callable once, from any thread.
using Responder = std::function<void(HttpResponse)>;

// Handles one request. Called on the connection's strand; may answer later,
// from another thread, through the responder.
using Handler = std::function<void(HttpRequest, Responder)>;

}  // namespace epochd
