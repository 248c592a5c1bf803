// Webhook notifications from a real epochd to a real HTTP receiver (Python's
// standard library, started by the test): every event type, the HMAC
// signature, retries after the receiver fails, order per run, and a receiver
// that hangs without delaying any run.
#include <doctest/doctest.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "daemon_process.h"
#include "http_client.h"

namespace json = boost::json;
using epoch::test::DaemonProcess;
using epoch::test::eventually;
using epoch::test::http_call;
using namespace std::chrono_literals;

namespace {

struct Receiver {
  std::string dir;
  pid_t pid = -1;
  std::uint16_t port = 0;
  Receiver(const std::string& d, int fail_first, bool hang) : dir(d) {
    std::vector<std::string> args = {EPOCH_SOURCE_DIR "/tests/epochd/webhook_receiver.py",
                                     dir + "/port", dir + "/hooks.jsonl",
                                     std::to_string(fail_first)};
    if (hang) args.push_back("hang");
    pid = epoch::test::spawn_process("python3", args, "", dir + "/receiver.out",
                                     dir + "/receiver.out");
    REQUIRE(eventually([&] { return std::filesystem::exists(dir + "/port"); }, 10s));
    std::ifstream(dir + "/port") >> port;
  }
  ~Receiver() {
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
  }
  std::vector<json::object> hooks() const {
    std::vector<json::object> out;
    std::ifstream in(dir + "/hooks.jsonl");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(json::parse(line).as_object());
    return out;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hook"; }
};

std::string hmac_hex(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string out;
  char b[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", mac[i]);
    out += b;
  }
  return out;
}

std::string topology(const std::string& name, const std::string& script, const std::string& cron,
                     const std::string& policies = "") {
  return R"({"name":")" + name +
         R"(","task":{"type":"PROCESS","taskName":"main","command":"/bin/sh","args":["-c",")" +
         script + R"("]},"trigger":{"type":"CRON","timeSpec":")" + cron + R"("})" +
         (policies.empty() ? "" : R"(,"policies":)" + policies) + "}";
}

}  // namespace

