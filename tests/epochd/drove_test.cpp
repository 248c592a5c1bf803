// epochd with the Drove executor against the fake Drove controller
// (tests/fakes/fake_drove), both as child processes over loopback: the
// create flow to a finished run, Drove's outcomes (exit codes, pull
// failure, LOST, a task that never appears), composite ALL/ANY, kill, the
// log link, retention deleting Drove tasks, the Drove leader switching
// mid-run, Drove failing at launch and mid-run, and an epochd restart that
// attaches to a running task (one create per task id).
#include <doctest/doctest.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "daemon_process.h"
#include "epoch/drove_executor.h"
#include "fake_drove_process.h"
#include "http_client.h"

namespace json = boost::json;
using epoch::test::busybox_launch;
using epoch::test::DaemonProcess;
using epoch::test::eventually;
using epoch::test::FakeDroveProcess;
using epoch::test::http_call;
using namespace std::chrono_literals;

namespace {

json::object container(const std::string& name, const std::string& script) {
  return {{"type", "CONTAINER_EXECUTION"},
          {"taskName", name},
          {"executable",
           {{"type", "DOCKER"},
            {"url", "docker.io/library/busybox:1.36"},
            {"dockerPullTimeout", "120 seconds"}}},
          {"resources",
           json::array{{{"type", "CPU"}, {"count", 1}}, {{"type", "MEMORY"}, {"sizeInMB", 128}}}},
          {"env", {{"DROVE_FAKE", script}}}};
}

json::object composite(const std::string& mode, json::array tasks) {
  return {{"type", "COMPOSITE"}, {"compositionType", mode}, {"tasks", std::move(tasks)}};
}

struct Setup {
  FakeDroveProcess drove;
  std::string dir = epoch::test::make_temp_dir("epochd-drove");
  std::unique_ptr<DaemonProcess> epochd;
  std::vector<std::string> args;

