// The daemon made and stopped a thousand times in one process, with
// requests in flight and runs launching, so that the sanitizers see every
// teardown race of the whole daemon: HTTP server, front door, API, engine,
// local executor, store. The rule under test: run_daemon returns only when
// nothing of it runs any more, and every start serves. Also the Drove
// executor, made and destroyed against the fake Drove with calls in flight
// (the other components' loops are in tests/engine/lifecycle_test.cpp).
#include <doctest/doctest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "daemon.h"
#include "epoch/drove_executor.h"
#include "fake_drove_process.h"
#include "log.h"
#include "remove_tree.h"

namespace fs = std::filesystem;
namespace ip = boost::asio::ip;

namespace {

std::string request(const std::string& method, const std::string& target,
                    const std::string& body = "") {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!body.empty()) {
    r +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return r + "\r\n" + body;
}

}  // namespace

TEST_CASE("the daemon started and stopped 1,000 times with requests and runs in flight") {
  const fs::path dir =
      fs::temp_directory_path() / ("epochd-lifecycle-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string help;
  auto config = epochd::load_config(
      {"--listen", "127.0.0.1", "--port", "0", "--store", "memory", "--executor", "local",
       "--work-dir", (dir / "tasks").string(), "--io-threads", "2", "--log-level", "warn"},
      [](const char*) -> const char* { return nullptr; }, help);
  REQUIRE(config.ok());
  REQUIRE(config->has_value());
  const std::string topology =
      R"({"name":"t","task":{"type":"PROCESS","taskName":"main","command":"/bin/true"},)"
      R"("trigger":{"type":"CRON","timeSpec":"* * * ? * *"}})";
  boost::asio::io_context client;
  int served = 0, stopped_cleanly = 0;
  for (int i = 0; i < 1000; ++i) {
    std::ostringstream log_text;
    epochd::Logger log(log_text, epochd::LogFormat::kText, epochd::LogLevel::kWarn);
    std::stop_source stop;
    std::promise<std::uint16_t> port;
    epochd::DaemonControl control;
    control.ready = [&port](std::uint16_t p) { port.set_value(p); };
    control.stop = stop.get_token();
    auto ended =
        std::async(std::launch::async, [&] { return epochd::run_daemon(**config, log, control); });
    auto bound = port.get_future();
    if (bound.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      stop.request_stop();
      FAIL("start " << i << " did not serve; its log:\n" << log_text.str());
    }
    ++served;
    // Requests sent and not read: a create, a run now (a fork), a list, a
    // health check; every other time a request cut off half way.
    std::vector<ip::tcp::socket> sockets;
    const ip::tcp::endpoint at(ip::make_address("127.0.0.1"), bound.get());
    const std::vector<std::string> requests = {
        request("POST", "/apis/v1/topologies", topology),
        request("PUT", "/apis/v1/topologies/t/run"),
        request("GET", "/apis/v1/topologies"),
        request("GET", "/healthcheck"),
    };
    for (const std::string& r : requests) {
      ip::tcp::socket s(client);
      s.connect(at);
      boost::asio::write(s, boost::asio::buffer(r));
      sockets.push_back(std::move(s));
    }
    if (i % 2 == 0) {
      ip::tcp::socket s(client);
      s.connect(at);
      boost::asio::write(s, boost::asio::buffer(std::string("GET /apis/v1/topolo")));
      sockets.push_back(std::move(s));
    }
    // Stopped at once, or once some answers are on their way.
    if (i % 3 == 1) std::this_thread::sleep_for(std::chrono::microseconds(500 * (i % 7)));
    stop.request_stop();
    REQUIRE(ended.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    if (ended.get() == 0) ++stopped_cleanly;
  }
  CHECK(served == 1000);
  CHECK(stopped_cleanly == 1000);
  // Runs launched by one daemon may still end after it stopped (they are
  // left running, as on a restart).
  CHECK(epoch::test::remove_tree_eventually(dir));
}

TEST_CASE(
    "a Drove executor made and destroyed 1,000 times with creates, polls and kills in flight") {
  // Each executor goes right after its launches (creates in flight) or a
  // few ms later (tasks RUNNING for 50 ms: polls in flight).
  epoch::test::FakeDroveProcess drove(
      FAKE_DROVE_BINARY, 1,
      {"--default-script", "run=50", "--cores", "100000", "--memory-mb", "100000000"});
  std::atomic<bool> destroyed{false};
  std::atomic<int> late{0}, updates{0};
  for (int i = 0; i < 1000; ++i) {
    destroyed = false;
    {
      epoch::DroveExecutorOptions o;
      o.endpoints = {drove.endpoints()};
      o.app_name = "epoch";
      o.poll_interval = std::chrono::milliseconds(2);
      o.operation_timeout = std::chrono::milliseconds(2000);
      o.workers = 2;
      auto ex = epoch::make_drove_executor(o);
      REQUIRE(ex.ok());
      for (int n = 0; n < 2; ++n) {
        const epoch::TaskLaunch l =
            epoch::test::busybox_launch("EIR-" + std::to_string(i) + "-" + std::to_string(n));
        (*ex)->launch(l, [&](const epoch::TaskUpdate&) {
          ++updates;
          if (destroyed) ++late;
        });
        if (n == 1 && i % 3 == 0) {
          (*ex)->kill(l.task_id, [&](epoch::Status) {
            if (destroyed) ++late;
          });
        }
      }
      if (i % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(i % 10));
    }
    destroyed = true;
  }
  MESSAGE(updates.load() << " task updates before their executor was destroyed; "
                         << drove.accepted().size() << " tasks created on Drove");
  CHECK(updates.load() > 0);
  CHECK(late.load() == 0);
}
