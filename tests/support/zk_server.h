// Test support: a real ZooKeeper server (Debian's `zookeeper` package,
// standalone) on a free loopback port with a temporary data directory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace epoch::test {

class ZkServer {
 public:
  // Starts the server and waits until it answers `ruok` (throws
  // std::runtime_error after 30 s). tickTime is 200 ms, so sessions of
  // 400 ms to 60 s can be negotiated.
  ZkServer();
  // Stops the server and removes its data directory.
  ~ZkServer();
  ZkServer(const ZkServer&) = delete;
  ZkServer& operator=(const ZkServer&) = delete;

  std::uint16_t port() const { return port_; }
  // "127.0.0.1:<port>", for ZkOptions::hosts and epochd --zk-hosts.
  std::string hosts() const;
  // Stops (SIGKILL, like a crash) and starts again on the same port and data.
  void restart();
  void stop();
  void start();

 private:
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace epoch::test
