// Notifications from a real epochd. Webhooks to a real HTTP receiver
// (Python's standard library, started by the test): every event type, the
// HMAC signature, retries after the receiver fails, order per run, a
// receiver that hangs without delaying any run, per-topology URLs and event
// selection; a topology's URLs reach no loopback or private address unless
// the operator allows its network, and are signed with the topology's own
// key. E-mail to a real SMTP sink (Python, STARTTLS + AUTH, started by
// the test): Epoch's subjects and bodies, recipients and their fallback,
// disableForSuccessfulRuns, retry after the server refuses.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "daemon_process.h"
#include "hmac.h"
#include "http_client.h"
#include "run_process.h"

namespace json = boost::json;
using epoch::test::DaemonProcess;
using epoch::test::eventually;
using epoch::test::http_call;
using namespace std::chrono_literals;

namespace {

// A test server in Python (tests/epochd/<script>) that writes its port to
// <dir>/<name>-port and logs what it receives as JSON lines in
// <dir>/<name>.jsonl; killed when this goes.
struct PythonServer {
  std::string dir, name;
  pid_t pid = -1;
  std::uint16_t port = 0;
  PythonServer(const std::string& d, const std::string& n, const std::string& script,
               std::vector<std::string> extra)
      : dir(d), name(n) {
    std::vector<std::string> args = {EPOCH_SOURCE_DIR "/tests/epochd/" + script,
                                     dir + "/" + name + "-port", dir + "/" + name + ".jsonl"};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string out = dir + "/" + name + ".out";
    pid = epoch::test::spawn_process("python3", args, "", out, out);
    REQUIRE(eventually([&] { return std::filesystem::exists(dir + "/" + name + "-port"); }, 10s));
    std::ifstream(dir + "/" + name + "-port") >> port;
  }
  ~PythonServer() {
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
  }
  std::vector<json::object> logged() const {
    std::vector<json::object> out;
    std::ifstream in(dir + "/" + name + ".jsonl");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(json::parse(line).as_object());
    return out;
  }
};

// webhook_receiver.py: answers 500 to the first `fail_first` POSTs, or hangs.
struct Receiver : PythonServer {
  Receiver(const std::string& d, int fail_first, bool hang)
      : PythonServer(d, "hooks", "webhook_receiver.py",
                     hang ? std::vector<std::string>{std::to_string(fail_first), "hang"}
                          : std::vector<std::string>{std::to_string(fail_first)}) {}
  std::vector<json::object> hooks() const { return logged(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hook"; }
};

using epoch::test::hmac_sha256_hex;

std::string topology(const std::string& name, const std::string& script, const std::string& cron,
                     const std::string& policies = "", const std::string& notify = "") {
  return R"({"name":")" + name +
         R"(","task":{"type":"PROCESS","taskName":"main","command":"/bin/sh","args":["-c",")" +
         script + R"("]},"trigger":{"type":"CRON","timeSpec":")" + cron + R"("})" +
         (policies.empty() ? "" : R"(,"policies":)" + policies) +
         (notify.empty() ? "" : R"(,"notify":)" + notify) + "}";
}

// smtp_sink.py: refuses the first `fail_first` mails with 451.
struct SmtpSink : PythonServer {
  SmtpSink(const std::string& d, int fail_first, std::vector<std::string> extra)
      : PythonServer(d, "mails", "smtp_sink.py", [&] {
          extra.insert(extra.begin(), std::to_string(fail_first));
          return extra;
        }()) {}
  std::vector<json::object> mails() const { return logged(); }
};

// The value of header `name` in a mail's text ("" when absent).
std::string header(const std::string& data, const std::string& name) {
  std::istringstream in(data);
  for (std::string line; std::getline(in, line) && !line.empty();) {
    if (line.rfind(name + ": ", 0) == 0) return line.substr(name.size() + 2);
  }
  return "";
}

std::string body_of(const std::string& data) {
  const auto at = data.find("\n\n");
  return at == std::string::npos ? "" : data.substr(at + 2);
}

}  // namespace

