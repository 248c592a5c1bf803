// Attack tests: each finding of the security review (issue 16) tried again
// against a real epochd over loopback, the way it was found — crafted
// requests, cross-site and rebound requests, encoded paths for every role,
// oversized fields, unbounded labels, bad credentials, secrets in readers'
// views, a task's view of epochd's environment.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "http_client.h"
#include "routes.h"

namespace json = boost::json;
using epoch::test::basic_auth;
using epoch::test::DaemonProcess;
using epoch::test::eventually;
using epoch::test::http_call;
using epoch::test::HttpResult;
using Headers = std::vector<std::pair<std::string, std::string>>;

namespace {

struct Daemon {
  std::string dir = epoch::test::make_temp_dir("epochd-security");
  DaemonProcess process;
  explicit Daemon(std::vector<std::string> args = {})
      : process(EPOCHD_BINARY, dir, with_memory_store(std::move(args))) {}
  ~Daemon() {
    process.kill9();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  static std::vector<std::string> with_memory_store(std::vector<std::string> args) {
    args.insert(args.begin(), {"--store", "memory"});
    return args;
  }
  std::uint16_t port() const { return process.port(); }
  HttpResult call(const std::string& method, const std::string& target,
                  const std::string& body = "", Headers headers = {}) {
    return http_call(port(), method, target, body, std::move(headers));
  }
  bool alive() { return call("GET", "/healthcheck").status == 200; }
};

std::string process_topology(const std::string& name, const std::string& script,
                             const std::string& extra = "") {
  json::object t;
  t["name"] = name;
  t["task"] = {{"type", "PROCESS"},
               {"taskName", "main"},
               {"command", "/bin/sh"},
               {"args", json::array{"-c", json::value(script)}}};
  t["trigger"] = {{"type", "CRON"}, {"timeSpec", "0 0 0 1 1 ? 2099"}};
  std::string out = json::serialize(t);
  if (!extra.empty()) out.insert(out.size() - 1, "," + extra);
  return out;
}

// A container task; `task_extra` are more fields of the task ("volumes":...).
std::string container_topology(const std::string& name, const std::string& image,
                               const std::string& task_extra = "") {
  json::object task = {
      {"type", "CONTAINER_EXECUTION"},
      {"taskName", "main"},
      {"executable", {{"type", "DOCKER"}, {"url", image}}},
      {"resources", json::array{json::object{{"type", "CPU"}, {"count", 1}},
                                json::object{{"type", "MEMORY"}, {"sizeInMB", 128}}}}};
  if (!task_extra.empty()) {
    const json::value extra = json::parse("{" + task_extra + "}");
    for (const auto& [k, v] : extra.as_object())
      task[k] = v;
  }
  json::object t;
  t["name"] = name;
  t["task"] = std::move(task);
  t["trigger"] = {{"type", "CRON"}, {"timeSpec", "0 0 0 1 1 ? 2099"}};
  return json::serialize(t);
}

json::value parse(const HttpResult& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  return ec ? json::value() : v;
}

std::string message(const HttpResult& r) {
  const json::value v = parse(r);
  return v.is_object() && v.as_object().contains("message") && v.at("message").is_string()
             ? std::string(v.at("message").as_string())
             : r.body;
}

// Runs `id` now and returns its only task's standard output once it ended.
std::string run_and_read_output(Daemon& d, const std::string& id, const Headers& as = {}) {
  const HttpResult run = d.call("PUT", "/apis/v1/topologies/" + id + "/run", "", as);
  REQUIRE(run.status == 200);
  const std::string run_id(parse(run).at("data").at("runId").as_string());
  REQUIRE(eventually([&] {
    const auto r = d.call("GET", "/apis/v1/topologies/" + id + "/runs/" + run_id, "", as);
    const json::value v = parse(r);
    return r.status == 200 && v.at("data").at("state") != "RUNNING";
  }));
  const auto out =
      d.call("GET", "/apis/v1/topologies/" + id + "/runs/" + run_id + "/tasks/main/output", "", as);
  REQUIRE(out.status == 200);
  return out.body;
}

bool has_cors_headers(const HttpResult& r) {
  for (const auto& [name, value] : r.headers)
    if (name.rfind("access-control-", 0) == 0) return true;
  return false;
}

}  // namespace

// ---- 1. running commands on the host -------------------------------------------------

TEST_CASE(
    "PROCESS tasks: the quick start's default allows them, a network-facing daemon only "
    "for ADMIN") {
  SUBCASE("auth none on loopback: as the README's quick start") {
    Daemon d;
    CHECK(d.call("POST", "/apis/v1/topologies", process_topology("hello", "echo hi")).status ==
          200);
  }
  SUBCASE("basic auth: READ_WRITE may not create or change one, ADMIN may") {
    Daemon d({"--auth", "basic", "--auth-users", "w:w-pw:READ_WRITE,a:a-pw:ADMIN"});
    const Headers writer = {{"Authorization", basic_auth("w", "w-pw")}};
    const Headers admin = {{"Authorization", basic_auth("a", "a-pw")}};
    auto r = d.call("POST", "/apis/v1/topologies", process_topology("p", "id"), writer);
    CHECK(r.status == 403);
    CHECK(message(r).find("--host-exec-role") != std::string::npos);
    CHECK(message(r).find("task (PROCESS task)") != std::string::npos);
    // A container on the local executor runs on this host as well.
    r = d.call("POST", "/apis/v1/topologies", container_topology("c", "busybox"), writer);
    CHECK(r.status == 403);
    CHECK(d.call("GET", "/apis/v1/topologies", "", writer).body.find("\"p\"") == std::string::npos);
    CHECK(d.call("POST", "/apis/v1/topologies", process_topology("p", "id"), admin).status == 200);
    // Changing it is creating a command too.
    CHECK(d.call("PUT", "/apis/v1/topologies", process_topology("p", "id -u"), writer).status ==
          403);
    CHECK(d.call("PUT", "/apis/v1/topologies", process_topology("p", "id -u"), admin).status ==
          200);
    // What READ_WRITE may still do with it: run, pause, delete.
    CHECK(d.call("PUT", "/apis/v1/topologies/p/pause", "", writer).status == 200);
    CHECK(d.call("DELETE", "/apis/v1/topologies/p", "", writer).status == 200);
  }
  SUBCASE("the operator decides: --host-exec-role READ_WRITE, or NONE for nobody") {
    Daemon rw(
        {"--auth", "basic", "--auth-users", "w:w-pw:READ_WRITE", "--host-exec-role", "READ_WRITE"});
    CHECK(rw.call("POST", "/apis/v1/topologies", process_topology("p", "id"),
                  {{"Authorization", basic_auth("w", "w-pw")}})
              .status == 200);
    Daemon none({"--host-exec-role", "NONE"});
    const auto r = none.call("POST", "/apis/v1/topologies", process_topology("p", "id"));
    CHECK(r.status == 403);
    CHECK(message(r).find("turned off") != std::string::npos);
  }
  SUBCASE("auth none forced onto a non-loopback address: nobody below ADMIN, so nobody") {
    Daemon d({"--listen", "0.0.0.0", "--auth-force-none", "true"});
    CHECK(d.call("POST", "/apis/v1/topologies", process_topology("p", "id")).status == 403);
    CHECK(d.process.log().find("hostExecRole=ADMIN") != std::string::npos);
  }
}

TEST_CASE("host volumes only from under the operator's roots; docker options never from fields") {
  SUBCASE("no roots: refused with the field and the option") {
    Daemon d;
    const std::string vol =
        R"("volumes":[{"pathOnHost":"/","pathInContainer":"/host","mode":"READ_WRITE"}])";
    const auto r = d.call("POST", "/apis/v1/topologies", container_topology("v", "alpine", vol));
    CHECK(r.status == 400);
    CHECK(message(r).find("task.volumes[0].pathOnHost: '/'") != std::string::npos);
    CHECK(message(r).find("--volume-roots") != std::string::npos);
    // The UI's simple request the same way.
    const auto s = d.call(
        "POST", "/topologies/create",
        R"({"name":"s","cron":"0 0 6 * * ?","docker":"alpine","cpus":1,"memory":128,)"
        R"("notifyEmail":"ops@example.com","volumes":[{"pathOnHost":"/etc","pathInContainer":"/x"}]})");
    CHECK(s.status == 400);
    CHECK(d.call("GET", "/apis/v1/topologies").body.find("\"v\"") == std::string::npos);
  }
  SUBCASE("with roots: under them accepted, elsewhere (or a look-alike prefix) refused") {
    Daemon d({"--volume-roots", "/srv/epoch-data"});
    const auto vol = [](const std::string& p) {
      return R"("volumes":[{"pathOnHost":")" + p +
             R"(","pathInContainer":"/data","mode":"READ_ONLY"}])";
    };
    CHECK(d.call("POST", "/apis/v1/topologies",
                 container_topology("ok", "alpine", vol("/srv/epoch-data/in")))
              .status == 200);
    CHECK(d.call("POST", "/apis/v1/topologies",
                 container_topology("bad", "alpine", vol("/srv/epoch-data2")))
              .status == 400);
    CHECK(d.call("POST", "/apis/v1/topologies",
                 container_topology("bad", "alpine", vol("/srv/epoch-data/../../etc")))
              .status == 400);
  }
  SUBCASE("an image that is an option is not an image") {
    Daemon d;
    const auto r = d.call("POST", "/apis/v1/topologies", container_topology("x", "--privileged"));
    CHECK(r.status == 400);
    CHECK(message(r).find("task.executable.url") != std::string::npos);
  }
}

