// Failover chaos: three epochd nodes on a real ZooKeeper and the fake Drove
// controller; topologies firing every 2 seconds with mixed overlap and
// catch-up policies; the leader is kill -9'd or stalled past its ZooKeeper
// session (SIGSTOP, then SIGCONT: a fenced ex-leader) at random moments —
// so at random points of the launch path — while Drove answers some calls
// with 5xx or slowly. Afterwards, from the run records and the fake's
// launch log: every nominal fire has exactly one run record, launched once
// on Drove (SUCCESSFUL or FAILED) or recorded MISSED/SKIPPED with a reason;
// no Drove task id was created twice; no run is left unfinished.
//
// CI runs a short version. The long one (200 topologies, 50 failovers):
//   EPOCH_CHAOS_TOPOLOGIES=200 EPOCH_CHAOS_ROUNDS=50 build/test/tests/epochd/epochd_chaos_test
// EPOCH_CHAOS_SEED repeats a run's random choices (the seed is printed);
// EPOCH_CHAOS_KEEP=1 keeps the nodes' directories (debug logs) for a look.
#include <doctest/doctest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "cluster.h"
#include "daemon_process.h"
#include "fake_drove_process.h"
#include "http_client.h"
#include "zk_server.h"

namespace json = boost::json;
using epoch::test::DaemonProcess;
using epoch::test::eventually;
using epoch::test::FakeDroveProcess;
using epoch::test::http_call;
using epoch::test::ZkServer;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kPeriodMs = 2000;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// Three nodes with the Drove executor on one fake Drove controller.
struct Chaos : epoch::test::Cluster {
  FakeDroveProcess drove{FAKE_DROVE_BINARY, 1, {"--cores", "100000", "--memory-mb", "100000000"}};

  Chaos()
      : epoch::test::Cluster(EPOCHD_BINARY, "epochd-chaos", 0, {},
                             std::getenv("EPOCH_CHAOS_KEEP") != nullptr) {
    args.insert(args.end(),
                {"--retention-runs", "100000", "--executor", "drove", "--drove-endpoints",
                 drove.endpoints(), "--drove-app-name", "epoch-chaos", "--drove-poll-interval",
                 "500 ms", "--drove-operation-timeout", "1 second", "--drove-attempts", "3"});
    if (keep) args.insert(args.end(), {"--log-level", "debug"});
    for (std::size_t i = 0; i < 3; ++i)
      start(i);
  }
  ~Chaos() { stop_all(); }  // the nodes before the fake Drove

  json::array runs(std::size_t via, const std::string& id) const {
    const auto r = http_call(port(via), "GET", "/apis/v1/topologies/" + id + "/runs", "", {}, 10s);
    REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
    return json::parse(r.body).at("data").as_array();
  }
};

json::object topology(const std::string& name, const std::string& overlap,
                      const std::string& catch_up, int run_ms) {
  json::object task = {{"type", "CONTAINER_EXECUTION"},
                       {"taskName", "main"},
                       {"executable",
                        {{"type", "DOCKER"},
                         {"url", "docker.io/library/busybox:1.36"},
                         {"dockerPullTimeout", "120 seconds"}}},
                       {"resources", json::array{{{"type", "CPU"}, {"count", 1}},
                                                 {{"type", "MEMORY"}, {"sizeInMB", 128}}}},
                       {"env", {{"DROVE_FAKE", "run=" + std::to_string(run_ms)}}}};
  json::object overlap_policy = {{"mode", overlap}};
  if (overlap == "ALLOW") overlap_policy["maxConcurrent"] = 2;
  return {{"name", name},
          {"task", std::move(task)},
          {"trigger", {{"type", "CRON"}, {"timeSpec", "0/2 * * ? * *"}}},
          {"policies",
           {{"overlap", std::move(overlap_policy)},
            {"catchUp", {{"mode", catch_up}, {"window", "10 minutes"}, {"maxRuns", 100}}}}}};
}

}  // namespace

