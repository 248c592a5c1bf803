// epochd serving HTTPS (TLS 1.2+) with a certificate from a CA the test
// makes; clients checked with curl. In a cluster, a follower forwards to an
// https leader only when the leader's certificate verifies.
#include <doctest/doctest.h>

#include <filesystem>

#include "daemon_process.h"
#include "run_process.h"
#include "zk_server.h"

using epoch::test::DaemonProcess;
using epoch::test::eventually;
using epoch::test::run_process;

namespace {

epoch::test::ProcessResult curl(std::vector<std::string> args) {
  args.insert(args.begin(), {"/usr/bin/curl", "-s", "-S", "--max-time", "10", "-w",
                             "\\n%{http_code}"});
  return run_process(args);
}

std::string status_of(const epoch::test::ProcessResult& r) {
  return r.out.substr(r.out.rfind('\n') + 1);
}

}  // namespace

TEST_CASE("HTTPS: served with TLS 1.2+, verified by clients against the CA") {
  const std::string dir = epoch::test::make_temp_dir("epochd-tls");
  epoch::test::make_test_certificates(dir);
  DaemonProcess d(EPOCHD_BINARY, dir,
                  {"--store", "memory", "--tls-cert", dir + "/server.pem", "--tls-key",
                   dir + "/server.key"});
  CHECK(d.log().find("url=https://127.0.0.1:") != std::string::npos);
  const std::string url = "https://localhost:" + std::to_string(d.port());
  auto r = curl({"--cacert", dir + "/ca.pem", url + "/apis/v1/topologies"});
  CHECK(status_of(r) == "200");
  CHECK(r.out.find("\"status\":\"SUCCESS\"") != std::string::npos);
  r = curl({url + "/apis/v1/topologies"});  // the system's CAs do not know ours
  CHECK(r.exit_code != 0);
  r = curl({"--cacert", dir + "/ca.pem", "--tlsv1.1", "--tls-max", "1.1", url + "/healthcheck"});
  CHECK(r.exit_code != 0);  // TLS 1.1 is refused
  r = curl({"http://127.0.0.1:" + std::to_string(d.port()) + "/healthcheck"});
  CHECK(status_of(r) != "200");  // no plain HTTP on the TLS port
  // A bad certificate stops start-up with the reason.
  const auto bad = run_process({EPOCHD_BINARY, "--store", "memory", "--port", "0", "--tls-cert",
                                dir + "/missing.pem", "--tls-key", dir + "/server.key"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("missing.pem") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("HTTPS cluster: a follower forwards to an https leader it can verify") {
  epoch::test::ZkServer zk;
  const std::string dir = epoch::test::make_temp_dir("epochd-tls-cluster");
  epoch::test::make_test_certificates(dir);
  const auto node = [&](const std::string& name, std::vector<std::string> extra) {
    std::filesystem::create_directories(dir + "/" + name);
    std::vector<std::string> args{"--store", "zookeeper", "--zk-connect", zk.hosts(),
                                  "--zk-session-timeout", "2 seconds", "--tls-cert",
                                  dir + "/server.pem", "--tls-key", dir + "/server.key",
                                  "--work-dir", dir + "/tasks"};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<DaemonProcess>(EPOCHD_BINARY, dir + "/" + name, args);
  };
  auto leader = node("leader", {"--tls-ca-file", dir + "/ca.pem"});
  const std::string ca = dir + "/ca.pem";
  const auto leader_known = [&](std::uint16_t port) {
    return eventually([&] {
      return curl({"--cacert", ca,
                   "https://localhost:" + std::to_string(port) + "/apis/housekeeping/v1/leader"})
                 .out.find(std::to_string(leader->port())) != std::string::npos;
    });
  };
  REQUIRE(leader_known(leader->port()));
  auto trusting = node("trusting", {"--tls-ca-file", ca});
  auto doubting = node("doubting", {});  // verifies against the system's CAs only
  REQUIRE(leader_known(trusting->port()));
  REQUIRE(leader_known(doubting->port()));
  const std::string body =
      R"({"name":"tls","task":{"type":"PROCESS","taskName":"main","command":"/bin/true"},)"
      R"("trigger":{"type":"CRON","timeSpec":"0 0 0 1 1 ? 2099"}})";
  auto r = curl({"--cacert", ca, "-X", "POST", "-H", "Content-Type: application/json", "-d", body,
                 "https://localhost:" + std::to_string(trusting->port()) + "/apis/v1/topologies"});
  CHECK(status_of(r) == "200");
  r = curl({"--cacert", ca,
            "https://localhost:" + std::to_string(doubting->port()) + "/apis/v1/topologies/tls"});
  CHECK(status_of(r) == "502");
  CHECK(r.out.find("TLS handshake failed") != std::string::npos);
  std::filesystem::remove_all(dir);
}