TEST_CASE("webhooks: every event type, signed, retried, in order per run") {
  const std::string dir = epoch::test::make_temp_dir("epochd-webhooks");
  Receiver receiver(dir, /*fail_first=*/2, false);
  const std::string secret = "a shared secret for the receiver";
  std::ofstream(dir + "/secret") << secret << "\n";
  const std::vector<std::string> args = {"--webhook-urls",
                                         receiver.url(),
                                         "--webhook-secret-file",
                                         dir + "/secret",
                                         "--notify-running-longer-than",
                                         "400 ms",
                                         "--webhook-attempts",
                                         "5"};
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
  REQUIRE(eventually(
      [&] {
        return has("ok", "RUN_SUCCEEDED") && has("bad", "RUN_FAILED") &&
               has("slow", "RUN_SUCCEEDED") && has("limit", "RUN_TIMED_OUT") &&
               has("paused", "RUN_SKIPPED") && has("tick", "RUN_SUCCEEDED");
      },
      30s, 100ms));
  // The timed-out run: its task TIMED_OUT, the run FAILED, in the API as in the event.
  const auto limit_runs =
      json::parse(http_call(d->port(), "GET", "/apis/v1/topologies/limit/runs").body);
  REQUIRE(limit_runs.at("data").as_array().size() == 1);
  const auto& limit_run = limit_runs.at("data").as_array()[0];
  CHECK(limit_run.at("state").as_string() == "FAILED");
  CHECK(limit_run.at("tasks").at("main").at("state").as_string() == "TIMED_OUT");
  // A run past --notify-running-longer-than is reported first, then its end.
  CHECK(events_of("slow") == std::vector<std::string>{"RUN_RUNNING_LONG", "RUN_SUCCEEDED"});
  const auto body_of_event = [&](const std::string& topology_id, const std::string& event) {
    for (const auto& h : receiver.hooks()) {
      const auto b = json::parse(h.at("body").as_string()).as_object();
      if (b.at("topologyId").as_string() == topology_id && b.at("event").as_string() == event)
        return b;
    }
    FAIL("no " << event << " for " << topology_id);
    return json::object{};
  };
  // It shows the run as it is then, timed from the task's real start.
  const auto running_long = body_of_event("slow", "RUN_RUNNING_LONG");
  CHECK(running_long.at("tasks").at("main").at("state").as_string() == "RUNNING");
  CHECK(running_long.at("time").as_int64() - running_long.at("started").as_int64() >= 400);
  CHECK(running_long.at("finished").is_null());
  const auto succeeded = body_of_event("slow", "RUN_SUCCEEDED");
  const auto took = succeeded.at("finished").as_int64() - succeeded.at("started").as_int64();
  // sleep 1.5: seen from outside, its start is noticed a little after it
  // happened (the executor's report crosses threads), its end after a poll.
  CHECK(took >= 1000);
  CHECK(took < 5000);
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
    CHECK(headers.at("x-epoch-signature").as_string() == "sha256=" + hmac_sha256_hex(secret, body));
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
  const std::string healthy_dir = dir + "/healthy";
  std::filesystem::create_directories(healthy_dir);
  Receiver healthy(healthy_dir, 0, false);
  std::filesystem::create_directories(dir + "/epochd");
  DaemonProcess d(EPOCHD_BINARY, dir + "/epochd",
                  {"--store", "memory", "--webhook-urls", receiver.url() + "," + healthy.url(),
                   "--webhook-timeout", "60 seconds"});
  REQUIRE(http_call(d.port(), "POST", "/apis/v1/topologies",
                    topology("tick", "true", "* * * ? * *"), {{"Content-Type", "application/json"}})
              .status == 200);
  json::array runs;
  REQUIRE(eventually(
      [&] {
        runs =
            json::parse(
                http_call(d.port(), "GET", "/apis/v1/topologies/tick/runs?state=SUCCESSFUL").body)
                .at("data")
                .as_array();
        return runs.size() >= 4;
      },
      20s, 100ms));
  // Each finished within a second of its nominal time, though no webhook
  // has been answered.
  for (const auto& r : runs) {
    const auto& task = r.at("tasks").at("main").as_object();
    CHECK(task.at("finished").as_int64() - r.at("scheduledTime").as_int64() < 1000);
  }
  CHECK(receiver.hooks().size() >= 1);
  // The hanging URL holds up only itself: the other got every event so far.
  CHECK(eventually([&] { return healthy.hooks().size() >= runs.size(); }, 5s, 100ms));
  std::filesystem::remove_all(dir);
}