TEST_CASE(
    "chaos: leader killed or expired at random while Drove fails; one launch or one record "
    "per fire") {
  const int topologies = env_int("EPOCH_CHAOS_TOPOLOGIES", 24);
  const int rounds = env_int("EPOCH_CHAOS_ROUNDS", 4);
  const unsigned seed = static_cast<unsigned>(env_int("EPOCH_CHAOS_SEED", std::random_device{}()));
  MESSAGE("chaos: " << topologies << " topologies, " << rounds << " failovers, seed " << seed);
  std::mt19937 rng(seed);
  Chaos c;
  std::size_t leader = c.wait_leader();
  const char* overlaps[] = {"SERIAL", "FORBID", "ALLOW", "REPLACE"};
  const char* catch_ups[] = {"NONE", "LATEST", "ALL"};
  for (int i = 0; i < topologies; ++i) {
    // Some runs outlast the period, so overlap rules are exercised too.
    const int run_ms = i % 5 == 0 ? 2600 : 200 + 100 * (i % 7);
    const auto t = topology("c" + std::to_string(i), overlaps[i % 4], catch_ups[i % 3], run_ms);
    const auto r = http_call(c.port(leader), "POST", "/apis/v1/topologies", json::serialize(t),
                             {{"Content-Type", "application/json"}}, 10s);
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  std::this_thread::sleep_for(4s);

  int kills = 0, expiries = 0;
  for (int round = 0; round < rounds; ++round) {
    // Drove misbehaves now and then: 5xx answers, or slow ones.
    switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
      case 0:
        c.drove.fault("status500=" + std::to_string(std::uniform_int_distribution<int>(1, 6)(rng)));
        break;
      case 1:
        c.drove.fault("delay=700");
        break;
      default:
        c.drove.fault("delay=0");
        break;
    }
    // A random moment within the 2 s period: somewhere on the launch path.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 2300)(rng)));
    leader = c.wait_leader();
    if (round % 2 == 0) {  // alternately: kill -9, then a session expiry
      ++kills;
      c.nodes[leader]->kill9();
      c.nodes[leader].reset();
      c.start(leader);  // it comes back as a new process
    } else {
      ++expiries;
      ::kill(c.nodes[leader]->pid(), SIGSTOP);
      std::this_thread::sleep_for(3200ms);  // past the 2 s session
      ::kill(c.nodes[leader]->pid(), SIGCONT);
    }
    const std::size_t next = c.wait_leader();
    CHECK_MESSAGE(next != leader, "round " << round << ": the leader did not change");
    leader = next;
  }
  c.drove.fault("delay=0");
  std::this_thread::sleep_for(3s);

  // Pause everything and let the last runs finish.
  for (int i = 0; i < topologies; ++i) {
    const auto r = http_call(c.port(leader), "PUT",
                             "/apis/v1/topologies/c" + std::to_string(i) + "/pause", "", {}, 10s);
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  std::vector<std::string> unfinished;
  const bool settled = eventually(
      [&] {
        unfinished.clear();
        for (int i = 0; i < topologies; ++i) {
          const auto r = http_call(
              c.port(leader), "GET",
              "/apis/v1/topologies/c" + std::to_string(i) + "/runs?state=RUNNING", "", {}, 10s);
          if (r.status != 200) return false;
          const json::value body = json::parse(r.body);  // (not a temporary: the loop keeps it)
          for (const auto& v : body.at("data").as_array())
            unfinished.push_back(json::serialize(v));
        }
        return unfinished.empty();
      },
      120s, 1000ms);
  for (const std::string& u : unfinished)
    MESSAGE("still running: " << u);
  REQUIRE_MESSAGE(settled, unfinished.size() << " runs did not finish");

  // The invariants.
  const auto accepted = c.drove.accepted();
  int created_twice = 0;
  for (const auto& [id, n] : accepted) {
    if (n != 1) ++created_twice;
    CHECK_MESSAGE(n == 1, "Drove task " << id << " created " << n << " times");
  }
  int fires = 0, launched = 0, succeeded = 0, failed = 0, missed = 0, skipped = 0, gaps = 0,
      replaced_unlaunched = 0;
  std::set<std::string> run_tasks;
  for (int i = 0; i < topologies; ++i) {
    const std::string id = "c" + std::to_string(i);
    std::set<std::int64_t> nominal;
    for (const auto& v : c.runs(leader, id)) {
      const auto& r = v.as_object();
      INFO(json::serialize(r));
      REQUIRE(r.at("runType").as_string() == "SCHEDULED");
      const std::string state(r.at("state").as_string());
      const std::int64_t fire = r.at("scheduledTime").as_int64();
      CHECK(fire % kPeriodMs == 0);
      CHECK_MESSAGE(nominal.insert(fire).second, "two records for one fire of " << id);
      ++fires;
      const std::string task_id(r.at("tasks").at("main").at("taskId").as_string());
      const std::string reason =
          r.contains("reason") ? std::string(r.at("reason").as_string()) : "";
      if (state == "FAILED" && accepted.count(task_id) == 0 &&
          (reason.rfind("replaced by run ", 0) == 0 ||
           reason.find("killed in case an earlier leader launched it") != std::string::npos)) {
        // Recovered by a new leader before it launched, then replaced or
        // expired in the queue: the old leader may have launched it, so the
        // new one killed it in case and recorded it failed, with the
        // reason. Drove never created it.
        ++replaced_unlaunched;
      } else if (state == "SUCCESSFUL" || state == "FAILED") {
        ++launched;
        ++(state == "SUCCESSFUL" ? succeeded : failed);
        run_tasks.insert(task_id);
        CHECK_MESSAGE(accepted.count(task_id) == 1, "run " << task_id << " never reached Drove");
      } else {
        CHECK_MESSAGE((state == "MISSED" || state == "SKIPPED"), "unfinished run: " << state);
        CHECK_FALSE(r.at("reason").as_string().empty());
        CHECK_MESSAGE(accepted.count(task_id) == 0, "a " << state << " run was launched");
        ++(state == "MISSED" ? missed : skipped);
      }
    }
    REQUIRE(!nominal.empty());
    const auto expected = (*nominal.rbegin() - *nominal.begin()) / kPeriodMs + 1;
    gaps += static_cast<int>(expected - static_cast<std::int64_t>(nominal.size()));
    CHECK_MESSAGE(nominal.size() == static_cast<std::size_t>(expected),
                  id << ": a nominal fire has no record");
  }
  // Every task Drove created belongs to a recorded run.
  for (const auto& [task, n] : accepted)
    CHECK_MESSAGE(run_tasks.count(task) == 1, "Drove task " << task << " has no run record");
  MESSAGE("chaos: " << kills << " kill -9, " << expiries << " session expiries; " << fires
                    << " nominal fires: " << launched << " launched once (" << succeeded
                    << " successful, " << failed << " failed), " << missed << " MISSED, " << skipped
                    << " SKIPPED, " << replaced_unlaunched
                    << " recovered then replaced before launch; " << accepted.size()
                    << " Drove tasks created, " << created_twice << " twice; " << gaps
                    << " fires without a record");
}