TEST_CASE("tasks start from a minimal environment, not epochd's") {
  ::setenv("EPOCH_MAIL_SMTP_PASSWORD", "hunter2-smtp", 1);
  ::setenv("EPOCH_TEST_PASSED_THROUGH", "passed-value", 1);
  Daemon d({"--task-env-passthrough", "EPOCH_TEST_PASSED_THROUGH"});
  ::unsetenv("EPOCH_MAIL_SMTP_PASSWORD");
  ::unsetenv("EPOCH_TEST_PASSED_THROUGH");
  REQUIRE(d.call("POST", "/apis/v1/topologies", process_topology("env", "env")).status == 200);
  const std::string env = run_and_read_output(d, "env");
  CHECK(env.find("hunter2-smtp") == std::string::npos);
  CHECK(env.find("EPOCH_MAIL_SMTP_PASSWORD") == std::string::npos);
  CHECK(env.find("EPOCH_TEST_PASSED_THROUGH=passed-value") != std::string::npos);
  CHECK(env.find("EPOCH_TOPOLOGY_ID=env") != std::string::npos);
  CHECK(env.find("PATH=") != std::string::npos);
}

TEST_CASE("secretEnv: the task gets the value, no reader, audit entry or log line shows it") {
  Daemon d({"--auth", "basic", "--auth-users", "r:r-pw:READ_ONLY,a:a-pw:ADMIN"});
  const Headers reader = {{"Authorization", basic_auth("r", "r-pw")}};
  const Headers admin = {{"Authorization", basic_auth("a", "a-pw")}};
  const std::string secret = "tok-5f3a9c-very-secret";
  // The task proves it got the value without the value in its command: the
  // first 16 hex digits of its SHA-256.
  const std::string digest = "69b704bc87a829b5";
  const auto topology = [&](const std::string& value) {
    json::object t =
        json::parse(process_topology(
                        "s", "if [ \"$(printf %s \"$API_TOKEN\" | sha256sum | cut -c1-16)\" = " +
                                 digest + " ]; then echo token-ok; else echo token-wrong; fi"))
            .as_object();
    t["task"].as_object()["env"] = {{"MODE", "plain"}};
    t["task"].as_object()["secretEnv"] = {{"API_TOKEN", value}};
    return json::serialize(t);
  };
  auto r = d.call("POST", "/apis/v1/topologies", topology(secret), admin);
  REQUIRE(r.status == 200);
  CHECK(r.body.find(secret) == std::string::npos);  // not even in the answer to the create
  for (const Headers& who : {reader, admin}) {
    const auto got = d.call("GET", "/apis/v1/topologies/s", "", who);
    CHECK(got.body.find(secret) == std::string::npos);
    CHECK(parse(got).at("data").at("topology").at("task").at("secretEnv").at("API_TOKEN") ==
          "********");
    CHECK(parse(got).at("data").at("topology").at("task").at("env").at("MODE") == "plain");
    CHECK(d.call("GET", "/apis/v1/topologies", "", who).body.find(secret) == std::string::npos);
  }
  CHECK(run_and_read_output(d, "s", admin) == "token-ok\n");
  // A client that read the topology and writes it back keeps the secret.
  const auto read_back = d.call("GET", "/apis/v1/topologies/s", "", admin);
  const std::string redacted = json::serialize(parse(read_back).at("data").at("topology"));
  REQUIRE(d.call("PUT", "/apis/v1/topologies", redacted, admin).status == 200);
  CHECK(run_and_read_output(d, "s", admin) == "token-ok\n");
  // The audit log has both changes, redacted.
  std::string audit;
  REQUIRE(eventually([&] {
    audit = d.call("GET", "/apis/v1/audit", "", admin).body;
    return audit.find("\"method\":\"PUT\"") != std::string::npos;
  }));
  CHECK(audit.find(secret) == std::string::npos);
  CHECK(audit.find("********") != std::string::npos);
  CHECK(d.process.log().find(secret) == std::string::npos);
  // The marker for a secret that was never stored is refused.
  const std::string marked = R"("API_TOKEN":"********")";
  REQUIRE(redacted.find(marked) != std::string::npos);
  const auto bad = d.call("PUT", "/apis/v1/topologies",
                          std::string(redacted).replace(redacted.find(marked), marked.size(),
                                                        R"("NEW_TOKEN":"********")"),
                          admin);
  CHECK(bad.status == 400);
  CHECK(message(bad).find("NEW_TOKEN") != std::string::npos);
}

