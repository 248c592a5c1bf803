// Request routing in a cluster: a node that is not the leader forwards
// every API and UI request to the leader it knows (method, path, query,
// body and headers — Authorization and Cookie included — so the leader
// authenticates), and relays the leader's answer. No Beast here.
//
// Served locally on every node: /healthcheck, /metrics and
// GET /apis/housekeeping/v1/leader. A request that a node already
// forwarded is never forwarded again (no loops between nodes that disagree
// for a moment about the leader): it gets 503.
//
// Threading: thread-safe; answers through the responder from the
// io_context's threads. Ownership: holds references to the io_context and
// the elector, which must outlive it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "epoch/leader.h"
#include "http.h"

namespace epochd {

struct RouterOptions {
  std::string self_url;  // this node's advertised URL
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(2);
  std::chrono::milliseconds response_timeout = std::chrono::seconds(10);
  // An https leader is verified against these CA certificates (PEM; empty:
  // the system's) and must be named by its certificate.
  std::string tls_ca_file;
  // The largest answer body taken from the leader; a larger one is answered
  // 502 naming the limit (the follower holds an answer in memory while it
  // relays it). Default 32 MiB.
  std::uint64_t body_limit = std::uint64_t{32} << 20;
};

class LeaderRouter {
 public:
  LeaderRouter(boost::asio::io_context& ioc, const epoch::LeaderElector& elector,
               RouterOptions options);

  // Forwards `req` to the leader and returns true when this node must not
  // answer it itself; the responder then gets the leader's answer, or 503
  // (no leader known) or 502 (the leader did not answer) in Epoch's
  // envelope. Returns false, leaving `req` and `respond` untouched, when
  // this node answers.
  bool route(HttpRequest& req, Responder& respond);

  // Requests forwarded so far.
  std::uint64_t forwarded() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace epochd
