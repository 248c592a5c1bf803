// epochd's REST API over real HTTP: the daemon runs as a child process on a
// free loopback port with its default SQLite store and local executor, in a
// directory of its own. Every endpoint, every kind of bad input, keep-alive
// and pipelining, graceful shutdown.
#include <doctest/doctest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "daemon_process.h"
#include "epoch_examples.h"
#include "http_client.h"

namespace json = boost::json;
using epoch::test::DaemonProcess;
using epoch::test::eventually;
using epoch::test::http_call;
using epoch::test::HttpResult;
using epoch::test::kEpochFullCreate;

namespace {

// The simple (UI) create request of §2.8, verbatim.
constexpr const char* kSimpleCreate =
    R"({"name":"daily-report","cron":"0 0 6 * * ?","docker":"docker.io/library/busybox:1.36","cpus":1,"memory":512,
 "notifyEmail":"oncall@example.com,dev@example.com","env":{"MODE":"daily"},
 "volumes":[{"pathOnHost":"/mnt/data","pathInContainer":"/data","mode":"READ_ONLY"}]})";

struct Daemon {
  std::string dir = epoch::test::make_temp_dir("epochd-http");
  DaemonProcess process;
  explicit Daemon(std::vector<std::string> args = {})
      : process(EPOCHD_BINARY, dir, std::move(args)) {}
  ~Daemon() {
    process.kill9();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  HttpResult call(const std::string& method, const std::string& target,
                  const std::string& body = "") {
    return http_call(process.port(), method, target, body);
  }
  // The parsed envelope of a call.
  json::object env(const std::string& method, const std::string& target,
                   const std::string& body = "", int expect_status = 200) {
    const HttpResult r = call(method, target, body);
    INFO(method << " " << target << " -> " << r.status << " " << r.body << r.error);
    CHECK(r.status == expect_status);
    CHECK(r.header("content-type") == "application/json");
    json::value v = json::parse(r.body);
    return v.as_object();
  }
  json::array topologies() { return env("GET", "/apis/v1/topologies")["data"].as_array(); }
};

std::string process_topology(const std::string& name, const std::string& cron,
                             const std::string& script, const std::string& extra = "") {
  json::object t;
  t["name"] = name;
  t["task"] = {{"type", "PROCESS"},
               {"taskName", "main"},
               {"command", "/bin/sh"},
               {"args", json::array{"-c", json::value(script)}}};
  t["trigger"] = {{"type", "CRON"}, {"timeSpec", cron}};
  std::string out = json::serialize(t);
  if (!extra.empty()) out.insert(out.size() - 1, "," + extra);
  return out;
}

std::string str(const json::value& v) {
  return std::string(v.as_string());
}

}  // namespace

TEST_CASE("Epoch's full create example (§2.9) is accepted and round-trips") {
  Daemon d({"--volume-roots", "/mnt"});  // Epoch's example mounts /mnt/data
  auto created = d.env("POST", "/apis/v1/topologies", kEpochFullCreate);
  CHECK(str(created["status"]) == "SUCCESS");
  CHECK(str(created["message"]) == "success");
  const json::object& data = created["data"].as_object();
  CHECK(str(data.at("id")) == "daily-report");
  CHECK(str(data.at("state")) == "ACTIVE");
  CHECK(data.at("created") == data.at("updated"));
  CHECK(data.at("topology") == json::parse(kEpochFullCreate));

  auto got = d.env("GET", "/apis/v1/topologies/daily-report");
  CHECK(got["data"].as_object().at("topology") == json::parse(kEpochFullCreate));
  CHECK(got["data"].as_object().at("nextFireTime").is_int64());  // extension
  // The stored topology is a valid create body again.
  auto again =
      d.env("POST", "/apis/v1/topologies", json::serialize(got["data"].as_object().at("topology")));
  CHECK(str(again["status"]) == "FAILED");
  CHECK(str(again["message"]) == "Topology daily-report already exists with ID: daily-report");
  CHECK(d.topologies().size() == 1);

  // Full update keeps state and created, replaces the spec.
  json::value changed = json::parse(kEpochFullCreate);
  changed.as_object()["trigger"].as_object()["timeSpec"] = "0 30 7 * * ?";
  auto updated = d.env("PUT", "/apis/v1/topologies", json::serialize(changed));
  CHECK(str(updated["status"]) == "SUCCESS");
  CHECK(updated["data"].as_object().at("topology") == changed);
  CHECK(updated["data"].as_object().at("created") == data.at("created"));

  changed.as_object()["name"] = "nobody";
  auto missing = d.env("PUT", "/apis/v1/topologies", json::serialize(changed), 404);
  CHECK(str(missing["message"]) == "[3004]: Topology not found: nobody");
}