  explicit Setup(int controllers = 1, std::vector<std::string> extra = {},
                 std::vector<std::string> fake_args = {})
      : drove(FAKE_DROVE_BINARY, controllers, std::move(fake_args)) {
    args = {"--executor",
            "drove",
            "--drove-endpoints",
            drove.endpoints(),
            "--drove-app-name",
            "epoch",
            "--drove-poll-interval",
            "200 ms",
            "--drove-leader-check-interval",
            "200 ms",
            "--drove-attempts",
            "2",
            "--unknown-task-timeout",
            "3 seconds"};
    args.insert(args.end(), extra.begin(), extra.end());
    start();
  }
  ~Setup() {
    epochd.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  void start() { epochd = std::make_unique<DaemonProcess>(EPOCHD_BINARY, dir, args); }
  std::uint16_t port() const { return epochd->port(); }

  void create(const std::string& name, json::object task) const {
    json::object t{{"name", name},
                   {"task", std::move(task)},
                   {"trigger", {{"type", "CRON"}, {"timeSpec", "0 0 0 1 1 ? 2099"}}}};
    const auto r = http_call(port(), "POST", "/apis/v1/topologies", json::serialize(t),
                             {{"Content-Type", "application/json"}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  std::string run_now(const std::string& name) const {
    const auto r = http_call(port(), "PUT", "/apis/v1/topologies/" + name + "/run");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return std::string(json::parse(r.body).at("data").at("runId").as_string());
  }
  json::object run(const std::string& name, const std::string& id) const {
    const auto r = http_call(port(), "GET", "/apis/v1/topologies/" + name + "/runs/" + id);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return json::parse(r.body).at("data").as_object();
  }
  // Waits until the run is finished and returns it.
  json::object finished(const std::string& name, const std::string& id,
                        std::chrono::milliseconds limit = 20s) const {
    json::object out;
    REQUIRE_MESSAGE(eventually(
                        [&] {
                          out = run(name, id);
                          return out.at("state").as_string() != "RUNNING";
                        },
                        limit, 50ms),
                    json::serialize(out));
    return out;
  }
  bool task_in(const std::string& name, const std::string& id, const std::string& task,
               const char* state) const {
    return run(name, id).at("tasks").at(task).at("state").as_string() == state;
  }
};

std::string str(const json::value& v) {
  return std::string(v.as_string());
}

}  // namespace

TEST_CASE("Drove: create to a finished run; Drove's outcomes; composites; the log link") {
  Setup s;
  s.create("ok", container("main", "run=200"));
  s.create("bad", container("main", "run=100,exit=3"));
  s.create("pull", container("main", "pull-fail"));
  s.create("lost", container("main", "run=100,lost"));
  json::object huge = container("main", "run=100");
  huge["resources"] = json::array{{{"type", "CPU"}, {"count", 1000}}};
  s.create("huge", huge);
  s.create("all", composite("ALL", {container("a", "run=100"), container("b", "run=100,exit=2"),
                                    container("c", "run=100")}));
  s.create("any", composite("ANY", {container("a", "run=100,exit=1"), container("b", "run=100"),
                                    container("c", "run=100")}));
  const std::string ok = s.run_now("ok"), bad = s.run_now("bad"), pull = s.run_now("pull"),
                    lost = s.run_now("lost"), all = s.run_now("all"), any = s.run_now("any"),
                    too_big = s.run_now("huge");

  auto r = s.finished("ok", ok);
  CHECK(str(r.at("state")) == "COMPLETED");
  const auto& task = r.at("tasks").at("main");
  CHECK(str(task.at("state")) == "COMPLETED");
  CHECK(task.at("exitCode").as_int64() == 0);
  const std::string task_id = "ok-" + ok + "-main";
  CHECK(str(task.at("taskId")) == task_id);
  CHECK(str(task.at("upstreamId")) == task_id);
  // The log link points into the Drove UI of the leader.
  const auto log =
      http_call(s.port(), "GET", "/apis/v1/topologies/ok/runs/" + ok + "/tasks/main/log");
  CHECK(str(json::parse(log.body).at("data")) ==
        "http://127.0.0.1:" + std::to_string(s.drove.ports()[0]) + "/tasks/epoch/" + task_id);

  r = s.finished("bad", bad);
  CHECK(str(r.at("state")) == "FAILED");
  CHECK(str(r.at("tasks").at("main").at("errorMessage")) == "Task instance exited with status: 3");
  CHECK(r.at("tasks").at("main").at("exitCode").as_int64() == 3);
  // Epoch reported a failed image pull as success; here it fails.
  r = s.finished("pull", pull);
  CHECK(str(r.at("state")) == "FAILED");
  CHECK(str(r.at("tasks").at("main").at("errorMessage")).find("Error while pulling image") == 0);
  r = s.finished("lost", lost);
  CHECK(str(r.at("state")) == "FAILED");
  CHECK(str(r.at("tasks").at("main").at("errorMessage")) == "Instance lost");

  // Drove's refusal, in its words, fails the task at once.
  r = s.finished("huge", too_big);
  CHECK(str(r.at("state")) == "FAILED");
  const std::string refusal = str(r.at("tasks").at("main").at("errorMessage"));
  CHECK(refusal.rfind("Drove refused the task: Cluster does not have enough CPU. Required: 1000 "
                      "Available: ",
                      0) == 0);
  CHECK(refusal.substr(refusal.size() - 5) == "[400]");
  CHECK(str(r.at("tasks").at("main").at("upstreamId")) == "UNKNOWN");

  r = s.finished("all", all);
  CHECK(str(r.at("state")) == "FAILED");
  CHECK(str(r.at("tasks").at("a").at("state")) == "COMPLETED");
  CHECK(str(r.at("tasks").at("b").at("state")) == "FAILED");
  CHECK(str(r.at("tasks").at("c").at("state")) == "PENDING");
  r = s.finished("any", any);
  CHECK(str(r.at("state")) == "COMPLETED");
  CHECK(str(r.at("tasks").at("b").at("state")) == "COMPLETED");
  CHECK(str(r.at("tasks").at("c").at("state")) == "PENDING");
  // Exactly one create per launched task; none for the tasks never started.
  const auto accepted = s.drove.accepted();
  CHECK(accepted.at(task_id) == 1);
  CHECK(accepted.count("all-" + all + "-c") == 0);
  CHECK(accepted.count("any-" + any + "-c") == 0);
  for (const auto& [id, n] : accepted)
    CHECK_MESSAGE(n == 1, id);
}

TEST_CASE("Drove: kill a running task; a task Drove never shows is failed after the timeout") {
  Setup s;
  s.create("slow", container("main", "run=30000"));
  s.create("ghost", container("main", "never"));
  const std::string slow = s.run_now("slow");
  const std::string ghost = s.run_now("ghost");
  REQUIRE(eventually([&] { return s.task_in("slow", slow, "main", "RUNNING"); }, 10s));
  const auto k =
      http_call(s.port(), "POST", "/apis/v1/topologies/slow/runs/" + slow + "/tasks/main/kill");
  REQUIRE_MESSAGE(k.status == 200, k.body);
  auto r = s.finished("slow", slow);
  CHECK(str(r.at("state")) == "FAILED");
  CHECK(str(r.at("tasks").at("main").at("state")) == "CANCELLED");
  // Never polled forever: failed after --unknown-task-timeout (3 s).
  r = s.finished("ghost", ghost);
  CHECK(str(r.at("state")) == "FAILED");
  CHECK(str(r.at("tasks").at("main").at("errorMessage")).find("has not known task") !=
        std::string::npos);
}

TEST_CASE("Drove: a kill while the CREATE is retried or in flight: CANCELLED, nothing runs") {
  Setup s;
  s.create("t", container("main", "run=20000"));
  const auto id = [](const std::string& run) { return "t-" + run + "-main"; };
  // Drove answers 500 to everything: the CREATE is being retried.
  s.drove.fault("status500=100000");
  auto calls = s.drove.count("apiCalls");
  const std::string first = s.run_now("t");
  REQUIRE(eventually([&] { return s.drove.count("apiCalls") >= calls + 2; }, 10s));
  auto k = http_call(s.port(), "POST", "/apis/v1/topologies/t/runs/" + first + "/tasks/main/kill");
  CHECK_MESSAGE(k.status == 200, k.body);
  auto r = s.finished("t", first, 5s);
  CHECK(str(r.at("tasks").at("main").at("state")) == "CANCELLED");
  CHECK(str(r.at("tasks").at("main").at("errorMessage")) ==
        "killed before Drove accepted the task");
  s.drove.fault("status500=0");
  std::this_thread::sleep_for(1500ms);  // the retries would have created it by now
  CHECK(s.drove.accepted().count(id(first)) == 0);

  // Drove is slow: the kill arrives while the CREATE is on its way, which
  // then succeeds; the task it made is killed.
  s.drove.fault("delay=2500");
  calls = s.drove.count("apiCalls");
  const std::string second = s.run_now("t");
  REQUIRE(eventually([&] { return s.drove.count("apiCalls") > calls; }, 10s));
  k = http_call(s.port(), "POST", "/apis/v1/topologies/t/runs/" + second + "/tasks/main/kill", "",
                {}, 20s);
  CHECK_MESSAGE(k.status == 200, k.body);
  s.drove.fault("delay=0");
  r = s.finished("t", second, 10s);
  CHECK(str(r.at("tasks").at("main").at("state")) == "CANCELLED");
  CHECK(s.drove.accepted().at(id(second)) == 1);
}

TEST_CASE("Drove: refusals, give-ups and transient states say what happened") {
  {
    // A user Drove lets read but not operate: 403, in words.
    Setup s(1, {"--drove-username", "ro", "--drove-password", "pw"}, {"--user", "ro:pw:ro"});
    s.create("t", container("main", "run=100"));
    const auto r = s.finished("t", s.run_now("t"));
    CHECK(str(r.at("tasks").at("main").at("errorMessage")) ==
          "Drove refused the task: the Drove user may not operate tasks (403 Forbidden; it needs "
          "write access)");
  }
  {
    // Drove down for longer than the give-up time: the message says how long was tried.
    Setup s(1, {"--drove-launch-give-up", "2 seconds"});
    s.create("t", container("main", "run=100"));
    s.drove.fault("status500=100000");
    const auto r = s.finished("t", s.run_now("t"));
    const std::string why = str(r.at("tasks").at("main").at("errorMessage"));
    INFO(why);
    REQUIRE(why.rfind("Drove did not accept the task in ", 0) == 0);
    CHECK(std::stod(why.substr(33)) >= 2.0);
    CHECK(why.find(" s of trying (launch give-up 2 s): [500]") != std::string::npos);
  }
  {
    // Unknown to Drove for its first polls, then RUNNING: the word about
    // the unknown state goes with it.
    Setup s;
    s.create("t", container("main", "appear=1500,run=3000"));
    const std::string run = s.run_now("t");
    REQUIRE(eventually([&] { return s.task_in("t", run, "main", "UNKNOWN"); }, 10s));
    REQUIRE(eventually([&] { return s.task_in("t", run, "main", "RUNNING"); }, 10s));
    const auto task = s.run("t", run).at("tasks").at("main").as_object();
    const auto* message = task.if_contains("errorMessage");
    CHECK_MESSAGE((message == nullptr || message->is_null() || message->as_string().empty()),
                  json::serialize(task));
  }
}

TEST_CASE("Drove: the leader controller switches mid-run; Drove fails at launch and mid-run") {
  Setup s(2,
          {"--drove-username", "admin", "--drove-password", "s3cret", "--drove-operation-timeout",
           "1 second"},
          {"--user", "admin:s3cret:rw"});
  s.create("t", container("main", "run=2500"));
  const std::string first = s.run_now("t");
  REQUIRE(eventually([&] { return s.task_in("t", first, "main", "RUNNING"); }, 10s));
  s.drove.set_leader(1);  // controller 0 now answers "not the leader"
  auto r = s.finished("t", first);
  CHECK(str(r.at("state")) == "COMPLETED");
  // Down at launch: 5xx answers, then it recovers; the task is created once.
  s.drove.fault("status500=3");
  const std::string second = s.run_now("t");
  r = s.finished("t", second);
  CHECK(str(r.at("state")) == "COMPLETED");
  // Down mid-run: dropped connections while it runs.
  const std::string third = s.run_now("t");
  REQUIRE(eventually([&] { return s.task_in("t", third, "main", "RUNNING"); }, 10s));
  s.drove.fault("drop=6");
  r = s.finished("t", third);
  CHECK(str(r.at("state")) == "COMPLETED");
  // Slow answers, longer than the operation timeout, while a task runs: the
  // task shows UNKNOWN with the reason, and completes once Drove answers.
  const std::string fourth = s.run_now("t");
  REQUIRE(eventually([&] { return s.task_in("t", fourth, "main", "RUNNING"); }, 10s));
  s.drove.fault("delay=1500");
  REQUIRE(eventually([&] { return s.task_in("t", fourth, "main", "UNKNOWN"); }, 15s));
  const std::string why = str(s.run("t", fourth).at("tasks").at("main").at("errorMessage"));
  CHECK_MESSAGE(why.find("timed out") != std::string::npos, why);
  s.drove.fault("delay=0");
  r = s.finished("t", fourth);
  CHECK(str(r.at("state")) == "COMPLETED");
  const auto accepted = s.drove.accepted();
  for (const std::string& id : {first, second, third, fourth})
    CHECK(accepted.at("t-" + id + "-main") == 1);
}

TEST_CASE("Drove: an epochd restart (kill -9) while a task runs attaches to it") {
  Setup s;
  s.create("t", container("main", "run=4000"));
  const std::string id = s.run_now("t");
  REQUIRE(eventually([&] { return s.task_in("t", id, "main", "RUNNING"); }, 10s));
  s.epochd->kill9();
  s.start();
  const auto r = s.finished("t", id);
  CHECK(str(r.at("state")) == "COMPLETED");
  CHECK(s.drove.accepted().at("t-" + id + "-main") == 1);
}

TEST_CASE("Drove: retention removes old runs' Drove tasks") {
  Setup s(1, {"--retention-runs", "1", "--retention-interval", "1 second"});
  s.create("t", container("main", "run=50"));
  // Drove's first two DELETEs delete nothing: they are tried again.
  s.drove.fault("deletefalse=2");
  std::vector<std::string> runs;
  for (int i = 0; i < 3; ++i) {
    runs.push_back(s.run_now("t"));
    s.finished("t", runs.back());
  }
  const auto gone = [&](const std::string& run) {
    const auto r =
        http_call(s.drove.ports()[0], "GET", "/apis/v1/tasks/epoch/instances/t-" + run + "-main");
    return json::parse(r.body).at("status").as_string() == "FAILED";  // "No such task instance"
  };
  REQUIRE(eventually([&] { return gone(runs[0]) && gone(runs[1]); }, 20s));
  CHECK_FALSE(gone(runs[2]));
  CHECK(s.drove.count("deletes") >= 4);
  // A task Drove never deletes is logged, after three tries.
  s.drove.fault("deletefalse=1000");
  runs.push_back(s.run_now("t"));
  s.finished("t", runs.back());
  REQUIRE(eventually(
      [&] {
        return s.epochd->log().find("could not clean up a finished task in the executor") !=
               std::string::npos;
      },
      20s));
  const std::string log = s.epochd->log();
  CHECK(log.find("in 3 tries: Drove answered deleted: false") != std::string::npos);
}

TEST_CASE("Drove over HTTPS: verified against the configured CA; an unknown CA is refused") {
  const std::string dir = epoch::test::make_temp_dir("drove-tls");
  epoch::test::make_test_certificates(dir);
  FakeDroveProcess drove(FAKE_DROVE_BINARY, 1,
                         {"--tls-cert", dir + "/server.pem", "--tls-key", dir + "/server.key"});
  const std::string endpoint = "https://localhost:" + std::to_string(drove.ports()[0]);
  const auto daemon = [&](const std::string& home, std::vector<std::string> extra) {
    std::filesystem::create_directories(home);
    std::vector<std::string> args = {"--executor",
                                     "drove",
                                     "--drove-endpoints",
                                     endpoint,
                                     "--drove-app-name",
                                     "epoch",
                                     "--drove-poll-interval",
                                     "200 ms",
                                     "--drove-launch-give-up",
                                     "1 second",
                                     "--store",
                                     "memory"};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<DaemonProcess>(EPOCHD_BINARY, home, args);
  };
  const std::string topology = json::serialize(
      json::object{{"name", "tls"},
                   {"task", container("main", "run=100")},
                   {"trigger", {{"type", "CRON"}, {"timeSpec", "0 0 0 1 1 ? 2099"}}}});
  const auto run_once = [&](DaemonProcess& d) {
    REQUIRE(http_call(d.port(), "POST", "/apis/v1/topologies", topology,
                      {{"Content-Type", "application/json"}})
                .status == 200);
    const auto r = http_call(d.port(), "PUT", "/apis/v1/topologies/tls/run");
    const std::string id(json::parse(r.body).at("data").at("runId").as_string());
    json::object run;
    REQUIRE(eventually([&] {
      run = json::parse(http_call(d.port(), "GET", "/apis/v1/topologies/tls/runs/" + id).body)
                .at("data")
                .as_object();
      return run.at("state").as_string() != "RUNNING";
    }));
    return run;
  };
  {
    auto trusted = daemon(dir + "/trusted", {"--drove-ca-file", dir + "/ca.pem"});
    const auto run = run_once(*trusted);
    CHECK(str(run.at("state")) == "COMPLETED");
  }
  {
    auto untrusted = daemon(dir + "/untrusted", {});  // the system's CAs do not know ours
    const auto run = run_once(*untrusted);
    CHECK(str(run.at("state")) == "FAILED");
    CHECK(str(run.at("tasks").at("main").at("errorMessage")).find("certificate verify failed") !=
          std::string::npos);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("the fake controller speaks Drove: leadership, auth, validation, envelope") {
  FakeDroveProcess drove(FAKE_DROVE_BINARY, 2, {"--user", "rw:pw:rw", "--user", "ro:pw:ro"});
  const auto [leader, follower] = std::pair{drove.ports()[0], drove.ports()[1]};
  const std::vector<std::pair<std::string, std::string>> rw = {{"Authorization", "Basic cnc6cHc="}};
  const std::vector<std::pair<std::string, std::string>> ro = {{"Authorization", "Basic cm86cHc="}};
  auto r = http_call(leader, "GET", "/apis/v1/ping", "", rw);
  CHECK(r.body == R"({"status":"SUCCESS","data":"pong","message":"success"})");
  r = http_call(follower, "GET", "/apis/v1/ping", "", rw);
  CHECK(r.status == 400);
  CHECK(r.body == R"({"status":"FAILED","message":"This node is not the leader controller"})");
  r = http_call(leader, "GET", "/apis/v1/ping");
  CHECK(r.status == 401);
  CHECK(r.header("www-authenticate") == R"(Basic realm="realm")");
  const std::string op = json::serialize(json::object{
      {"type", "CREATE"},
      {"spec", {{"sourceAppName", "epoch"}, {"taskId", "bad id!"}, {"resources", json::array{}}}},
      {"opSpec", {{"timeout", "300 seconds"}, {"parallelism", 1}, {"failureStrategy", "STOP"}}}});
  r = http_call(leader, "POST", "/apis/v1/tasks/operations", op, ro);
  CHECK(r.status == 403);
  r = http_call(leader, "POST", "/apis/v1/tasks/operations", op, rw);
  CHECK(r.status == 400);
  CHECK(r.body.find("Only characters, numbers, hyphen and underscore is allowed") !=
        std::string::npos);
  CHECK(r.body.find("Executable details is required") != std::string::npos);
  CHECK(r.body.find("CPU/Memory requirements must be specified") != std::string::npos);
  CHECK(r.body.find(R"("message":"Command validation failure")") != std::string::npos);
  r = http_call(leader, "GET", "/apis/v1/tasks/epoch/instances/nope", "", rw);
  CHECK(r.status == 200);
  CHECK(r.body == R"({"status":"FAILED","message":"No such task instance epoch/nope"})");
  r = http_call(leader, "DELETE", "/apis/v1/tasks/epoch/instances/nope", "", rw);
  CHECK(r.body == R"({"status":"SUCCESS","data":{"deleted":true},"message":"success"})");
  r = http_call(
      leader, "POST", "/apis/v1/tasks/operations",
      R"({"type":"KILL","sourceAppName":"epoch","taskId":"nope","opSpec":{"timeout":"1 second","parallelism":1,"failureStrategy":"STOP"}})",
      rw);
  CHECK(r.status == 400);
  CHECK(r.body.find("Either task does not exist or has already finished for epoch/nope") !=
        std::string::npos);
}

TEST_CASE(
    "DroveExecutor: a kill waiting on a CREATE retry is answered when the launch is detached") {
  FakeDroveProcess drove(FAKE_DROVE_BINARY, 1);
  drove.fault("status500=100000");  // the CREATE is retried until the give-up
  epoch::DroveExecutorOptions o;
  o.endpoints = {drove.endpoints()};
  o.app_name = "epoch";
  o.max_attempts = 1;
  o.retry_backoff = 50ms;
  auto made = epoch::make_drove_executor(o);
  REQUIRE(made.ok());
  epoch::Executor& ex = **made;
  const epoch::TaskLaunch l = busybox_launch("detached");
  std::atomic<int> reports{0};
  std::atomic<bool> cancelled{false};
  ex.launch(l, [&](const epoch::TaskUpdate& u) {
    ++reports;
    if (u.state == epoch::TaskState::kCancelled) cancelled = true;
  });
  const auto calls = drove.count("apiCalls");
  REQUIRE(eventually([&] { return drove.count("apiCalls") > calls; }, 10s));
  std::mutex mu;
  std::optional<epoch::Status> answer;
  ex.kill(l.task_id, [&](epoch::Status s) {
    std::lock_guard lock(mu);
    answer = std::move(s);
  });
  ex.detach(l.task_id);
  REQUIRE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return answer.has_value();
      },
      10s));
  std::lock_guard lock(mu);
  INFO(answer->message());
  if (answer->ok()) {
    // The create loop saw the kill between two attempts, before the detach:
    // it ended the task CANCELLED itself.
    CHECK(eventually([&] { return cancelled.load(); }, 10s));
  } else {
    // The detach came first: it answered the kill.
    CHECK(answer->code() == epoch::StatusCode::kUnavailable);
    CHECK(answer->message().find("the kill was not carried out") != std::string::npos);
    CHECK(reports == 0);  // a detached launch reports nothing
  }
}

TEST_CASE("DroveExecutor: a CREATE being retried holds no worker between its tries") {
  FakeDroveProcess drove(FAKE_DROVE_BINARY, 1);
  drove.fault("status500=100000");  // every call fails: the CREATE is retried
  epoch::DroveExecutorOptions o;
  o.endpoints = {drove.endpoints()};
  o.app_name = "epoch";
  o.workers = 1;  // the one worker must stay free between the CREATE's tries
  o.max_attempts = 1;
  o.retry_backoff = 2s;
  o.launch_give_up = 60s;
  auto made = epoch::make_drove_executor(o);
  REQUIRE(made.ok());
  epoch::Executor& ex = **made;
  const epoch::TaskLaunch l = busybox_launch("stuck");
  ex.launch(l, [](const epoch::TaskUpdate&) {});
  const auto calls = drove.count("apiCalls");
  REQUIRE(eventually([&] { return drove.count("apiCalls") > calls; }, 10s));
  // The CREATE failed once and waits 2 s, then 4 s... A kill of another
  // task is answered meanwhile (Drove's 500, in words), long before the
  // CREATE gives up: before, it waited behind the retries for a minute.
  std::mutex mu;
  std::vector<epoch::Status> answers;
  for (int i = 0; i < 3; ++i) {
    ex.kill("other-" + std::to_string(i), [&](epoch::Status s) {
      std::lock_guard lock(mu);
      answers.push_back(std::move(s));
    });
  }
  REQUIRE(eventually(
      [&] {
        std::lock_guard lock(mu);
        return answers.size() == 3;
      },
      10s));
  std::lock_guard lock(mu);
  for (const epoch::Status& s : answers)
    CHECK_FALSE(s.ok());
}