// ---- 2. cross-site requests and DNS rebinding --------------------------------------

TEST_CASE("a web page cannot write: JSON bodies only, Host and Origin checked, no CORS") {
  Daemon d;
  const std::string body = process_topology("evil", "touch /tmp/epoch-pwned");
  const std::string self = "http://127.0.0.1:" + std::to_string(d.port());
  // The attack as found: text/plain, a foreign Origin, a rebound Host.
  auto r = d.call("POST", "/apis/v1/topologies", body,
                  {{"Content-Type", "text/plain"},
                   {"Origin", "http://attacker.example"},
                   {"Host", "rebind.attacker.example"}});
  CHECK(r.status == 421);
  CHECK(message(r).find("rebind.attacker.example") != std::string::npos);
  // Each defence on its own:
  r = d.call("POST", "/apis/v1/topologies", body, {{"Content-Type", "text/plain"}});
  CHECK(r.status == 415);
  r = d.call("POST", "/topologies/create", "{}",
             {{"Content-Type", "application/x-www-form-urlencoded"}});
  CHECK(r.status == 415);
  r = d.call("POST", "/apis/v1/topologies", body, {{"Origin", "http://attacker.example"}});
  CHECK(r.status == 403);
  CHECK(message(r).find("Cross-origin") != std::string::npos);
  CHECK_FALSE(has_cors_headers(r));
  r = d.call("PUT", "/apis/v1/topologies/evil/pause", "", {{"Origin", "null"}});
  CHECK(r.status == 403);
  r = d.call("GET", "/apis/v1/topologies", "", {{"Host", "rebind.attacker.example:8080"}});
  CHECK(r.status == 421);  // a rebound page cannot read either
  CHECK(d.call("GET", "/apis/v1/topologies").body.find("evil") == std::string::npos);
  // A request without a Host at all.
  const std::string raw = epoch::test::raw_exchange(d.port(), "GET /healthcheck HTTP/1.0\r\n\r\n");
  CHECK(raw.rfind("HTTP/1.0 400", 0) == 0);
  // What is allowed: this node's own origin (the UI), names for this node,
  // clients that send no Origin (curl, CLIs).
  r = d.call("POST", "/apis/v1/topologies", process_topology("ok", "true"),
             {{"Origin", self}, {"Host", "127.0.0.1:" + std::to_string(d.port())}});
  CHECK(r.status == 200);
  CHECK_FALSE(has_cors_headers(r));
  CHECK(d.call("GET", "/healthcheck", "", {{"Host", "localhost:1234"}}).status == 200);
  CHECK(d.call("GET", "/healthcheck", "", {{"Host", "[::1]:8080"}}).status == 200);
  CHECK(d.call("PUT", "/apis/v1/topologies/ok/pause").status == 200);
  // An unknown method is not implemented, whatever the path.
  CHECK(d.call("BREW", "/apis/v1/topologies").status == 501);
}