TEST_CASE("Epoch's simple create and edit requests (§2.8) on the UI and API paths") {
  Daemon d({"--volume-roots", "/mnt"});
  auto created = d.env("POST", "/topologies/create", kSimpleCreate);
  CHECK(json::serialize(created["data"]) ==
        R"({"redirectUrl":"/topologies/daily-report","topologyId":"daily-report"})");
  auto dup = d.env("POST", "/apis/ui/topologies/create", kSimpleCreate, 409);
  CHECK(str(dup["message"]) == "[3003]: Topology already exists with name: daily-report");

  const json::object t = d.env("GET", "/apis/v1/topologies/daily-report")["data"]
                             .as_object()
                             .at("topology")
                             .as_object();
  const json::object& task = t.at("task").as_object();
  CHECK(str(task.at("type")) == "CONTAINER_EXECUTION");
  CHECK(str(task.at("taskName")) == "docker-task");
  CHECK(
      json::serialize(task.at("executable")) ==
      R"({"type":"DOCKER","url":"docker.io/library/busybox:1.36","dockerPullTimeout":"120 seconds"})");
  CHECK(json::serialize(task.at("resources")) ==
        R"([{"type":"CPU","count":1},{"type":"MEMORY","sizeInMB":512}])");
  CHECK(json::serialize(t.at("notify")) ==
        R"({"type":"MAIL","emails":["oncall@example.com","dev@example.com"]})");
  CHECK(json::serialize(t.at("trigger")) == R"({"type":"CRON","timeSpec":"0 0 6 * * ?"})");

  // Edit through the API (#3) and through the UI path (#18).
  const std::string edit =
      R"({"cron":"0 15 6 * * ?","docker":"docker.io/library/busybox:1.37","cpus":2,"memory":256,"notifyEmail":"a@example.com"})";
  auto edited = d.env("PUT", "/apis/v1/topologies/daily-report", edit);
  CHECK(str(edited["status"]) == "SUCCESS");
  CHECK(str(edited["data"].as_object().at("topology").at("trigger").at("timeSpec")) ==
        "0 15 6 * * ?");
  auto ui = d.env("PUT", "/topologies/daily-report/update", edit);
  CHECK(str(ui["data"].as_object().at("topologyId")) == "daily-report");
  auto ui2 = d.env("PUT", "/apis/ui/topologies/daily-report/update", edit);
  CHECK(str(ui2["status"]) == "SUCCESS");

  auto bad_cron = d.env(
      "PUT", "/apis/v1/topologies/daily-report",
      R"({"cron":"0 0 6 * * FOO","docker":"busybox","cpus":1,"memory":256,"notifyEmail":"a@example.com"})",
      400);
  CHECK(str(bad_cron["message"]).rfind("[3002]: Validation failed for input: cron (", 0) == 0);
  CHECK(str(bad_cron["message"]).find("'FOO'") != std::string::npos);
  auto unknown = d.env("PUT", "/apis/v1/topologies/nobody", edit, 404);
  CHECK(str(unknown["message"]) == "[3004]: Topology not found: nobody");
  auto bad_fields = d.env(
      "POST", "/topologies/create",
      R"({"name":"x","cron":"0 0 6 * * ?","docker":"busybox","cpus":99,"memory":1,"notifyEmail":"nope"})",
      400);
  CHECK(str(bad_fields["message"]).rfind("Command validation failure: ", 0) == 0);
  CHECK(bad_fields["data"].as_object().at("validationErrors").as_array().size() == 3);
  CHECK(d.topologies().size() == 1);
}

