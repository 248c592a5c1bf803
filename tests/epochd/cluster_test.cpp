// Three epochd nodes on a real ZooKeeper (started by the test): one leader,
// followers forwarding every request, 503 when there is no leader; and a
// failover scenario — kill -9 of the leader, a leader stalled past its
// session (SIGSTOP) and resumed, a ZooKeeper restart — while topologies
// fire every 2 seconds. Each task appends its task id to a launch log
// shared by all nodes (they share one local executor directory, so a new
// leader attaches to tasks the old one started). Afterwards every nominal
// fire has exactly one run record — SUCCESSFUL with exactly one launch, or
// MISSED/SKIPPED with a reason — and nothing is left running.
#include "cluster.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "../../libepoch/store/zk_connection.h"
#include "daemon_process.h"
#include "epoch_examples.h"
#include "http_client.h"
#include "zk_server.h"

namespace json = boost::json;
using epoch::test::DaemonProcess;
using epoch::test::eventually;
using epoch::test::http_call;
using epoch::test::ZkServer;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kPeriodMs = 2000;

// The nodes share one local executor directory (so a new leader attaches to
// the tasks the old one started) and keep 1,000 runs per topology.
struct Cluster : epoch::test::Cluster {
  explicit Cluster(int n, const std::vector<std::string>& extra = {})
      : epoch::test::Cluster(EPOCHD_BINARY, "epochd-cluster", 0) {
    args.insert(args.end(), {"--work-dir", dir + "/tasks", "--retention-runs", "1000"});
    args.insert(args.end(), extra.begin(), extra.end());
    for (int i = 0; i < n; ++i)
      start(static_cast<std::size_t>(i));
  }

  std::vector<std::string> launches() const {
    std::ifstream in(dir + "/launches.txt");
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(line);
    return out;
  }
};

json::value data_of(const epoch::test::HttpResult& r) {
  REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body << r.error);
  return json::parse(r.body).at("data");
}

std::string message_of(const epoch::test::HttpResult& r) {
  const auto v = json::parse(r.body);
  return std::string(v.at("message").as_string());
}

}  // namespace

TEST_CASE("three nodes: one leader, followers forward every request, 503 without a leader") {
  Cluster c(3);
  const std::size_t leader = c.wait_leader();
  const std::size_t f1 = c.follower_of(leader);
  std::size_t f2 = 0;
  for (std::size_t i = 0; i < 3; ++i)
    if (i != leader && i != f1) f2 = i;
  const std::string body =
      R"({"name":"routed","task":{"type":"PROCESS","taskName":"main","command":"/bin/true"},)"
      R"("trigger":{"type":"CRON","timeSpec":"0 0 0 1 1 ? 2099"}})";
  // Writes and reads through followers, answered by the leader.
  const auto created = http_call(c.port(f1), "POST", "/apis/v1/topologies", body,
                                 {{"Content-Type", "application/json"}});
  CHECK(data_of(created).at("id").as_string() == "routed");
  CHECK(
      data_of(http_call(c.port(f2), "GET", "/apis/v1/topologies/routed")).at("state").as_string() ==
      "ACTIVE");
  const auto paused = http_call(c.port(f2), "PUT", "/apis/v1/topologies/routed/pause");
  CHECK(data_of(paused).at("state").as_string() == "PAUSED");
  CHECK(data_of(http_call(c.port(leader), "GET", "/apis/v1/topologies/routed"))
            .at("state")
            .as_string() == "PAUSED");
  // The leader's answers come back unchanged, errors included.
  const auto bad = http_call(c.port(f1), "POST", "/apis/v1/topologies", "{not json",
                             {{"Content-Type", "application/json"}});
  CHECK(bad.status == 400);
  CHECK(json::parse(bad.body).at("status").as_string() == "FAILED");
  const auto missing = http_call(c.port(f2), "GET", "/apis/v1/topologies/nope/runs/ESR-x");
  const auto direct = http_call(c.port(leader), "GET", "/apis/v1/topologies/nope/runs/ESR-x");
  CHECK(missing.status == direct.status);
  CHECK(missing.body == direct.body);
  // The follower counts what it relayed.
  const auto metrics = http_call(c.port(f1), "GET", "/metrics");
  CHECK(metrics.body.find(R"(route="forwarded",method="POST",status="200")") != std::string::npos);
  // Health and the leader endpoint are answered by each node itself.
  CHECK(http_call(c.port(f1), "GET", "/healthcheck").status == 200);
  const auto who = http_call(c.port(f1), "GET", "/apis/housekeeping/v1/leader");
  CHECK(json::parse(who.body).at("leader").as_string() ==
        "http://127.0.0.1:" + std::to_string(c.port(leader)));

  // No ZooKeeper, no leader: a clear 503 in Epoch's envelope.
  c.zk.stop();
  epoch::test::HttpResult none;
  REQUIRE(eventually([&] {
    none = http_call(c.port(f1), "GET", "/apis/v1/topologies/routed");
    // (Forwarded to a leader that has just lost ZooKeeper: also 503.)
    return none.status == 503 && message_of(none) == "No leader found in epoch cluster";
  }));
  CHECK(eventually([&] {
    return http_call(c.port(leader), "GET", "/apis/v1/topologies/routed").status == 503;
  }));
  // ZooKeeper back: the cluster serves again.
  c.zk.start();
  REQUIRE(eventually(
      [&] { return http_call(c.port(f2), "GET", "/apis/v1/topologies/routed").status == 200; }, 30s,
      100ms));
}