TEST_CASE("webhooks: every event type, signed, retried, in order per run") {
  const std::string dir = epoch::test::make_temp_dir("epochd-webhooks");
  Receiver receiver(dir, /*fail_first=*/2, false);
  const std::string secret = "a shared secret for the receiver";
  std::ofstream(dir + "/secret") << secret << "\n";
  const std::vector<std::string> args = {
      "--webhook-urls", receiver.url(), "--webhook-secret-file", dir + "/secret",
      "--webhook-running-longer-than", "400 ms", "--webhook-attempts", "5"};
  std::filesystem::create_directories(dir + "/epochd");
  auto d = std::make_unique<DaemonProcess>(EPOCHD_BINARY, dir + "/epochd", args);
  const std::vector<std::pair<std::string, std::string>> json_type = {
      {"Content-Type", "application/json"}};
  const std::string never = "0 0 0 1 1 ? 2099";
  for (const std::string& body :
       {topology("ok", "true", never), topology("bad", "exit 3", never),
        topology("slow", "sleep 1.5", never),
        topology("limit", "sleep 20", never, R"({"timeout":"1 seconds"})"),
        topology("paused", "true", "* * * ? * *"), topology("tick", "true", "0/2 * * ? * *")}) {
    REQUIRE(http_call(d->port(), "POST", "/apis/v1/topologies", body, json_type).status == 200);
  }
  REQUIRE(http_call(d->port(), "PUT", "/apis/v1/topologies/paused/pause").status == 200);
  for (const char* t : {"ok", "bad", "slow", "limit"})
    REQUIRE(http_call(d->port(), "PUT", std::string("/apis/v1/topologies/") + t + "/run").status ==
            200);
  const auto events_of = [&](const std::string& topology_id) {
    std::vector<std::string> out;
    for (const auto& h : receiver.hooks()) {
      const auto b = json::parse(h.at("body").as_string()).as_object();
      if (b.at("topologyId").as_string() == topology_id && h.at("n").as_int64() > 2)
        out.emplace_back(b.at("event").as_string());
    }
    return out;
  };
  const auto has = [&](const std::string& t, const std::string& e) {
    const auto v = events_of(t);
    return std::find(v.begin(), v.end(), e) != v.end();
  };
  REQUIRE(eventually([&] {
    return has("ok", "RUN_SUCCEEDED") && has("bad", "RUN_FAILED") &&
           has("slow", "RUN_SUCCEEDED") && has("limit", "RUN_TIMED_OUT") &&
           has("paused", "RUN_SKIPPED") && has("tick", "RUN_SUCCEEDED");
  }, 30s, 100ms));
  // A run past --webhook-running-longer-than is reported first, then its end.
  CHECK(events_of("slow") == std::vector<std::string>{"RUN_RUNNING_LONG", "RUN_SUCCEEDED"});
  // Down for a while: the fires in between are MISSED, and said so.
  CHECK(d->terminate() == 0);
  std::this_thread::sleep_for(4500ms);
  d = std::make_unique<DaemonProcess>(EPOCHD_BINARY, dir + "/epochd", args);
  REQUIRE(eventually([&] { return has("tick", "RUN_MISSED"); }, 20s, 100ms));

  // Every delivery is signed; the first was retried (the receiver failed
  // twice) under one delivery id.
  const auto hooks = receiver.hooks();
  std::map<std::string, int> tries;
  for (const auto& h : hooks) {
    const auto& headers = h.at("headers").as_object();
    const std::string body(h.at("body").as_string());
    CHECK(headers.at("x-epoch-signature").as_string() == "sha256=" + hmac_hex(secret, body));
    CHECK(headers.at("content-type").as_string() == "application/json");
    const auto b = json::parse(body).as_object();
    CHECK(headers.at("x-epoch-event").as_string() == b.at("event").as_string());
    CHECK(headers.at("x-epoch-delivery").as_string() == b.at("id").as_string());
    ++tries[std::string(b.at("id").as_string())];
  }
  const std::string first(json::parse(hooks.front().at("body").as_string()).at("id").as_string());
  CHECK(tries.at(first) == 3);
  const auto metrics = http_call(d->port(), "GET", "/metrics").body;
  CHECK(metrics.find("epoch_notifications_delivered_total") != std::string::npos);
  d.reset();
  std::filesystem::remove_all(dir);
}

TEST_CASE("a webhook receiver that hangs does not delay runs") {
  const std::string dir = epoch::test::make_temp_dir("epochd-webhooks-hang");
  Receiver receiver(dir, 0, /*hang=*/true);
  std::filesystem::create_directories(dir + "/epochd");
  DaemonProcess d(EPOCHD_BINARY, dir + "/epochd",
                  {"--store", "memory", "--webhook-urls", receiver.url(), "--webhook-timeout",
                   "60 seconds"});
  REQUIRE(http_call(d.port(), "POST", "/apis/v1/topologies",
                    topology("tick", "true", "* * * ? * *"),
                    {{"Content-Type", "application/json"}})
              .status == 200);
  json::array runs;
  REQUIRE(eventually([&] {
    runs = json::parse(http_call(d.port(), "GET", "/apis/v1/topologies/tick/runs?state=SUCCESSFUL")
                           .body)
               .at("data")
               .as_array();
    return runs.size() >= 4;
  }, 20s, 100ms));
  // Each finished within a second of its nominal time, though no webhook
  // has been answered.
  for (const auto& r : runs) {
    const auto& task = r.at("tasks").at("main").as_object();
    CHECK(task.at("finished").as_int64() - r.at("scheduledTime").as_int64() < 1000);
  }
  CHECK(receiver.hooks().size() >= 1);
  std::filesystem::remove_all(dir);
}
