// epochd's HTTP/1.1 server: Boost.Beast underneath (only in
// http_server.cpp), this header stays free of it.
//
// Each connection is a session on its own strand: a read timeout before
// every read, a body limit, keep-alive, and up to `pipeline_limit` requests
// handled at once per connection, answered in order. Bodies over the limit
// get 413, malformed requests 400, both in Epoch's envelope; the connection
// then closes.
//
// Shutdown: stop_accepting() closes the listener; wait_idle() waits until
// every request already read has been answered. The owner then stops the
// io_context, which drops idle keep-alive connections.
//
// Threading: all methods are thread-safe. Ownership: the server keeps a
// reference to the io_context and the handler; both must outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "epoch/status.h"
#include "http.h"

namespace boost::asio {
class io_context;
}

namespace epochd {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port (see HttpServer::port())
  std::size_t body_limit = 1024 * 1024;
  // A connection that sends nothing for this long is closed (a request that
  // takes longer to arrive gets 408).
  std::chrono::milliseconds request_timeout = std::chrono::seconds(30);
  std::size_t pipeline_limit = 16;
  // Connections open at once; beyond it the server stops accepting until one
  // closes (new clients wait in the listen backlog). 0: derived from the
  // file-descriptor limit (default_max_connections()).
  std::size_t max_connections = 0;
  // HTTPS (TLS 1.2+) when set: a PEM certificate chain and its private key.
  std::string tls_cert_file, tls_key_file;
};

// The connection limit for this process's file-descriptor limit
// (RLIMIT_NOFILE): the limit less a reserve for the store, task output,
// child processes and outbound connections (a quarter of it, 32 to 256),
// at least 8.
std::size_t default_max_connections();

class HttpServer {
 public:
  // Binds and starts accepting. Errors: kUnavailable naming the address and
  // the system's reason (address in use, permission denied, ...);
  // kInvalidArgument for an unusable certificate or key.
  static epoch::StatusOr<std::unique_ptr<HttpServer>> start(boost::asio::io_context& ioc,
                                                            HttpServerOptions options,
                                                            Handler handler);
  virtual ~HttpServer() = default;

  // The port actually bound.
  virtual std::uint16_t port() const = 0;
  // Closes the listening socket; connections already open go on.
  virtual void stop_accepting() = 0;
  // Waits until no request is in flight, or `limit` has passed; returns
  // whether it drained. Responses written from now on close their connection.
  virtual bool wait_idle(std::chrono::milliseconds limit) = 0;
};

}  // namespace epochd