TEST_CASE("failover while topologies fire every 2 s: one launch or one recorded miss per fire") {
  Cluster c(3);
  std::size_t leader = c.wait_leader();
  // Four topologies with different catch-up policies.
  const std::string script = "echo $EPOCH_TASK_ID >> " + c.dir + "/launches.txt; sleep 0.5";
  const char* modes[] = {"NONE", "LATEST", "ALL", "NONE"};
  for (int i = 0; i < 4; ++i) {
    json::object t;
    t["name"] = "f" + std::to_string(i);
    t["task"] = {{"type", "PROCESS"},
                 {"taskName", "main"},
                 {"command", "/bin/sh"},
                 {"args", json::array{"-c", json::value(script)}}};
    t["trigger"] = {{"type", "CRON"}, {"timeSpec", "0/2 * * ? * *"}};
    t["policies"] = {{"catchUp", {{"mode", modes[i]}, {"window", "5 minutes"}}}};
    const auto r = http_call(c.port(c.follower_of(leader)), "POST", "/apis/v1/topologies",
                             json::serialize(t), {{"Content-Type", "application/json"}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  const auto launched_more = [&](std::size_t n) {
    const std::size_t target = c.launches().size() + n;
    REQUIRE(eventually([&] { return c.launches().size() >= target; }, 30s, 50ms));
  };
  launched_more(8);

  // 1. kill -9 of the leader.
  c.nodes[leader]->kill9();
  c.nodes[leader].reset();
  const std::size_t second = c.wait_leader();
  CHECK(second != leader);
  launched_more(8);

  // 2. The leader stalls past its session timeout, then resumes: a fenced
  // ex-leader, which rejoins as a follower.
  ::kill(c.nodes[second]->pid(), SIGSTOP);
  std::this_thread::sleep_for(3500ms);
  ::kill(c.nodes[second]->pid(), SIGCONT);
  const std::size_t third = c.wait_leader();
  CHECK(third != second);
  launched_more(8);

  // 3. ZooKeeper restarts.
  c.zk.stop();
  std::this_thread::sleep_for(1000ms);
  c.zk.start();
  leader = c.wait_leader();
  launched_more(8);

  // Pause everything and let the last runs finish.
  for (int i = 0; i < 4; ++i) {
    const auto r =
        http_call(c.port(leader), "PUT", "/apis/v1/topologies/f" + std::to_string(i) + "/pause");
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  REQUIRE(eventually(
      [&] {
        for (int i = 0; i < 4; ++i) {
          const auto r =
              http_call(c.port(leader), "GET",
                        "/apis/v1/topologies/f" + std::to_string(i) + "/runs?state=RUNNING");
          if (r.status != 200 || !json::parse(r.body).at("data").as_array().empty()) return false;
        }
        return true;
      },
      30s, 100ms));

  // The invariants.
  const auto launched = c.launches();
  const std::set<std::string> unique(launched.begin(), launched.end());
  CHECK_MESSAGE(unique.size() == launched.size(), "a task was launched twice");
  std::set<std::string> successful;
  int fires = 0, missed = 0, skipped = 0, instant = 0;
  for (int i = 0; i < 4; ++i) {
    const std::string id = "f" + std::to_string(i);
    const json::value runs =
        data_of(http_call(c.port(leader), "GET", "/apis/v1/topologies/" + id + "/runs"));
    std::set<std::int64_t> nominal;
    for (const auto& v : runs.as_array()) {
      const auto& r = v.as_object();
      INFO(json::serialize(r));
      if (r.at("runType").as_string() != "SCHEDULED") {
        ++instant;
        continue;
      }
      const std::string state(r.at("state").as_string());
      const std::int64_t fire = r.at("scheduledTime").as_int64();
      CHECK(fire % kPeriodMs == 0);
      CHECK(nominal.insert(fire).second);
      ++fires;
      if (state == "SUCCESSFUL") {
        successful.insert(std::string(r.at("tasks").at("main").at("taskId").as_string()));
      } else {
        CHECK((state == "MISSED" || state == "SKIPPED"));
        CHECK_FALSE(r.at("reason").as_string().empty());
        ++(state == "MISSED" ? missed : skipped);
      }
    }
    // No nominal fire between the first and the last lacks its record.
    REQUIRE(!nominal.empty());
    CHECK(nominal.size() ==
          static_cast<std::size_t>((*nominal.rbegin() - *nominal.begin()) / kPeriodMs + 1));
  }
  CHECK(instant == 0);
  CHECK(successful == unique);
  MESSAGE(fires << " nominal fires across 4 topologies: " << successful.size() << " launched once, "
                << missed << " MISSED, " << skipped << " SKIPPED; " << launched.size()
                << " launches in the log");
}

TEST_CASE("Epoch-Java's ZooKeeper data, written as Curator does, is served through the API") {
  ZkServer zk;
  epoch::ZkOptions o;
  o.hosts = zk.hosts();
  o.name_space = "legacy";
  auto conn = *epoch::connect_zookeeper(o);
  REQUIRE(eventually([&] { return epoch::zk_connected(*conn); }));
  const std::string details = epoch::test::epoch_details_json("ACTIVE");
  const std::string run = epoch::test::epoch_run_json("SUCCESSFUL", "COMPLETED");
  for (const char* p :
       {"/legacy", "/legacy/topologies", "/legacy/runs", "/legacy/runs/daily-report"})
    REQUIRE(conn->create(p, "", ZOO_CONTAINER) == ZOK);
  REQUIRE(conn->create("/legacy/topologies/daily-report", details, 0) == ZOK);
  REQUIRE(conn->create("/legacy/runs/daily-report/ESR-2024-10-18-06-00-00-000", run, 0) == ZOK);

  const std::string home = epoch::test::make_temp_dir("epochd-legacy");
  DaemonProcess node(
      EPOCHD_BINARY, home,
      {"--store", "zookeeper", "--zk-connect", zk.hosts(), "--zk-namespace", "legacy",
       "--zk-session-timeout", "2 seconds", "--work-dir", home + "/tasks"});
  epoch::test::HttpResult got;
  REQUIRE(eventually([&] {
    got = http_call(node.port(), "GET", "/apis/v1/topologies/daily-report");
    return got.status == 200;
  }));
  const auto served = data_of(got).as_object();
  const auto stored = json::parse(details).as_object();
  CHECK(served.at("id") == stored.at("id"));
  CHECK(served.at("state") == stored.at("state"));
  CHECK(served.at("created") == stored.at("created"));
  CHECK(served.at("updated") == stored.at("updated"));
  CHECK(served.at("topology").at("task").at("executable").at("url") ==
        stored.at("topology").at("task").at("executable").at("url"));
  CHECK(served.contains("nextFireTime"));  // scheduled by the new leader
  const json::value runs =
      data_of(http_call(node.port(), "GET", "/apis/v1/topologies/daily-report/runs"));
  REQUIRE(runs.as_array().size() == 1);
  CHECK(runs.as_array()[0].at("runId").as_string() == "ESR-2024-10-18-06-00-00-000");
  CHECK(runs.as_array()[0].at("tasks").at("docker-task").at("state").as_string() == "COMPLETED");
  CHECK(data_of(http_call(node.port(), "GET", "/apis/v1/topologies")).as_array().size() == 1);
  std::error_code ec;
  std::filesystem::remove_all(home, ec);
}

TEST_CASE("credentials are forwarded through a follower; the leader decides") {
  // (READ_WRITE may create PROCESS tasks here: the operator said so.)
  Cluster c(2, {"--auth", "basic", "--auth-users", "w:w-pw:READ_WRITE,r:r-pw:READ_ONLY",
                "--host-exec-role", "READ_WRITE"});
  const std::size_t leader = c.wait_leader();
  const std::size_t follower = c.follower_of(leader);
  const std::string body =
      R"({"name":"auth","task":{"type":"PROCESS","taskName":"main","command":"/bin/true"},)"
      R"("trigger":{"type":"CRON","timeSpec":"0 0 0 1 1 ? 2099"}})";
  const auto as = [](const char* basic) {
    return std::vector<std::pair<std::string, std::string>>{{"Content-Type", "application/json"},
                                                            {"Authorization", basic}};
  };
  const auto none = http_call(c.port(follower), "POST", "/apis/v1/topologies", body,
                              {{"Content-Type", "application/json"}});
  CHECK(none.status == 401);
  CHECK(none.header("www-authenticate") == "Basic realm=\"epoch\"");
  // r:r-pw and w:w-pw
  CHECK(http_call(c.port(follower), "POST", "/apis/v1/topologies", body, as("Basic cjpyLXB3"))
            .status == 403);
  CHECK(http_call(c.port(follower), "POST", "/apis/v1/topologies", body, as("Basic dzp3LXB3"))
            .status == 200);
  CHECK(http_call(c.port(follower), "GET", "/apis/v1/topologies/auth", "", as("Basic cjpyLXB3"))
            .status == 200);
}

TEST_CASE("a follower relays leader answers up to --forward-body-limit, and says so beyond it") {
  Cluster c(2, {"--forward-body-limit", "2048"});
  const std::size_t leader = c.wait_leader();
  const std::size_t follower = c.follower_of(leader);
  const std::vector<std::pair<std::string, std::string>> json = {
      {"Content-Type", "application/json"}};
  for (int i = 0; i < 8; ++i) {
    const std::string body =
        R"({"name":"big-)" + std::to_string(i) +
        R"(","task":{"type":"PROCESS","taskName":"main","command":"/bin/true"},)"
        R"("trigger":{"type":"CRON","timeSpec":"0 0 0 1 1 ? 2099"}})";
    REQUIRE(http_call(c.port(follower), "POST", "/apis/v1/topologies", body, json).status == 200);
  }
  // One topology is small enough; the list of eight is not.
  CHECK(http_call(c.port(follower), "GET", "/apis/v1/topologies/big-0").status == 200);
  const auto list = http_call(c.port(follower), "GET", "/apis/v1/topologies");
  CHECK(list.status == 502);
  CHECK(list.body.find("--forward-body-limit") != std::string::npos);
  CHECK(http_call(c.port(leader), "GET", "/apis/v1/topologies").body.size() > 2048);
}
