// The Beast HTTP/1.1 server behind http_server.h: a listener that owns the
// acceptor, and one session per connection on its own strand, kept alive by
// the handlers that hold it (nobody keeps a list of sessions).
#include "http_server.h"

#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>

namespace epochd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// What the listener and all sessions share: the handler, the options and
// the count of requests in flight (read but not yet answered).
struct Shared {
  Handler handler;
  HttpServerOptions options;
  std::unique_ptr<asio::ssl::context> tls;  // set when serving HTTPS
  std::atomic<bool> draining{false};
  std::atomic<std::size_t> connections{0};  // sessions alive
  std::mutex mu;
  std::condition_variable idle;
  std::size_t in_flight = 0;

  void begin_request() {
    std::lock_guard lock(mu);
    ++in_flight;
  }
  void end_request() {
    std::lock_guard lock(mu);
    if (--in_flight == 0) idle.notify_all();
  }
};

std::string envelope_error(std::string_view message) {
  std::string out = R"({"status":"FAILED","message":")";
  for (char c : message) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  out += "\"}";
  return out;
}

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection; Stream is a plain TCP stream or a TLS stream over one.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;

 public:
  Session(tcp::socket&& socket, std::shared_ptr<Shared> shared)
      : stream_(make_stream(std::move(socket), *shared)), shared_(std::move(shared)) {
    ++shared_->connections;
  }
  ~Session() { --shared_->connections; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::start, shared_from_this()));
  }

 private:
  struct Slot {
    bool ready = false;
    bool keep_alive = true;
    bool counted = true;  // counts as a request in flight
    http::response<http::string_body> response;
  };

  static Stream make_stream(tcp::socket&& socket, Shared& shared) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return Stream(std::move(socket), *shared.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void start() {
    error_code peer_error;
    const auto peer = lowest().socket().remote_endpoint(peer_error);
    if (!peer_error) remote_address_ = peer.address().to_string();
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      lowest().expires_after(shared_->options.request_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = shared_from_this()](error_code ec) {
                                if (ec) return self->close();  // not TLS, or refused
                                self->do_read();
                              });
    } else {
      do_read();
    }
  }

  void do_read() {
    if (reading_ || read_closed_ || queue_.size() >= shared_->options.pipeline_limit) return;
    parser_.emplace();
    parser_->body_limit(shared_->options.body_limit);
    parser_->header_limit(64 * 1024);
    reading_ = true;
    lowest().expires_after(shared_->options.request_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(error_code ec, std::size_t) {
    if (ec) return on_read(ec, 0);
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      // An interim answer goes out only between answers: after every
      // answer to the requests before this one.
      continue_pending_ = true;
      return maybe_continue();
    }
    read_body();
  }

  // Writes a pending "100 Continue" once nothing is queued before it.
  void maybe_continue() {
    if (!continue_pending_ || writing_ || !queue_.empty()) return;
    continue_pending_ = false;
    writing_ = true;
    auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    lowest().expires_after(shared_->options.request_timeout);
    http::async_write(stream_, *cont,
                      [self = shared_from_this(), cont](error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (ec) return self->on_read(ec, 0);
                        self->read_body();
                      });
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(error_code ec, std::size_t) {
    reading_ = false;
    if (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
        ec == beast::error::timeout || ec == asio::error::operation_aborted) {
      read_closed_ = true;
      if (queue_.empty()) close();
      return;
    }
    if (ec) {
      read_closed_ = true;
      const bool too_big = ec == http::error::body_limit;
      auto slot = std::make_shared<Slot>();
      slot->counted = false;
      slot->keep_alive = false;
      HttpResponse r;
      r.status = too_big ? 413 : 400;
      r.body = envelope_error(too_big ? "Request body exceeds the limit of " +
                                            std::to_string(shared_->options.body_limit) + " bytes"
                                      : "Malformed HTTP request: " + ec.message());
      queue_.push_back(slot);
      fill(*slot, std::move(r), 11);
      maybe_write();
      return;
    }
    http::request<http::string_body> req = parser_->release();
    auto slot = std::make_shared<Slot>();
    slot->keep_alive = req.keep_alive() && !shared_->draining.load();
    queue_.push_back(slot);
    shared_->begin_request();

    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req)
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    request.body = std::move(req.body());
    request.remote_address = remote_address_;
    const unsigned version = req.version();
    Responder respond = [self = shared_from_this(), slot, version](HttpResponse response) {
      asio::post(self->stream_.get_executor(),
                 [self, slot, version, response = std::move(response)]() mutable {
                   if (slot->ready) return;
                   self->fill(*slot, std::move(response), version);
                   self->maybe_write();
                 });
    };
    shared_->handler(std::move(request), std::move(respond));
    if (slot->keep_alive)
      do_read();
    else
      read_closed_ = true;
  }

  void fill(Slot& slot, HttpResponse r, unsigned version) {
    auto& res = slot.response;
    res.version(version);
    res.result(static_cast<http::status>(r.status));
    res.set(http::field::server, "epochd");
    if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers)
      res.set(name, value);
    res.body() = std::move(r.body);
    if (shared_->draining.load()) slot.keep_alive = false;
    res.keep_alive(slot.keep_alive);
    res.prepare_payload();
    slot.ready = true;
  }

  void maybe_write() {
    if (writing_ || queue_.empty() || !queue_.front()->ready) return;
    writing_ = true;
    lowest().expires_after(shared_->options.request_timeout);
    http::async_write(stream_, queue_.front()->response,
                      beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(error_code ec, std::size_t) {
    writing_ = false;
    const std::shared_ptr<Slot> done = queue_.front();
    queue_.pop_front();
    if (done->counted) shared_->end_request();
    if (ec || !done->keep_alive) {
      read_closed_ = true;
      // Answers still queued are dropped with the connection; they still
      // count as answered.
      for (const auto& s : queue_)
        if (s->counted) {
          s->counted = false;
          shared_->end_request();
        }
      queue_.clear();
      close();
      return;
    }
    maybe_write();
    if (queue_.empty() && read_closed_) return close();
    maybe_continue();
    do_read();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest().close();
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<Shared> shared_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<std::shared_ptr<Slot>> queue_;
  bool reading_ = false;
  bool writing_ = false;           // an answer (or a 100 Continue) is being written
  bool continue_pending_ = false;  // a request's header asked for 100 Continue
  bool read_closed_ = false;
  bool closed_ = false;
  std::string remote_address_;  // the client's IP address (throttling is per address)
};

class Server final : public HttpServer, public std::enable_shared_from_this<Server> {
 public:
  Server(asio::io_context& ioc, std::shared_ptr<Shared> shared)
      : ioc_(ioc),
        acceptor_(asio::make_strand(ioc)),
        retry_(acceptor_.get_executor()),
        shared_(std::move(shared)),
        max_connections_(shared_->options.max_connections != 0 ? shared_->options.max_connections
                                                               : default_max_connections()) {}

  epoch::Status listen() {
    error_code ec;
    const auto address = asio::ip::make_address(shared_->options.address, ec);
    if (ec)
      return epoch::invalid_argument("listen address '" + shared_->options.address +
                                     "' is not an IP address: " + ec.message());
    const tcp::endpoint endpoint(address, shared_->options.port);
    const std::string where = shared_->options.address + ":" + std::to_string(endpoint.port());
    if (acceptor_.open(endpoint.protocol(), ec); ec)
      return epoch::unavailable("cannot open a socket for " + where + ": " + ec.message());
    if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec)
      return epoch::unavailable("cannot set SO_REUSEADDR on " + where + ": " + ec.message());
    if (acceptor_.bind(endpoint, ec); ec)
      return epoch::unavailable("cannot listen on " + where + ": " + ec.message());
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec)
      return epoch::unavailable("cannot listen on " + where + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    return epoch::Status();
  }

  void accept() {
    if (!acceptor_.is_open()) return;
    if (shared_->connections.load() >= max_connections_) {
      // Full: new clients wait in the listen backlog until one closes.
      return accept_after(std::chrono::milliseconds(50));
    }
    acceptor_.async_accept(asio::make_strand(ioc_),
                           [self = shared_from_this()](error_code ec, tcp::socket socket) {
                             self->on_accept(ec, std::move(socket));
                           });
  }

  void on_accept(error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE ||
        ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
      // Out of descriptors or memory: accepting again at once would spin.
      // Back off (10 ms, doubling to 1 s) while connections close.
      backoff_ = std::min<std::chrono::milliseconds>(
          std::chrono::seconds(1),
          backoff_.count() == 0 ? std::chrono::milliseconds(10) : backoff_ * 2);
      return accept_after(backoff_);
    }
    backoff_ = std::chrono::milliseconds(0);
    if (!ec) {
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (shared_->tls) {
        std::make_shared<Session<TlsStream>>(std::move(socket), shared_)->run();
      } else {
        std::make_shared<Session<PlainStream>>(std::move(socket), shared_)->run();
      }
    }
    accept();
  }

  // Accepts again after `delay` (on the acceptor's strand).
  void accept_after(std::chrono::milliseconds delay) {
    retry_.expires_after(delay);
    retry_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->accept();
    });
  }

  std::uint16_t port() const override { return port_; }

  void stop_accepting() override {
    shared_->draining = true;
    if (stopped_.exchange(true)) return;
    if (ioc_.stopped()) {  // nothing runs on the acceptor's strand
      error_code ignored;
      acceptor_.close(ignored);
      return;
    }
    auto closed = std::make_shared<std::promise<void>>();
    asio::post(acceptor_.get_executor(), [self = shared_from_this(), closed] {
      error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_.cancel();
      closed->set_value();
    });
    closed->get_future().wait_for(std::chrono::seconds(5));
  }

  bool wait_idle(std::chrono::milliseconds limit) override {
    shared_->draining = true;
    std::unique_lock lock(shared_->mu);
    return shared_->idle.wait_for(lock, limit, [&] { return shared_->in_flight == 0; });
  }

 private:
  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;  // accepting again after a back-off, or when full
  std::shared_ptr<Shared> shared_;
  const std::size_t max_connections_;
  std::chrono::milliseconds backoff_{0};
  std::uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
};

