#include "http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cctype>

namespace epoch::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpResult http_call(std::uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body,
                     std::vector<std::pair<std::string, std::string>> headers,
                     std::chrono::milliseconds timeout) {
  HttpResult result;
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.expires_after(timeout);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) {
    result.error = "connect: " + ec.message();
    return result;
  }
  http::request<http::string_body> req;
  req.version(11);
  req.target(target);
  req.method_string(method);
  req.set(http::field::host, "127.0.0.1");
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  for (auto& [k, v] : headers)
    req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) {
    result.error = "write: " + ec.message();
    return result;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  parser.skip(method == "HEAD");  // the answer to HEAD has no body
  http::read(stream, buffer, parser, ec);
  if (ec) {
    result.error = "read: " + ec.message();
    return result;
  }
  const auto& res = parser.get();
  result.status = static_cast<int>(res.result_int());
  result.body = res.body();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    result.headers[name] = std::string(f.value());
  }
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return result;
}

std::string basic_auth(const std::string& user, const std::string& password) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string in = user + ":" + password;
  std::string out;
  int val = 0, bits = -6;
  for (unsigned char c : in) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(k[(val >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(k[((val << 8) >> (bits + 8)) & 0x3F]);
  while (out.size() % 4)
    out.push_back('=');
  return "Basic " + out;
}

std::string raw_exchange(std::uint16_t port, const std::string& raw,
                         std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.expires_after(timeout);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return {};
  asio::write(stream, asio::buffer(raw), ec);
  std::string out;
  char buf[4096];
  while (true) {
    const std::size_t n = stream.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

std::optional<std::size_t> agreed_leader(const std::vector<std::uint16_t>& ports) {
  std::optional<std::string> agreed;
  for (const std::uint16_t port : ports) {
    const auto r =
        http_call(port, "GET", "/apis/housekeeping/v1/leader", "", {}, std::chrono::seconds(2));
    if (r.status != 200) return std::nullopt;
    boost::system::error_code ec;
    const auto v = boost::json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("leader") || !v.at("leader").is_string())
      return std::nullopt;
    const std::string url(v.at("leader").as_string());
    if (agreed && *agreed != url) return std::nullopt;
    agreed = url;
  }
  for (std::size_t i = 0; i < ports.size(); ++i) {
    if (agreed == "http://127.0.0.1:" + std::to_string(ports[i])) return i;
  }
  return std::nullopt;
}

}  // namespace epoch::test
