// Test support for the ZooKeeper store and elector tests: a connection to
// the test's server, a forced session expiry, and an elector that counts
// its callbacks.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "../../libepoch/store/zk_connection.h"
#include "daemon_process.h"
#include "epoch/leader.h"
#include "epoch/zookeeper.h"
#include "store_contract.h"
#include "zk_server.h"

namespace epoch::test {

using namespace std::chrono_literals;

inline std::shared_ptr<ZkConnection> connect(const ZkServer& zk, std::string ns = "epoch",
                                             std::chrono::milliseconds session = 2000ms,
                                             std::chrono::milliseconds operation = 1000ms) {
  ZkOptions o;
  o.hosts = zk.hosts();
  o.name_space = std::move(ns);
  o.session_timeout = session;
  o.operation_timeout = operation;
  auto c = connect_zookeeper(o);
  REQUIRE(c.ok());
  REQUIRE(eventually([&] { return zk_connected(**c); }));
  return *c;
}

// Expires `conn`'s session the way ZooKeeper does for a node that stalled:
// a second client attaches to the session and closes it.
inline void expire_session(ZkConnection& conn, const ZkServer& zk) {
  clientid_t id{};
  REQUIRE(conn.client_id(id));
  zhandle_t* other = zookeeper_init(zk.hosts().c_str(), nullptr, 2000, &id, nullptr, 0);
  REQUIRE(other != nullptr);
  REQUIRE(eventually([&] { return zoo_state(other) == ZOO_CONNECTED_STATE; }, 5s, 10ms));
  zookeeper_close(other);
}

struct ElectorProbe {
  std::atomic<int> elected{0}, revoked{0};
  std::unique_ptr<LeaderElector> elector;  // last: stopped before the counters go

  ElectorProbe(std::shared_ptr<ZkConnection> conn, std::string url)
      : elector(make_zk_elector(std::move(conn), std::move(url))) {
    elector->start([this] { ++elected; }, [this] { ++revoked; });
  }
};

}  // namespace epoch::test