// The public handle owns the listener through a shared pointer, since
// pending accepts hold it too.
class ServerHandle final : public HttpServer {
 public:
  explicit ServerHandle(std::shared_ptr<Server> server) : server_(std::move(server)) {}
  ~ServerHandle() override { server_->stop_accepting(); }
  std::uint16_t port() const override { return server_->port(); }
  void stop_accepting() override { server_->stop_accepting(); }
  bool wait_idle(std::chrono::milliseconds limit) override { return server_->wait_idle(limit); }

 private:
  std::shared_ptr<Server> server_;
};

}  // namespace

std::size_t default_max_connections() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 10000;
  const auto fds = static_cast<std::size_t>(limit.rlim_cur);
  const std::size_t reserve = std::clamp<std::size_t>(fds / 4, 32, 256);
  return fds > reserve + 8 ? fds - reserve : 8;
}

epoch::StatusOr<std::unique_ptr<HttpServer>> HttpServer::start(asio::io_context& ioc,
                                                               HttpServerOptions options,
                                                               Handler handler) {
  auto shared = std::make_shared<Shared>();
  shared->handler = std::move(handler);
  shared->options = std::move(options);
  if (!shared->options.tls_cert_file.empty()) {
    // TLS 1.2 and later only.
    auto tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    error_code ec;
    tls->use_certificate_chain_file(shared->options.tls_cert_file, ec);
    if (ec) {
      return epoch::invalid_argument("TLS certificate '" + shared->options.tls_cert_file +
                                     "': " + ec.message());
    }
    tls->use_private_key_file(shared->options.tls_key_file, asio::ssl::context::pem, ec);
    if (ec) {
      return epoch::invalid_argument("TLS key '" + shared->options.tls_key_file +
                                     "': " + ec.message());
    }
    shared->tls = std::move(tls);
  }
  auto server = std::make_shared<Server>(ioc, shared);
  if (epoch::Status s = server->listen(); !s.ok()) return s;
  server->accept();
  return std::unique_ptr<HttpServer>(std::make_unique<ServerHandle>(std::move(server)));
}

}  // namespace epochd
