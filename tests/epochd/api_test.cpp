// The REST API as a function from request to response, without sockets:
// Api::handle over a Scheduler on a ManualClock, a FakeExecutor and a
// MemoryStore, so fires are driven deterministically.
#include "api.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <optional>

#include "harness.h"

using namespace epoch;
using namespace epoch::test;
namespace json = boost::json;

namespace {

struct ApiHarness {
  Harness h{at("2026-01-01T00:00:00Z")};
  epochd::Metrics metrics;
  std::unique_ptr<epochd::Api> api;

  ApiHarness() {
    h.start();
    api = std::make_unique<epochd::Api>(*h.scheduler, *h.store, h.elector, h.executor, metrics,
                                        epochd::ApiOptions{});
  }

  epochd::HttpResponse call(const std::string& method, const std::string& target,
                            const std::string& body = "") {
    std::optional<epochd::HttpResponse> out;
    api->handle(epochd::parse_route(method, target), {method, target, {}, body, ""},
                epochd::Principal{"test", epochd::Role::kAdmin},
                [&](epochd::HttpResponse r) { out = std::move(r); });
    h.pump();
    REQUIRE(out.has_value());
    return *out;
  }
  json::object env(const std::string& method, const std::string& target,
                   const std::string& body = "") {
    return json::parse(call(method, target, body).body).as_object();
  }
};

constexpr const char* kTopology =
    R"({"name":"nightly","task":{"type":"PROCESS","taskName":"main","command":"/bin/true"},
        "trigger":{"type":"CRON","timeSpec":"0 0 2 * * ?","timeZone":"Europe/Berlin"}})";

}  // namespace

TEST_CASE("create, fire on the manual clock, read the runs: all through Api::handle") {
  ApiHarness a;
  auto created = a.env("POST", "/apis/v1/topologies", kTopology);
  CHECK(created["status"] == "SUCCESS");
  auto got = a.env("GET", "/apis/v1/topologies/nightly");
  // 02:00 in Berlin is 01:00 UTC in winter.
  CHECK(got["data"].at("nextFireTime") == json::value(to_epoch_millis(at("2026-01-01T01:00:00Z"))));

  a.h.advance_to(at("2026-01-03T00:00:00Z"));
  auto runs = a.env("GET", "/apis/v1/topologies/nightly/runs");
  REQUIRE(runs["data"].as_array().size() == 2);
  CHECK(runs["data"].as_array()[0].at("runId") == "ESR-2026-01-02-01-00-00-000");
  CHECK(runs["data"].as_array()[0].at("state") == "SUCCESSFUL");
  auto one = a.env("GET", "/apis/v1/topologies/nightly/runs?limit=1&state=successful");
  CHECK(one["data"].as_array().size() == 1);

  // An executor with a log URL (Drove's UI, here the fake's): the link is it.
  auto log =
      a.env("GET", "/apis/v1/topologies/nightly/runs/ESR-2026-01-02-01-00-00-000/tasks/main/log");
  CHECK(log["data"] == "fake://logs/nightly-ESR-2026-01-02-01-00-00-000-main");
  auto output = a.call(
      "GET", "/apis/v1/topologies/nightly/runs/ESR-2026-01-02-01-00-00-000/tasks/main/output");
  CHECK(output.status == 404);
  CHECK(output.body.find("see fake://logs/") != std::string::npos);

  const epochd::HttpResponse metrics = a.call("GET", "/metrics");
  CHECK(metrics.body.find("epoch_topologies{state=\"ACTIVE\"} 1") != std::string::npos);
  // (Requests are counted by FrontDoor, under the route's template: see
  // security_test's metrics case.)
}

TEST_CASE("errors without sockets: status codes and Epoch's messages") {
  ApiHarness a;
  CHECK(a.call("GET", "/apis/v1/topologies/%zz").status == 400);
  CHECK(a.call("GET", "/nowhere").status == 404);
  CHECK(a.call("DELETE", "/apis/v1/topologies").status == 405);
  CHECK(a.env("GET", "/apis/v1/topologies/none")["message"] == "No such topology: none");
  CHECK(a.call("PUT", "/apis/v1/topologies/none/pause").status == 404);
  auto cron = a.call("GET", "/apis/v1/cron/next?expr=0+0+2+31+2+%3F");
  CHECK(cron.status == 200);
  CHECK(json::parse(cron.body).at("data").at("neverFires") == json::value(true));
  CHECK(json::parse(cron.body).at("data").at("next").as_array().empty());

  // A FUNCTION task (a job of a program that embeds libepoch) has nothing
  // to run it in epochd: refused, wherever it sits in the tree.
  auto function = a.call("POST", "/apis/v1/topologies",
                         R"({"name":"jobs","task":{"type":"COMPOSITE","tasks":[
                               {"type":"PROCESS","taskName":"a","command":"/bin/true"},
                               {"type":"FUNCTION","taskName":"b","job":"send-digest",
                                "data":{"team":"ops"}}]},
                             "trigger":{"type":"CRON","timeSpec":"0 0 2 * * ?"}})");
  CHECK(function.status == 400);
  CHECK(function.body.find("task.tasks[1]: a FUNCTION task (job 'send-digest') runs only in a "
                           "program that embeds libepoch") != std::string::npos);
  CHECK(a.env("GET", "/apis/v1/topologies/jobs")["message"] == "No such topology: jobs");

  // Not the leader: refused with 503, nothing changes.
  a.h.elector.revoke();
  a.h.pump();
  auto refused = a.call("POST", "/apis/v1/topologies", kTopology);
  CHECK(refused.status == 503);
  CHECK(a.call("GET", "/healthcheck").status == 503);
}

TEST_CASE("bytes that are not UTF-8 in a URL come back as valid JSON (found by the HTTP fuzzer)") {
  ApiHarness a;
  for (const char* target : {"/apis/v1/topologies/%FF%FE", "/apis/v1/%C0%AF/x",
                             "/apis/v1/topologies/x/runs?state=%ED%A0%80",
                             "/apis/v1/\xd1\x88\x97\x8e"
                             "ami"}) {
    const epochd::HttpResponse r = a.call("GET", target);
    boost::system::error_code ec;
    const json::value v = json::parse(r.body, ec);
    CHECK_MESSAGE(!ec, target << ": " << r.body);
    if (!ec) CHECK(v.at("status") == "FAILED");
  }
  CHECK(epochd::utf8_safe("ok \xc3\xa9 \xff \xed\xa0\x80 \xf0\x9f\x98\x80") ==
        "ok \xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80");
}