TEST_CASE("--allowed-hosts and --cors-origins are the operator's switches") {
  Daemon d({"--allowed-hosts", "epoch.example.com,*.epoch.internal", "--cors-origins",
            "https://console.example.com"});
  CHECK(d.call("GET", "/healthcheck", "", {{"Host", "epoch.example.com"}}).status == 200);
  CHECK(d.call("GET", "/healthcheck", "", {{"Host", "a.epoch.internal:443"}}).status == 200);
  CHECK(d.call("GET", "/healthcheck", "", {{"Host", "epoch.internal.evil"}}).status == 421);
  const Headers from_console = {{"Origin", "https://console.example.com"}};
  auto pre = d.call(
      "OPTIONS", "/apis/v1/topologies", "",
      {{"Origin", "https://console.example.com"}, {"Access-Control-Request-Method", "POST"}});
  CHECK(pre.status == 204);
  CHECK(pre.header("access-control-allow-origin") == "https://console.example.com");
  auto r = d.call("POST", "/apis/v1/topologies", process_topology("c", "true"), from_console);
  CHECK(r.status == 200);
  CHECK(r.header("access-control-allow-origin") == "https://console.example.com");
  r = d.call("POST", "/apis/v1/topologies", process_topology("d", "true"),
             {{"Origin", "https://other.example.com"}});
  CHECK(r.status == 403);
  CHECK_FALSE(has_cors_headers(r));
}