TEST_CASE("e-mail as Epoch sends it: STARTTLS, AUTH, recipients, subjects, bodies, retry") {
  const std::string dir = epoch::test::make_temp_dir("epochd-mail");
  epoch::test::make_test_certificates(dir);
  // The SMTP server refuses the first mail (451): it is sent again.
  SmtpSink smtp(dir, /*fail_first=*/1,
                {"--tls", dir + "/server.pem", dir + "/server.key", "--auth", "epoch:s3cret pass"});
  Receiver receiver(dir, 0, false);
  std::ofstream(dir + "/smtp-password") << "s3cret pass\n";
  std::filesystem::create_directories(dir + "/epochd");
  // The topologies' webhooks go to the receiver on loopback: allowed.
  DaemonProcess d(EPOCHD_BINARY, dir + "/epochd",
                  {"--store",
                   "memory",
                   "--mail-smtp-server",
                   "localhost",
                   "--mail-smtp-port",
                   std::to_string(smtp.port),
                   "--mail-smtp-username",
                   "epoch",
                   "--mail-smtp-password-file",
                   dir + "/smtp-password",
                   "--mail-ca-file",
                   dir + "/ca.pem",
                   "--mail-from",
                   "epoch@example.com",
                   "--mail-from-name",
                   "Epoch Scheduler",
                   "--mail-default-recipients",
                   "ops@example.com",
                   "--mail-disable-for-successful-runs",
                   "true",
                   "--webhook-allow-networks",
                   "127.0.0.1/32"});
  const std::vector<std::pair<std::string, std::string>> json_type = {
      {"Content-Type", "application/json"}};
  const std::string never = "0 0 0 1 1 ? 2099";
  const std::string hook = "\"" + receiver.url() + "\"";
  for (const std::string& body : {
           topology("mailed", "true", never, "",
                    R"({"type":"MAIL","emails":["dev@example.com","qa@example.com"]})"),
           topology("fallback", "echo broken >&2; exit 3", never),
           topology("scheduled", "true", "0/2 * * ? * *", "",
                    R"({"type":"MAIL","emails":["dev@example.com"]})"),
           // Its own webhook, and only failures notify (mail too).
           topology("hooked", "exit 1", never, "",
                    R"({"type":"BLACKHOLE","webhooks":[)" + hook + R"(],"events":["RUN_FAILED"]})"),
           topology("hooked-quiet", "true", never, "",
                    R"({"type":"MAIL","emails":["dev@example.com"],"webhooks":[)" + hook +
                        R"(],"events":["RUN_FAILED"]})"),
       }) {
    const auto r = http_call(d.port(), "POST", "/apis/v1/topologies", body, json_type);
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  for (const char* t : {"mailed", "fallback", "hooked", "hooked-quiet"}) {
    REQUIRE(http_call(d.port(), "PUT", std::string("/apis/v1/topologies/") + t + "/run").status ==
            200);
  }
  const auto mail_for = [&](const std::string& topology_id) {
    std::vector<json::object> out;
    for (auto& m : smtp.mails()) {
      if (header(std::string(m.at("data").as_string()), "Subject")
              .find("Topology run " + topology_id + "/") != std::string::npos)
        out.push_back(m);
    }
    return out;
  };
  // Three mails; the first needed a second attempt (5 s backoff).
  REQUIRE(eventually(
      [&] {
        return mail_for("mailed").size() == 1 && mail_for("fallback").size() == 1 &&
               mail_for("hooked").size() == 1;
      },
      40s, 200ms));
  const auto runs_of = [&](const std::string& t) {
    return json::parse(http_call(d.port(), "GET", "/apis/v1/topologies/" + t + "/runs").body)
        .at("data")
        .as_array();
  };
  REQUIRE(eventually([&] { return runs_of("scheduled").size() >= 2; }, 10s, 100ms));
  std::this_thread::sleep_for(1s);

  // An instant run ends COMPLETED: mailed even with disableForSuccessfulRuns,
  // to the topology's recipients, as Epoch words it.
  const auto ok = mail_for("mailed").at(0);
  const std::string ok_data(ok.at("data").as_string());
  CHECK(ok.at("to") == json::array{"dev@example.com", "qa@example.com"});
  CHECK(ok.at("from").as_string() == "epoch@example.com");
  CHECK(ok.at("tls").as_bool());
  CHECK(ok.at("user").as_string() == "epoch");
  CHECK(header(ok_data, "From") == "\"Epoch Scheduler\" <epoch@example.com>");
  CHECK(header(ok_data, "To") == "dev@example.com, qa@example.com");
  const std::string ok_run(runs_of("mailed").at(0).at("runId").as_string());
  CHECK(header(ok_data, "Subject") == "Topology run mailed/" + ok_run + " completed successfully");
  CHECK(body_of(ok_data).rfind("Tasks completed: [mailed-" + ok_run + "-main] in ", 0) == 0);

  // No MAIL spec: the default recipients; the failed task, its upstream id
  // and error.
  const auto bad = mail_for("fallback").at(0);
  const std::string bad_data(bad.at("data").as_string());
  CHECK(bad.at("to") == json::array{"ops@example.com"});
  const auto bad_run = runs_of("fallback").at(0).as_object();
  const std::string bad_run_id(bad_run.at("runId").as_string());
  CHECK(header(bad_data, "Subject") == "Topology run fallback/" + bad_run_id + " failed");
  const auto& task = bad_run.at("tasks").at("main").as_object();
  CHECK(body_of(bad_data).rfind(
            "Task " + std::string(task.at("taskId").as_string()) + " with upstream ID " +
                std::string(task.at("upstreamId").as_string()) +
                " failed with error: " + std::string(task.at("errorMessage").as_string()),
            0) == 0);
  // BLACKHOLE falls back to the default recipients (as Epoch); the
  // topology's selection lets only failures through — its webhook got the
  // failure, the quiet one (success) nothing at all.
  CHECK(mail_for("hooked").at(0).at("to") == json::array{"ops@example.com"});
  CHECK(mail_for("hooked-quiet").empty());
  REQUIRE(eventually([&] { return !receiver.hooks().empty(); }, 10s, 100ms));
  std::this_thread::sleep_for(500ms);
  const auto hooks = receiver.hooks();
  REQUIRE(hooks.size() == 1);
  const auto hook_body = json::parse(hooks[0].at("body").as_string()).as_object();
  CHECK(hook_body.at("topologyId").as_string() == "hooked");
  CHECK(hook_body.at("event").as_string() == "RUN_FAILED");
  CHECK(hook_body.at("tasks").at("main").at("state").as_string() == "FAILED");
  // disableForSuccessfulRuns: no mail for the SUCCESSFUL scheduled runs.
  CHECK(mail_for("scheduled").empty());
  // The first mail was refused once, then delivered; all three counted.
  CHECK(smtp.mails().front().at("n").as_int64() == 2);
  const auto metrics = http_call(d.port(), "GET", "/metrics").body;
  CHECK(metrics.find("epoch_notifications_delivered_total{channel=\"mail\"} 3") !=
        std::string::npos);
  CHECK(metrics.find("epoch_notifications_delivered_total{channel=\"webhook\"} 1") !=
        std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a topology's webhooks reach loopback only when allowed, signed with its own key") {
  const std::string dir = epoch::test::make_temp_dir("epochd-webhooks-ssrf");
  Receiver receiver(dir, 0, false);
  const std::string secret = "the server-wide webhook secret";
  std::ofstream(dir + "/secret") << secret << "\n";
  const std::string port = std::to_string(receiver.port);
  const std::string admin = "http://127.0.0.1:" + port + "/internal/admin";
  const std::string named = "http://localhost:" + port + "/internal/named";
  const std::vector<std::pair<std::string, std::string>> json_type = {
      {"Content-Type", "application/json"}};
  const std::string never = "0 0 0 1 1 ? 2099";
  const auto create_and_run = [&](DaemonProcess& d) {
    for (const auto& [name, url] : {std::pair{"admin", admin}, std::pair{"named", named}}) {
      const auto r = http_call(d.port(), "POST", "/apis/v1/topologies",
                               topology(name, "true", never, "",
                                        R"({"type":"BLACKHOLE","webhooks":[")" + url + R"("]})"),
                               json_type);
      REQUIRE_MESSAGE(r.status == 200, r.body);
      REQUIRE(
          http_call(d.port(), "PUT", std::string("/apis/v1/topologies/") + name + "/run").status ==
          200);
    }
  };
  const auto paths = [&] {
    std::map<std::string, int> out;
    for (const auto& h : receiver.hooks())
      ++out[std::string(h.at("path").as_string())];
    return out;
  };
  const auto webhook_metric = [&](DaemonProcess& d, const std::string& which, int n) {
    return http_call(d.port(), "GET", "/metrics")
        .body.find("epoch_notifications_" + which + "_total{channel=\"webhook\"} " +
                   std::to_string(n) + "\n");
  };
  std::filesystem::create_directories(dir + "/refused");
  std::filesystem::create_directories(dir + "/allowed");
  {
    // No allow-list: both runs reach the operator's URL (loopback too: the
    // operator's choice), neither reaches the topology's own.
    DaemonProcess d(EPOCHD_BINARY, dir + "/refused",
                    {"--store", "memory", "--webhook-urls", receiver.url(), "--webhook-secret-file",
                     dir + "/secret", "--webhook-attempts", "5"});
    create_and_run(d);
    REQUIRE(eventually([&] { return paths()["/hook"] == 2; }, 20s, 100ms));
    // Refused at once (not retried with backoff), reported and counted.
    REQUIRE(eventually([&] { return webhook_metric(d, "failed", 2) != std::string::npos; }, 10s,
                       100ms));
    CHECK(webhook_metric(d, "delivered", 2) != std::string::npos);
    const std::string log = d.log();
    CHECK(log.find("refused: 127.0.0.1 is a loopback address") != std::string::npos);
    CHECK(log.find("--webhook-allow-networks") != std::string::npos);
    CHECK(log.find(named) != std::string::npos);
    std::this_thread::sleep_for(500ms);
    CHECK(paths() == std::map<std::string, int>{{"/hook", 2}});
  }
  {
    DaemonProcess d(EPOCHD_BINARY, dir + "/allowed",
                    {"--store", "memory", "--webhook-urls", receiver.url(), "--webhook-secret-file",
                     dir + "/secret", "--webhook-allow-networks", "127.0.0.1/32"});
    create_and_run(d);
    REQUIRE(eventually(
        [&] {
          auto p = paths();
          return p["/hook"] == 4 && p["/internal/admin"] == 1 && p["/internal/named"] == 1;
        },
        20s, 100ms));
    CHECK(eventually([&] { return webhook_metric(d, "delivered", 4) != std::string::npos; }, 5s));
  }
  // The operator's URL: signed with the secret. A topology's: with
  // hex(HMAC-SHA256(secret, "epoch-topology-webhook:" + id)), never the secret.
  for (const auto& h : receiver.hooks()) {
    const std::string path(h.at("path").as_string());
    const std::string body(h.at("body").as_string());
    const std::string signature(h.at("headers").at("x-epoch-signature").as_string());
    const std::string id(json::parse(body).at("topologyId").as_string());
    CAPTURE(path);
    if (path == "/hook") {
      CHECK(signature == "sha256=" + hmac_sha256_hex(secret, body));
    } else {
      CHECK(path == "/internal/" + id);
      CHECK(signature ==
            "sha256=" +
                hmac_sha256_hex(hmac_sha256_hex(secret, "epoch-topology-webhook:" + id), body));
      CHECK(signature != "sha256=" + hmac_sha256_hex(secret, body));
      // The key the operator hands the topology's owner: `epochd webhook-key`.
      const auto key = epoch::test::run_process({EPOCHD_BINARY, "webhook-key", id}, secret + "\n");
      CHECK(key.exit_code == 0);
      CHECK(signature == "sha256=" + hmac_sha256_hex(key.out.substr(0, key.out.find('\n')), body));
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("an allowed webhook network that is not a CIDR stops epochd with the reason") {
  const std::string dir = epoch::test::make_temp_dir("epochd-webhook-networks");
  const std::string out = dir + "/out";
  const pid_t pid = epoch::test::spawn_process(
      EPOCHD_BINARY,
      {"--store", "memory", "--port", "0", "--webhook-allow-networks", "127.0.0.1/32,10.0.0.0/33"},
      dir, out, out);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WEXITSTATUS(status) != 0);
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("10.0.0.0/33") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("mail configuration errors stop epochd with the reason") {
  const std::string dir = epoch::test::make_temp_dir("epochd-mail-config");
  const std::string out = dir + "/out";
  const pid_t pid = epoch::test::spawn_process(
      EPOCHD_BINARY, {"--store", "memory", "--port", "0", "--mail-smtp-server", "localhost"}, dir,
      out, out);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WEXITSTATUS(status) != 0);
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("--mail-from") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a topology's webhooks and events are validated") {
  const std::string dir = epoch::test::make_temp_dir("epochd-notify-validation");
  std::filesystem::create_directories(dir + "/epochd");
  DaemonProcess d(EPOCHD_BINARY, dir + "/epochd", {"--store", "memory"});
  const auto r = http_call(
      d.port(), "POST", "/apis/v1/topologies",
      topology("bad-notify", "true", "0 0 0 1 1 ? 2099", "",
               R"({"type":"BLACKHOLE","webhooks":["ftp://x/y"],"events":["RUN_EXPLODED"]})"),
      {{"Content-Type", "application/json"}});
  CHECK(r.status == 400);
  CHECK(r.body.find("notify.webhooks[0]") != std::string::npos);
  CHECK(r.body.find("notify.events[0]") != std::string::npos);
  CHECK(http_call(d.port(), "GET", "/apis/v1/topologies").body.find("bad-notify") ==
        std::string::npos);
  std::filesystem::remove_all(dir);
}
