// The follower-to-leader proxy: one Beast client connection per forwarded
// request, with connect and response timeouts.
#include "leader_router.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
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
  static constexpr std::string_view kDrop[] = {"connection",
                                               "host",
                                               "content-length",
                                               "accept-encoding",
                                               "transfer-encoding",
                                               "vary",
                                               "upgrade",
                                               "keep-alive",
                                               "expect",
                                               "te",
                                               "trailer",
                                               "proxy-connection"};
  for (std::string_view d : kDrop) {
    if (name.size() == d.size() &&
        std::equal(name.begin(), name.end(), d.begin(),
                   [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; }))
      return true;
  }
  return false;
}

bool local_only(const HttpRequest& req) {
  const std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
  return path == "/healthcheck" || path == "/metrics" || path == "/apis/housekeeping/v1/leader";
}

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One forwarded request: resolve, connect, (TLS handshake,) write, read,
// answer.
template <typename Stream>
class Exchange : public std::enable_shared_from_this<Exchange<Stream>> {
  using std::enable_shared_from_this<Exchange<Stream>>::shared_from_this;

 public:
  Exchange(asio::io_context& ioc, asio::ssl::context* tls, RouterOptions options, std::string host,
           std::string port, std::string leader, http::request<http::string_body> req,
           Responder respond)
      : resolver_(ioc),
        stream_(make_stream(ioc, tls)),
        options_(std::move(options)),
        host_(std::move(host)),
        port_(std::move(port)),
        leader_(std::move(leader)),
        req_(std::move(req)),
        respond_(std::move(respond)) {}

  void run() {
    resolver_.async_resolve(
        host_, port_, [self = shared_from_this()](error_code ec, tcp::resolver::results_type r) {
          if (ec) return self->fail("cannot resolve", ec);
          self->connect(r);
        });
  }

 private:
  static Stream make_stream(asio::io_context& ioc, asio::ssl::context* tls) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return Stream(ioc, *tls);
    } else {
      return Stream(ioc);
    }
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void connect(const tcp::resolver::results_type& r) {
    lowest().expires_after(options_.connect_timeout);
    lowest().async_connect(r, [self = shared_from_this()](error_code ec, const tcp::endpoint&) {
      if (ec) return self->fail("cannot connect to", ec);
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        SSL_set_tlsext_host_name(self->stream_.native_handle(), self->host_.c_str());
        self->stream_.set_verify_callback(asio::ssl::host_name_verification(self->host_));
        self->stream_.async_handshake(asio::ssl::stream_base::client, [self](error_code hec) {
          if (hec) return self->fail("TLS handshake failed with", hec);
          self->send();
        });
      } else {
        self->send();
      }
    });
  }

  void send() {
    {
      auto self = shared_from_this();
      lowest().expires_after(options_.response_timeout);
      http::async_write(self->stream_, self->req_, [self](error_code ec2, std::size_t) {
        if (ec2) return self->fail("cannot send to", ec2);
        self->parser_.body_limit(self->options_.body_limit);
        http::async_read(self->stream_, self->buffer_, self->parser_,
                         [self](error_code ec3, std::size_t) {
                           if (ec3) return self->fail("no answer from", ec3);
                           self->answer();
                         });
      });
    }
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
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    respond_(std::move(out));
  }

  void fail(const char* what, const error_code& ec) {
    if (ec == http::error::body_limit) {
      return respond_(failure_response(
          502, "Leader " + leader_ + ": its answer is larger than this node relays (" +
                   std::to_string(options_.body_limit) +
                   " bytes, --forward-body-limit); ask the leader directly"));
    }
    const bool timeout = ec == beast::error::timeout;
    respond_(failure_response(502, std::string("Leader ") + leader_ + ": " + what +
                                       " the leader (" + (timeout ? "timed out" : ec.message()) +
                                       ")"));
  }

  tcp::resolver resolver_;
  Stream stream_;
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
      : ioc(i), elector(e), options(std::move(o)) {
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
    tls.set_verify_mode(asio::ssl::verify_peer);
    error_code ec;
    if (options.tls_ca_file.empty()) {
      tls.set_default_verify_paths(ec);
    } else {
      tls.load_verify_file(options.tls_ca_file, ec);
    }
    tls_error = ec ? ec.message() : "";
  }
  asio::io_context& ioc;
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::string tls_error;  // the CA file could not be loaded
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
    respond(failure_response(503, "Not the leader, and the request was already forwarded by " +
                                      std::string(req.header(kForwardedBy)) + "; try again"));
    return true;
  }
  const auto leader = state_->elector.leader();
  if (!leader || *leader == state_->options.self_url) {
    respond(failure_response(503, "No leader found in epoch cluster"));
    return true;
  }
  const auto url = boost::urls::parse_absolute_uri(*leader);
  const bool https = url && url->scheme() == "https";
  if (!url || (url->scheme() != "http" && !https) || url->host().empty()) {
    respond(failure_response(503, "The leader's address '" + *leader + "' is not a usable URL"));
    return true;
  }
  if (https && !state_->tls_error.empty()) {
    respond(failure_response(
        503, "Cannot verify the leader " + *leader + ": CA certificates: " + state_->tls_error));
    return true;
  }
  const std::string host = url->host();
  const std::string port = url->has_port() ? std::string(url->port()) : (https ? "443" : "80");
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
  if (https) {
    std::make_shared<Exchange<TlsStream>>(state_->ioc, &state_->tls, state_->options, host, port,
                                          *leader, std::move(out), std::move(respond))
        ->run();
  } else {
    std::make_shared<Exchange<PlainStream>>(state_->ioc, nullptr, state_->options, host, port,
                                            *leader, std::move(out), std::move(respond))
        ->run();
  }
  return true;
}

}  // namespace epochd