// ---- 6, 7. authorization on the decoded route ---------------------------------------

namespace {

std::string percent(unsigned char c, bool upper) {
  static const char* lo = "0123456789abcdef";
  static const char* up = "0123456789ABCDEF";
  const char* h = upper ? up : lo;
  return std::string("%") + h[c >> 4] + h[c & 15];
}

// The route's pattern with values for its {ids}; `encode` says how to
// write each segment (0: as is, 1: first byte encoded, 2: every byte).
std::string concrete(std::string_view pattern, int literal_mode, int id_mode) {
  std::string out;
  std::string_view p = pattern.substr(1);
  while (true) {
    const auto slash = p.find('/');
    std::string_view seg = p.substr(0, slash);
    bool id = false;
    std::string value;
    if (seg == "{id}")
      value = "t1", id = true;
    else if (seg == "{runId}")
      value = "r1", id = true;
    else if (seg == "{taskName}")
      value = "k", id = true;
    else if (seg == "{file}")
      value = "app.js", id = true;
    else
      value = std::string(seg);
    const int mode = id ? id_mode : literal_mode;
    out += '/';
    for (std::size_t i = 0; i < value.size(); ++i) {
      const bool enc = mode == 2 || (mode == 1 && i == 0);
      out += enc ? percent(static_cast<unsigned char>(value[i]), i % 2 == 1)
                 : std::string(1, value[i]);
    }
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

TEST_CASE("every route, percent-encoded three ways, for every role: one decision") {
  Daemon d({"--auth", "basic", "--auth-users", "r:r-pw:READ_ONLY,w:w-pw:READ_WRITE,a:a-pw:ADMIN",
            "--auth-failures-per-minute", "0"});
  struct Who {
    const char* name;
    Headers headers;
    int rank;  // -1 anonymous
  };
  const std::vector<Who> everyone = {
      {"anonymous", {}, -1},
      {"READ_ONLY", {{"Authorization", basic_auth("r", "r-pw")}}, 0},
      {"READ_WRITE", {{"Authorization", basic_auth("w", "w-pw")}}, 1},
      {"ADMIN", {{"Authorization", basic_auth("a", "a-pw")}}, 2}};
  int requests = 0;
  for (const epochd::RouteSpec& spec : epochd::route_table()) {
    if (spec.pattern == "/") continue;  // nothing to encode
    int need = -1;                      // the least rank that passes; -1: open
    switch (spec.access) {
      case epochd::Access::kOpen:
      case epochd::Access::kHealth:
        need = -1;
        break;
      case epochd::Access::kPage:
      case epochd::Access::kRead:
        need = 0;
        break;
      case epochd::Access::kWrite:
        need = 1;
        break;
      case epochd::Access::kAdmin:
        need = 2;
        break;
    }
    const std::string body = epochd::is_write(spec.method) ? "{}" : "";
    for (const Who& who : everyone) {
      std::optional<int> plain_status;
      for (const auto& [literal, ids] : {std::pair{0, 0}, {1, 0}, {2, 0}, {0, 1}, {2, 2}}) {
        const std::string target = concrete(spec.pattern, literal, ids);
        INFO(spec.method << " " << target << " as " << who.name);
        const HttpResult r = d.call(std::string(spec.method), target, body, who.headers);
        ++requests;
        if (who.rank < need) {
          CHECK(r.status == (who.rank < 0 ? 401 : 403));
        } else {
          CHECK(r.status != 401);
          CHECK(r.status != 403);
        }
        if (!plain_status) plain_status = r.status;
        CHECK(r.status == *plain_status);
      }
    }
  }
  MESSAGE(requests << " requests");
  // The finding itself: READ_ONLY reading the ADMIN-only audit log.
  const Headers reader = everyone[1].headers;
  for (const char* t : {"/apis/v1/audit", "/apis/v1/%61udit", "/apis/%761/audit", "/apis/v1/AUDIT",
                        "/apis/v1/audit/", "/apis/v1/%61%75%64%69%74?limit=5"}) {
    INFO(t);
    const auto r = d.call("GET", t, "", reader);
    CHECK((r.status == 403 || r.status == 404));
    CHECK(r.body.find("\"entries\"") == std::string::npos);
    CHECK(r.body.find("\"user\"") == std::string::npos);
  }
}

TEST_CASE("audit entries name the decoded topology, with its JSON before and after") {
  Daemon d({"--auth", "basic", "--auth-users", "a:a-pw:ADMIN"});
  const Headers admin = {{"Authorization", basic_auth("a", "a-pw")}};
  REQUIRE(d.call("POST", "/apis/v1/topologies", process_topology("t1", "true"), admin).status ==
          200);
  REQUIRE(d.call("PUT", "/apis/v1/topologies/%74%31/pause", "", admin).status == 200);
  json::array log;
  REQUIRE(eventually([&] {
    const auto r = d.call("GET", "/apis/v1/audit", "", admin);
    log = parse(r).at("data").as_array();
    return log.size() == 2;
  }));
  const auto& pause = log[0].as_object();
  CHECK(pause.at("topologyId") == "t1");
  CHECK(pause.at("path") == "/apis/v1/topologies/t1/pause");
  CHECK(pause.at("before").at("state") == "ACTIVE");
  CHECK(pause.at("after").at("state") == "PAUSED");
}

// ---- 8, 9, 17. crashes, labels, overflow --------------------------------------------

TEST_CASE("a 100 KB e-mail address is a 400 naming the field, and epochd lives") {
  Daemon d;
  const std::string huge = std::string(100000, 'a') + "@b.cc";
  auto r = d.call(
      "POST", "/apis/v1/topologies",
      process_topology("m", "true", R"("notify":{"type":"MAIL","emails":[")" + huge + R"("]})"));
  CHECK(r.status == 400);
  CHECK(message(r).find("notify.emails[0]") != std::string::npos);
  CHECK(message(r).size() < 2000);  // the message names the field, it does not echo it
  r = d.call("POST", "/topologies/create",
             R"({"name":"m","cron":"0 0 6 * * ?","docker":"busybox","cpus":1,"memory":128,)"
             R"("notifyEmail":")" +
                 huge + "\"}");
  CHECK(r.status == 400);
  CHECK(message(r).find("notifyEmail") != std::string::npos);
  // Other 100 KB fields: a name, an argument, an env value, an image.
  const std::string big(100000, 'x');
  CHECK(d.call("POST", "/apis/v1/topologies", process_topology(big, "true")).status == 400);
  CHECK(d.call("POST", "/apis/v1/topologies", container_topology("i", big)).status == 400);
  CHECK(d.alive());
}

TEST_CASE("metric labels come from closed sets; health paths answer GET and HEAD only") {
  Daemon d;
  const std::string method(60000, 'X');
  for (int i = 0; i < 50; ++i) {
    const std::string raw = epoch::test::raw_exchange(
        d.port(), method + std::to_string(i) +
                      " /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    CHECK(raw.find(" 501 ") != std::string::npos);
  }
  CHECK(d.call("POST", "/healthcheck").status == 405);
  CHECK(d.call("DELETE", "/metrics").status == 405);
  const auto head = d.call("HEAD", "/healthcheck");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  const auto metrics = d.call("GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.size() < 64 * 1024);
  CHECK(metrics.body.find("XXXXXXXX") == std::string::npos);
  CHECK(metrics.body.find(R"(method="OTHER")") != std::string::npos);
}

TEST_CASE("instants and durations out of range are 400s with the range") {
  Daemon d;
  auto r = d.call("GET", "/apis/v1/cron/next?expr=0+0+0+*+*+%3F&after=9223372036854775807");
  CHECK(r.status == 400);
  CHECK(message(r).find("9999") != std::string::npos);
  r = d.call("GET", "/apis/v1/topologies/x/runs?before=-9223372036854775808");
  CHECK(r.status == 400);
  r = d.call("POST", "/apis/v1/topologies",
             process_topology("big", "true", R"("policies":{"timeout":"99999999999 days"})"));
  CHECK(r.status == 400);
  CHECK(message(r).find("policies.timeout") != std::string::npos);
  r = d.call(
      "POST", "/apis/v1/topologies",
      process_topology(
          "big", "true",
          R"("policies":{"retry":{"maxAttempts":3,"initialBackoff":"9223372036854775807 ms"}})"));
  CHECK(r.status == 400);
  CHECK(d.alive());
}

// ---- 10, 16. passwords --------------------------------------------------------------

TEST_CASE("bad credentials from one address are throttled; verified ones keep working") {
  Daemon d({"--auth", "basic", "--auth-users", "a:a-pw:ADMIN"});
  const Headers good = {{"Authorization", basic_auth("a", "a-pw")}};
  REQUIRE(d.call("GET", "/apis/v1/topologies", "", good).status == 200);  // verified, cached
  int refused = 0, throttled = 0;
  for (int i = 0; i < 12; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto r = d.call("GET", "/apis/v1/topologies", "",
                          {{"Authorization", basic_auth("a", "guess" + std::to_string(i))}});
    if (r.status == 401) ++refused;
    if (r.status == 429) {
      ++throttled;
      CHECK(r.header("retry-after") == "60");
      // Held for a second (a tarpit): a client hammering over a few
      // connections gets a few answers a second, not thousands.
      CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(900));
    }
  }
  CHECK(refused == 10);
  CHECK(throttled == 2);
  CHECK(d.call("GET", "/apis/v1/topologies", "", good).status == 200);
  CHECK(d.alive());
}

// ---- 11, 12. connections -------------------------------------------------------------

namespace {

// CPU seconds (user + system) the process has used so far.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
  std::string f;
  long ticks = 0;
  for (int i = 3; fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::stol(f);  // utime, stime
    if (i == 15) break;
  }
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// `n` connections to the port that send nothing.
std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> idle_connections(
    boost::asio::io_context& ioc, std::uint16_t port, int n) {
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> out;
  for (int i = 0; i < n; ++i) {
    auto s = std::make_unique<boost::asio::ip::tcp::socket>(ioc);
    boost::system::error_code ec;
    s->connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

TEST_CASE(
    "out of file descriptors: no spinning accept loop, new clients served once idle ones go") {
  // epochd under `ulimit -n 100`, idle connections closed after 2 s.
  const std::string dir = epoch::test::make_temp_dir("epochd-fds");
  // In the sanitizer build, UBSan's vptr check cannot verify any type it
  // has not seen before once the process has no descriptor left: it tests
  // that memory is readable by writing it to a pipe, so it reports an
  // "invalid vptr" that is not there, and halts the daemon (seen with
  // Boost's error categories, and once in CI as a reset connection). Spare
  // these daemons that check, for every type.
  const char* ubsan = std::getenv("UBSAN_OPTIONS");
  const std::string saved = ubsan != nullptr ? ubsan : "";
  {
    std::ofstream(dir + "/ubsan.supp") << "vptr_check:*\n";
    const std::string with =
        saved + (saved.empty() ? "" : ":") + "suppressions=" + dir + "/ubsan.supp";
    ::setenv("UBSAN_OPTIONS", with.c_str(), 1);
  }
  struct Restore {
    std::string value;
    bool had;
    ~Restore() { had ? ::setenv("UBSAN_OPTIONS", value.c_str(), 1) : ::unsetenv("UBSAN_OPTIONS"); }
  } restore{saved, ubsan != nullptr};
  const auto under_100_fds = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--nofile=100:100", EPOCHD_BINARY, "--store", "memory",
                               "--request-timeout", "2 seconds"});
    return args;
  };
  const auto check = [&](DaemonProcess& d) {
    boost::asio::io_context ioc;
    const auto idle = idle_connections(ioc, d.port(), 150);
    CHECK(idle.size() == 150);
    const double before = cpu_seconds(d.pid());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const double used = cpu_seconds(d.pid()) - before;
    INFO("CPU seconds in 1.5 s with 150 idle connections: " << used);
    CHECK(used < 0.5);  // a spinning accept loop uses all of it
    // A new client waits for a slot, but is answered.
    const auto r = http_call(d.port(), "GET", "/healthcheck", "", {}, std::chrono::seconds(20));
    CHECK_MESSAGE(r.status == 200, r.error << "\nepochd's log:\n" << d.log());
  };
  SUBCASE("the default limit, derived from the descriptor limit") {
    DaemonProcess d("/usr/bin/prlimit", dir, under_100_fds({}));
    CHECK(d.log().find("maxConnections=68") != std::string::npos);
    check(d);
  }
  SUBCASE("a limit above what the descriptors allow: accept fails, and backs off") {
    DaemonProcess d("/usr/bin/prlimit", dir, under_100_fds({"--max-connections", "1000"}));
    check(d);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST_CASE("100 Continue goes out between answers, in order, never inside another answer") {
  Daemon d({"--auth", "basic", "--auth-users", "a:a-pw:ADMIN"});
  // The first answer waits for a password check on the auth workers; the
  // second request asks for 100 Continue meanwhile.
  const std::string auth = basic_auth("a", "a-pw");
  const std::string raw =
      "GET /apis/v1/topologies HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + auth +
      "\r\n\r\n"
      "PUT /apis/v1/topologies/nothing/pause HTTP/1.1\r\nHost: localhost\r\nAuthorization: " +
      auth +
      "\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
      "Connection: close\r\n\r\n{}";
  const std::string answer = epoch::test::raw_exchange(d.port(), raw);
  std::vector<std::string> statuses;
  for (std::size_t at = answer.find("HTTP/1.1 "); at != std::string::npos;
       at = answer.find("HTTP/1.1 ", at + 1))
    statuses.push_back(answer.substr(at + 9, 3));
  INFO(answer);
  CHECK(statuses == std::vector<std::string>{"200", "100", "404"});
}

// ---- 19. control characters from task output ------------------------------------------

TEST_CASE("control characters a task writes reach epochd's log escaped, never raw") {
  Daemon d;
  REQUIRE(d.call("POST", "/apis/v1/topologies",
                 process_topology("ctl",
                                  R"(printf 'boom\033[2J\rFAKE 2099 INFO all good\n' >&2; exit 3)"))
              .status == 200);
  run_and_read_output(d, "ctl");
  REQUIRE(eventually([&] { return d.process.log().find("FAKE 2099") != std::string::npos; }));
  const std::string log = d.process.log();
  CHECK(log.find(R"(boom\x1b[2J\rFAKE 2099 INFO all good)") != std::string::npos);
  CHECK(log.find('\x1b') == std::string::npos);
  CHECK(log.find('\r') == std::string::npos);
}
