// The follower-to-leader proxy: one Beast client connection per forwarded
// request, with connect and response timeouts.
#include "leader_router.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

namespace epochd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr const char* kForwardedBy = "X-Epoch-Forwarded-By";

// Headers that belong to one connection, never copied across the proxy.
bool hop_by_hop(std::string_view name) {
  static constexpr std::string_view kDrop[] = {
      "connection", "host",    "content-length", "accept-encoding", "transfer-encoding",
      "vary",       "upgrade", "keep-alive",     "expect",          "te",
      "trailer",    "proxy-connection"};
  for (std::string_view d : kDrop) {
    if (name.size() == d.size() &&
        std::equal(name.begin(), name.end(), d.begin(),
                   [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; }))
      return true;
  }
  return false;
}

HttpResponse failure(int status, std::string_view message) {
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

bool local_only(const HttpRequest& req) {
  const std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
  return path == "/healthcheck" || path == "/metrics" || path == "/apis/housekeeping/v1/leader";
}

// One forwarded request: resolve, connect, write, read, answer.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(asio::io_context& ioc, RouterOptions options, std::string host, std::string port,
           std::string leader, http::request<http::string_body> req, Responder respond)
      : resolver_(ioc),
        stream_(ioc),
        options_(std::move(options)),
        host_(std::move(host)),
        port_(std::move(port)),
        leader_(std::move(leader)),
        req_(std::move(req)),
        respond_(std::move(respond)) {}

  void run() {
    resolver_.async_resolve(host_, port_,
                            [self = shared_from_this()](error_code ec, tcp::resolver::results_type r) {
                              if (ec) return self->fail("cannot resolve", ec);
                              self->connect(r);
                            });
  }

 private:
  void connect(const tcp::resolver::results_type& r) {
    stream_.expires_after(options_.connect_timeout);
    stream_.async_connect(r, [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
      if (ec) return self->fail("cannot connect to", ec);
      self->stream_.expires_after(self->options_.response_timeout);
      http::async_write(self->stream_, self->req_, [self](error_code ec2, std::size_t) {
        if (ec2) return self->fail("cannot send to", ec2);
        self->parser_.body_limit(std::uint64_t{1} << 30);
        http::async_read(self->stream_, self->buffer_, self->parser_,
                         [self](error_code ec3, std::size_t) {
                           if (ec3) return self->fail("no answer from", ec3);
                           self->answer();
                         });
      });
    });
  }

  void answer() {
    auto res = parser_.release();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    for (const auto& f : res) {
      if (f.name() == http::field::content_type || hop_by_hop(f.name_string())) continue;
      out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    out.body = std::move(res.body());
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    respond_(std::move(out));
  }

  void fail(const char* what, const error_code& ec) {
    const bool timeout = ec == beast::error::timeout;
    respond_(failure(502, std::string("Leader ") + leader_ + ": " + what + " the leader (" +
                              (timeout ? "timed out" : ec.message()) + ")"));
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  RouterOptions options_;
  std::string host_, port_, leader_;
  http::request<http::string_body> req_;
  http::response_parser<http::string_body> parser_;
  beast::flat_buffer buffer_;
  Responder respond_;
};

}  // namespace

struct LeaderRouter::State {
  State(asio::io_context& i, const epoch::LeaderElector& e, RouterOptions o)
      : ioc(i), elector(e), options(std::move(o)) {}
  asio::io_context& ioc;
  const epoch::LeaderElector& elector;
  RouterOptions options;
  std::atomic<std::uint64_t> forwarded{0};
};

LeaderRouter::LeaderRouter(asio::io_context& ioc, const epoch::LeaderElector& elector,
                           RouterOptions options)
    : state_(std::make_shared<State>(ioc, elector, std::move(options))) {}

std::uint64_t LeaderRouter::forwarded() const {
  return state_->forwarded.load();
}

bool LeaderRouter::route(HttpRequest& req, Responder& respond) {
  if (local_only(req) || state_->elector.is_leader()) return false;
  if (!req.header(kForwardedBy).empty()) {
    respond(failure(503, "Not the leader, and the request was already forwarded by " +
                             std::string(req.header(kForwardedBy)) + "; try again"));
    return true;
  }
  const auto leader = state_->elector.leader();
  if (!leader || *leader == state_->options.self_url) {
    respond(failure(503, "No leader found in epoch cluster"));
    return true;
  }
  const auto url = boost::urls::parse_absolute_uri(*leader);
  if (!url || url->scheme() != "http" || url->host().empty()) {
    respond(failure(503, "The leader's address '" + *leader + "' is not a usable http:// URL"));
    return true;
  }
  const std::string host = url->host();
  const std::string port = url->has_port() ? std::string(url->port()) : "80";
  http::request<http::string_body> out;
  out.method_string(req.method);
  out.target(req.target);
  out.version(11);
  for (const auto& [name, value] : req.headers) {
    if (!hop_by_hop(name)) out.insert(name, value);
  }
  out.set(http::field::host, host + ":" + port);
  out.set(kForwardedBy, state_->options.self_url);
  out.set(http::field::connection, "close");
  out.body() = std::move(req.body);
  out.prepare_payload();
  ++state_->forwarded;
  std::make_shared<Exchange>(state_->ioc, state_->options, host, port, *leader, std::move(out),
                             std::move(respond))
      ->run();
  return true;
}

}  // namespace epochd