TEST_CASE("a PROCESS topology fires, its runs list, filter and page, its output streams") {
  Daemon d({"--retention-runs", "1000"});
  const std::string script = "echo out-$EPOCH_RUN_ID; echo err-line >&2";
  CHECK(str(d.env("POST", "/apis/v1/topologies",
                  process_topology("tick", "* * * ? * *", script))["status"]) == "SUCCESS");
  json::array runs;
  REQUIRE(eventually([&] {
    runs = d.env("GET", "/apis/v1/topologies/tick/runs?state=SUCCESSFUL")["data"].as_array();
    return runs.size() >= 3;
  }));
  for (const auto& r : runs)
    CHECK(str(r.at("state")) == "SUCCESSFUL");
  // Newest first.
  for (std::size_t i = 1; i < runs.size(); ++i)
    CHECK(runs[i - 1].at("updated").as_int64() >= runs[i].at("updated").as_int64());

  auto paused = d.env("PUT", "/apis/v1/topologies/tick/pause");
  CHECK(str(paused["data"].as_object().at("state")) == "PAUSED");

  // Paging: limit and before.
  auto page1 = d.env("GET", "/apis/v1/topologies/tick/runs?limit=2")["data"].as_array();
  REQUIRE(page1.size() == 2);
  const auto before = page1[1].at("updated").as_int64();
  auto page2 =
      d.env("GET", "/apis/v1/topologies/tick/runs?limit=2&before=" + std::to_string(before))["data"]
          .as_array();
  REQUIRE(!page2.empty());
  CHECK(page2[0].at("updated").as_int64() < before);
  CHECK(d.env("GET", "/apis/v1/topologies/tick/runs?type=INSTANT")["data"].as_array().empty());
  CHECK(
      d.env("GET", "/apis/v1/topologies/tick/runs?state=FAILED,MISSED")["data"].as_array().empty());
  CHECK(d.env("GET", "/apis/v1/topologies/nobody/runs")["data"].as_array().empty());

  // One run, its log link, its output with offsets.
  const std::string run_id = str(runs[0].at("runId"));
  auto run = d.env("GET", "/apis/v1/topologies/tick/runs/" + run_id)["data"].as_object();
  CHECK(str(run.at("tasks").at("main").at("taskId")) == "tick-" + run_id + "-main");
  auto none = d.env("GET", "/apis/v1/topologies/tick/runs/ESR-2000-01-01-00-00-00-000");
  CHECK(str(none["message"]) == "Not run exists for tick/ESR-2000-01-01-00-00-00-000");

  auto link = d.env("GET", "/apis/v1/topologies/tick/runs/" + run_id + "/tasks/main/log");
  const std::string url = str(link["data"]);
  const std::string prefix = "http://127.0.0.1:" + std::to_string(d.process.port());
  REQUIRE(url.rfind(prefix, 0) == 0);
  const HttpResult out = d.call("GET", url.substr(prefix.size()));
  CHECK(out.status == 200);
  CHECK(out.body == "out-" + run_id + "\n");
  CHECK(out.header("x-epoch-next-offset") == std::to_string(out.body.size()));
  CHECK(out.header("x-epoch-task-finished") == "true");
  const HttpResult tail = d.call("GET", url.substr(prefix.size()) + "?offset=4");
  CHECK(tail.body == run_id + "\n");
  const HttpResult err = d.call("GET", url.substr(prefix.size()) + "?stream=stderr");
  CHECK(err.body == "err-line\n");
  const HttpResult past = d.call("GET", url.substr(prefix.size()) + "?offset=100000");
  CHECK(past.status == 200);
  CHECK(past.body.empty());
  auto nolog = d.env("GET", "/apis/v1/topologies/tick/runs/" + run_id + "/tasks/other/log");
  CHECK(str(nolog["message"]) == "No log exists for tick/" + run_id + "/other");

  // Run now while paused: an INSTANT run that completes.
  auto now = d.env("PUT", "/apis/v1/topologies/tick/run", "null");
  const std::string instant = str(now["data"].as_object().at("runId"));
  CHECK(instant.rfind("EIR-", 0) == 0);
  REQUIRE(eventually([&] {
    auto r = d.env("GET", "/apis/v1/topologies/tick/runs/" + instant)["data"];
    return r.is_object() && str(r.as_object().at("state")) == "COMPLETED";
  }));
  CHECK(d.env("GET", "/apis/v1/topologies/tick/runs?type=INSTANT")["data"].as_array().size() == 1);
  auto resumed = d.env("PUT", "/apis/v1/topologies/tick/unpause");
  CHECK(str(resumed["data"].as_object().at("state")) == "ACTIVE");
  auto norun = d.env("PUT", "/apis/v1/topologies/nobody/run", "");
  CHECK(str(norun["message"]) == "No such topology: nobody");
  CHECK(str(d.env("PUT", "/apis/v1/topologies/nobody/pause", "", 404)["message"]) ==
        "[3004]: Topology not found: nobody");
  CHECK(str(d.env("PUT", "/apis/v1/topologies/nobody/unpause", "", 404)["message"]) ==
        "[3004]: Topology not found: nobody");

  // Metrics saw it all.
  const HttpResult metrics = d.call("GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.header("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
  for (const char* name :
       {"epoch_leader 1", "epoch_topologies{state=\"ACTIVE\"} 1",
        "epoch_runs_total{state=\"SUCCESSFUL\",type=\"SCHEDULED\"}",
        "epoch_runs_total{state=\"COMPLETED\",type=\"INSTANT\"} 1",
        "epoch_fire_lateness_seconds_count", "epoch_executor_calls_total{op=\"launch\"}",
        "epoch_fires_missed_total 0",
        "epoch_http_requests_total{route=\"/apis/v1/topologies/{id}/runs\",method=\"GET\",status="
        "\"200\"}"})
    CHECK_MESSAGE(metrics.body.find(name) != std::string::npos, name);

  // Delete: true, then false.
  CHECK(d.env("DELETE", "/apis/v1/topologies/tick")["data"] == json::value(true));
  CHECK(d.env("DELETE", "/apis/v1/topologies/tick")["data"] == json::value(false));
  CHECK(str(d.env("GET", "/apis/v1/topologies/tick")["message"]) == "No such topology: tick");
  CHECK(d.env("GET", "/apis/v1/topologies/tick/runs")["data"].as_array().empty());
}

TEST_CASE("kill a running task; delete with killRunning stops live tasks") {
  Daemon d;
  CHECK(str(d.env("POST", "/apis/v1/topologies",
                  process_topology("slow", "0 0 0 1 1 ? 2099",
                                   "echo started; sleep 60"))["status"]) == "SUCCESS");
  const std::string run_id =
      str(d.env("PUT", "/apis/v1/topologies/slow/run")["data"].as_object().at("runId"));
  const std::string base = "/apis/v1/topologies/slow/runs/" + run_id;
  REQUIRE(eventually([&] {
    auto r = d.env("GET", base)["data"];
    return r.is_object() && str(r.at("tasks").at("main").at("state")) == "RUNNING";
  }));
  // Live output.
  auto link = str(d.env("GET", base + "/tasks/main/log")["data"]);
  REQUIRE(eventually([&] {
    const HttpResult out = d.call("GET", base + "/tasks/main/output");
    return out.body == "started\n" && out.header("x-epoch-task-finished") == "false";
  }));

  auto unknown = d.env("POST", base + "/tasks/nope/kill");
  CHECK(str(unknown["status"]) == "FAILED");
  CHECK(str(unknown["message"]) == "No task exists for slow/" + run_id + "/nope");
  CHECK(json::serialize(unknown["data"]) ==
        R"({"success":false,"message":"No task found for the provided id"})");

  auto killed = d.env("POST", base + "/tasks/main/kill");
  CHECK(
      json::serialize(killed) ==
      R"({"status":"SUCCESS","data":{"success":true,"message":"Task cancel accepted"},"message":"success"})");
  REQUIRE(eventually([&] { return str(d.env("GET", base)["data"].at("state")) == "FAILED"; }));
  CHECK(str(d.env("GET", base)["data"].at("tasks").at("main").at("state")) == "CANCELLED");

  // Another live run, then delete ?killRunning=true: the process is gone.
  const std::string second =
      str(d.env("PUT", "/apis/v1/topologies/slow/run")["data"].as_object().at("runId"));
  REQUIRE(eventually([&] {
    auto r = d.env("GET", "/apis/v1/topologies/slow/runs/" + second)["data"];
    return r.is_object() && str(r.at("tasks").at("main").at("state")) == "RUNNING";
  }));
  const std::string upstream =
      str(d.env("GET", "/apis/v1/topologies/slow/runs/" + second)["data"].at("tasks").at("main").at(
          "upstreamId"));
  REQUIRE(upstream.rfind("pid ", 0) == 0);
  const int pid = std::stoi(upstream.substr(4));
  CHECK(d.env("DELETE", "/apis/v1/topologies/slow?killRunning=true")["data"] == json::value(true));
  CHECK(eventually([&] { return ::kill(pid, 0) != 0; }));
  (void)link;
}

TEST_CASE("bad input always gets a 4xx with a clear message, and nothing is stored") {
  Daemon d({"--body-limit", "65536"});
  struct Case {
    std::string method, target, body;
    int status;
    std::string message_part;
  };
  const std::string good = process_topology("good", "0 0 6 * * ?", "true");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  const std::vector<Case> cases = {
      {"POST", "/apis/v1/topologies", "{bad", 400, "JSON validation failure: malformed JSON"},
      {"POST", "/apis/v1/topologies", "", 400, "JSON validation failure"},
      {"POST", "/apis/v1/topologies", "[1,2]", 400, "JSON validation failure"},
      {"POST", "/apis/v1/topologies", with(R"("name":"good")", R"("name":5)"), 400, "name"},
      {"POST", "/apis/v1/topologies", with(R"("type":"PROCESS")", R"("type":"FOO")"), 400, "FOO"},
      {"POST", "/apis/v1/topologies", with(R"("type":"CRON")", R"("type":"WEEKLY")"), 400,
       "WEEKLY"},
      {"POST", "/apis/v1/topologies", with("0 0 6 * * ?", "0 0 6 * * ? * *"), 400,
       "trigger.timeSpec: cron expression"},
      {"POST", "/apis/v1/topologies", with("0 0 6 * * ?", "0 0 25 * * ?"), 400, "hour"},
      {"POST", "/apis/v1/topologies",
       with(R"("timeSpec":"0 0 6 * * ?")", R"("timeSpec":"0 0 6 * * ?","timeZone":"Mars/Base")"),
       400, "Mars/Base"},
      {"POST", "/apis/v1/topologies", with(R"("name":"good")", R"("name":"has space")"), 400,
       "name"},
      {"PUT", "/apis/v1/topologies", with("0 0 6 * * ?", "bad cron"), 400, "timeSpec"},
      {"POST", "/topologies/create", R"({"name":"x"})", 400, "Command validation failure"},
      {"GET", "/apis/v1/topologies/bad.id", "", 400, "[3001]: Input id invalid bad.id"},
      {"GET", "/apis/v1/topologies/good/runs/bad!id", "", 400, "[3001]"},
      {"GET", "/apis/v1/topologies/good/runs?state=SOMETIMES", "", 400, "SOMETIMES"},
      {"GET", "/apis/v1/topologies/good/runs?type=DAILY", "", 400, "DAILY"},
      {"GET", "/apis/v1/topologies/good/runs?limit=0", "", 400, "limit"},
      {"GET", "/apis/v1/topologies/good/runs?limit=ten", "", 400, "limit"},
      {"GET", "/apis/v1/topologies/good/runs?before=yesterday", "", 400, "before"},
      {"DELETE", "/apis/v1/topologies/good?killRunning=maybe", "", 400, "killRunning"},
      {"GET", "/apis/v1/cron/next", "", 400, "expr"},
      {"GET", "/apis/v1/cron/next?expr=0+0+6+*+*+FOO", "", 400, "day-of-week"},
      {"GET", "/apis/v1/cron/next?expr=0+0+6+*+*+%3F&tz=Nowhere/City", "", 400, "Nowhere/City"},
      {"GET", "/apis/v1/cron/next?expr=0+0+6+*+*+%3F&n=0", "", 400, "'n'"},
      {"GET", "/apis/v1/topologies/good/runs/ESR-1/tasks/main/output?offset=-1", "", 400, "offset"},
      {"GET", "/apis/v1/nothing-here", "", 404, "No such endpoint: GET /apis/v1/nothing-here"},
      {"PATCH", "/apis/v1/topologies", "", 405, "Method PATCH is not allowed"},
      {"POST", "/apis/v1/topologies", std::string(70000, ' '), 413, "exceeds the limit of 65536"},
  };
  for (const Case& c : cases) {
    const HttpResult r = d.call(c.method, c.target, c.body);
    INFO(c.method << " " << c.target << " " << c.body.substr(0, 200) << " -> " << r.status << " "
                  << r.body << r.error);
    CHECK(r.status == c.status);
    json::value v = json::parse(r.body);
    CHECK(str(v.at("status")) == "FAILED");
    CHECK(str(v.at("message")).find(c.message_part) != std::string::npos);
  }
  CHECK(d.topologies().empty());
  // The daemon is fine afterwards.
  CHECK(str(d.env("POST", "/apis/v1/topologies", good)["status"]) == "SUCCESS");
  CHECK(d.topologies().size() == 1);
}

TEST_CASE("cron preview, leader, healthcheck") {
  Daemon d;
  auto preview = d.env("GET",
                       "/apis/v1/cron/next?expr=0+30+2+*+*+%3F&tz=America/New_York&n=3&after="
                       "2026-03-07T00:00:00Z")["data"]
                     .as_object();
  CHECK(str(preview["timeZone"]) == "America/New_York");
  const auto& next = preview["next"].as_array();
  REQUIRE(next.size() == 3);
  // 2026-03-08 02:30 does not exist in New York: Quartz skips it.
  CHECK(str(next[0].at("time")) == "2026-03-07T02:30:00-05:00");
  CHECK(str(next[1].at("time")) == "2026-03-09T02:30:00-04:00");
  CHECK(str(next[1].at("utc")) == "2026-03-09T06:30:00.000Z");
  CHECK(!str(preview["description"]).empty());

  const HttpResult leader = d.call("GET", "/apis/housekeeping/v1/leader");
  CHECK(leader.status == 200);
  CHECK(leader.body ==
        R"({"leader":"http://127.0.0.1:)" + std::to_string(d.process.port()) + R"("})");
  const HttpResult health = d.call("GET", "/healthcheck");
  CHECK(health.status == 200);
  CHECK(json::parse(health.body).at("store").at("healthy") == json::value(true));
  CHECK(json::parse(health.body).at("leader").at("isLeader") == json::value(true));
}

TEST_CASE("keep-alive, pipelining in order, malformed requests, graceful shutdown") {
  Daemon d;
  const std::string two =
      "GET /apis/housekeeping/v1/leader HTTP/1.1\r\nHost: localhost\r\n\r\n"
      "GET /apis/v1/nothing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  const std::string answer = epoch::test::raw_exchange(d.process.port(), two);
  const std::size_t first = answer.find("HTTP/1.1 200");
  const std::size_t second = answer.find("HTTP/1.1 404");
  CHECK(first == 0);
  CHECK(second != std::string::npos);
  CHECK(second > first);

  const std::string garbage =
      epoch::test::raw_exchange(d.process.port(), "NOT HTTP AT ALL\r\n\r\n");
  CHECK(garbage.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(garbage.find("Malformed HTTP request") != std::string::npos);

  CHECK(d.process.terminate() == 0);
  CHECK(d.process.log().find("shutting down signal=SIGTERM") != std::string::npos);
  CHECK(d.process.log().find("stopped") != std::string::npos);
}
