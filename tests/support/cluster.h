// The cluster fixture of the cluster and chaos tests: a real ZooKeeper and n
// epochd nodes on it, each with its own home directory under one temporary
// directory; nodes can be killed (reset) and started again. Header-only: it
// reports through doctest.
#pragma once

#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon_process.h"
#include "http_client.h"
#include "zk_server.h"

namespace epoch::test {

struct Cluster {
  ZkServer zk;
  std::string dir;
  std::vector<std::string> args;  // every node's command line
  std::vector<std::unique_ptr<DaemonProcess>> nodes;
  bool keep = false;  // leave `dir` (the nodes' logs) for a look

  // `n` nodes of `binary` with the ZooKeeper store, short session and
  // operation timeouts, `extra` arguments after the common ones. With n = 0
  // the caller adds to `args` (paths under `dir`) and start()s the nodes.
  Cluster(const std::string& binary, const std::string& name, int n,
          const std::vector<std::string>& extra = {}, bool keep_dir = false)
      : dir(make_temp_dir(name)), keep(keep_dir), binary_(binary) {
    using namespace std::chrono_literals;
    args = {"--store",
            "zookeeper",
            "--zk-connect",
            zk.hosts(),
            "--zk-session-timeout",
            "2 seconds",
            "--zk-operation-timeout",
            "1 second",
            "--proxy-timeout",
            "5 seconds"};
    args.insert(args.end(), extra.begin(), extra.end());
    if (keep) MESSAGE("cluster: keeping " << dir);
    for (int i = 0; i < n; ++i)
      start(static_cast<std::size_t>(i));
  }
  ~Cluster() {
    stop_all();
    std::error_code ec;
    if (!keep) std::filesystem::remove_all(dir, ec);
  }
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Ends every node (a stopped one too).
  void stop_all() {
    for (auto& node : nodes)
      if (node) ::kill(node->pid(), SIGCONT);
    nodes.clear();
  }

  // Starts node i (again, after a reset).
  void start(std::size_t i) {
    const std::string home = dir + "/node" + std::to_string(i);
    std::filesystem::create_directories(home);
    if (nodes.size() <= i) nodes.resize(i + 1);
    nodes[i] = std::make_unique<DaemonProcess>(binary_, home, args);
  }

  bool alive(std::size_t i) const { return nodes[i] != nullptr; }
  std::uint16_t port(std::size_t i) const { return nodes[i]->port(); }

  // The node every live node names as leader, if they agree.
  std::optional<std::size_t> leader() const {
    std::vector<std::uint16_t> ports;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (!alive(i)) continue;
      ports.push_back(port(i));
      index.push_back(i);
    }
    const auto l = agreed_leader(ports);
    return l ? std::optional<std::size_t>(index[*l]) : std::nullopt;
  }

  // The agreed leader, waited for up to 30 s; fails the test (with each
  // node's answer and log) when there is none.
  std::size_t wait_leader() const {
    using namespace std::chrono_literals;
    std::optional<std::size_t> l;
    if (!eventually([&] { return (l = leader()).has_value(); }, 30s, 50ms)) {
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (!alive(i)) continue;
        const auto r = http_call(port(i), "GET", "/apis/housekeeping/v1/leader", "", {}, 2s);
        MESSAGE("node " << i << " port " << port(i) << ": " << r.status << " " << r.body << "\n"
                        << nodes[i]->log());
      }
      FAIL("no leader agreed on by every live node");
    }
    return *l;
  }

  std::size_t follower_of(std::size_t leader) const {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (alive(i) && i != leader) return i;
    FAIL("no follower");
    return 0;
  }

 private:
  std::string binary_;
};

}  // namespace epoch::test
