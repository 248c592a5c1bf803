// Test support: a blocking HTTP/1.1 client over loopback (one connection
// per call, or a kept-alive one through HttpConnection).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace epoch::test {

struct HttpResult {
  int status = 0;  // 0: no answer (connection refused, reset, timed out)
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string error;                           // why there was no answer

  // The header's value (`name` lower-case), or "".
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Sends one request to 127.0.0.1:port and reads the answer.
HttpResult http_call(std::uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body = "",
                     std::vector<std::pair<std::string, std::string>> headers = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

// "Basic <base64 of user:password>", for an Authorization header.
std::string basic_auth(const std::string& user, const std::string& password);

// Writes `raw` bytes to the port and returns everything read until the
// server closes or `timeout` passes.
std::string raw_exchange(std::uint16_t port, const std::string& raw,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The index in `ports` of the node every listed node names as the cluster's
// leader (GET /apis/housekeeping/v1/leader, URL http://127.0.0.1:<port>),
// when they all answer, agree, and it is one of them.
std::optional<std::size_t> agreed_leader(const std::vector<std::uint16_t>& ports);

}  // namespace epoch::test
