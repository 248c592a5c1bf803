// Epoch's wire format: the bodies of epoch-reference.md §2.7-2.9 decode,
// encode back to the same JSON, and bad input says where it is wrong.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <string>

#include "epoch/model.h"
#include "epoch_examples.h"

namespace json = boost::json;

namespace {

using epoch::test::kEpochFullCreate;

// The run record of §2.7.
const char* kRun =
    R"({"topologyId":"daily-report","runId":"ESR-2024-10-18-06-00-00-000","state":"SUCCESSFUL","message":"Task successful",
 "tasks":{"docker-task":{"taskId":"daily-report-ESR-2024-10-18-06-00-00-000-docker-task","state":"COMPLETED",
          "upstreamId":"daily-report-ESR-2024-10-18-06-00-00-000-docker-task","errorMessage":""}},
 "runType":"SCHEDULED","created":1729231200012,"updated":1729231265530})";

json::value parsed(const std::string& s) {
  return json::parse(s);
}

}  // namespace

TEST_CASE("the full create example round-trips exactly") {
  auto t = epoch::topology_from_json(kEpochFullCreate);
  REQUIRE_MESSAGE(t.ok(), t.status().message());
  CHECK(t->name == "daily-report");
  const auto& c = std::get<epoch::ContainerTask>(t->task.spec);
  CHECK(c.executable.url == "docker.io/library/busybox:1.36");
  CHECK(c.executable.docker_pull_timeout == epoch::Duration::seconds(120));
  REQUIRE(c.resources.size() == 2);
  CHECK(c.resources[1].amount == 512);
  CHECK(c.volumes->at(0).mode == epoch::Volume::Mode::kReadOnly);
  CHECK(c.env->at("MODE") == "daily");
  CHECK(std::get<epoch::CronTrigger>(t->trigger).time_spec == "0 0 6 * * ?");
  CHECK(parsed(epoch::to_json(*t)) == parsed(kEpochFullCreate));
  CHECK(epoch::validate(*t).ok());
}

TEST_CASE("details and run records round-trip") {
  const std::string details =
      std::string(R"({"id":"daily-report","topology":)") + kEpochFullCreate +
      R"(,"state":"PAUSED","created":1729228800000,"updated":1729228800001})";
  auto d = epoch::topology_details_from_json(details);
  REQUIRE_MESSAGE(d.ok(), d.status().message());
  CHECK(d->state == epoch::TopologyState::kPaused);
  CHECK(epoch::to_epoch_millis(d->updated) == 1729228800001);
  CHECK(parsed(epoch::to_json(*d)) == parsed(details));

  auto r = epoch::run_info_from_json(kRun);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->state == epoch::RunState::kSuccessful);
  CHECK(r->tasks.at("docker-task").state == epoch::TaskState::kCompleted);
  CHECK(parsed(epoch::to_json(*r)) == parsed(kRun));
}

TEST_CASE("a composite, a process task, AT trigger, policies and extensions round-trip") {
  const char* body = R"({"name":"etl","task":{"type":"COMPOSITE","tasks":[
      {"type":"PROCESS","taskName":"extract","command":"/bin/echo","args":["hi"],"env":{"A":"1"},"workingDirectory":"/tmp"},
      {"type":"COMPOSITE","tasks":[{"type":"PROCESS","taskName":"load","command":"true","args":[],"env":{}}],"compositionType":"ANY"}],
      "compositionType":"ALL"},
    "trigger":{"type":"AT","time":1767225600000},
    "notify":{"type":"BLACKHOLE","webhooks":["https://hooks.example.com/epoch"],"events":["RUN_FAILED","RUN_MISSED"]},
    "policies":{"overlap":{"mode":"ALLOW","maxConcurrent":3},
                "catchUp":{"mode":"ALL","window":"2 hours","maxRuns":5},
                "retry":{"maxAttempts":3,"initialBackoff":"5 seconds","maxBackoff":"1 minutes","multiplier":2.0,"jitter":0.1,"on":["FAILED","TIMED_OUT"]},
                "timeout":"30 minutes","startDeadline":"5 minutes",
                "retention":{"maxRuns":20,"maxAge":"7 days"}}})";
  auto t = epoch::topology_from_json(body);
  REQUIRE_MESSAGE(t.ok(), t.status().message());
  CHECK(parsed(epoch::to_json(*t)) == parsed(body));
  CHECK(epoch::validate(*t).ok());
  CHECK(epoch::leaf_tasks(t->task).size() == 2);
  CHECK(epoch::task_name(*epoch::leaf_tasks(t->task)[1]) == "load");
  CHECK(t->policies->overlap->mode == epoch::OverlapMode::kAllow);
  CHECK(t->policies->catch_up->window.to_millis() == std::chrono::hours(2));
  const epoch::NotifyRouting& routing = epoch::routing_of(*t->notify);
  CHECK(routing.webhooks == std::vector<std::string>{"https://hooks.example.com/epoch"});
  CHECK(*routing.events == std::vector<std::string>{"RUN_FAILED", "RUN_MISSED"});
  // Bad routing is refused with the path of each mistake.
  epoch::Topology bad = *t;
  bad.notify = epoch::MailNotification{
      {"a@example.com"}, epoch::NotifyRouting{{"mailto:x", "http://"}, {{"RUN_NOPE"}}}};
  const std::string why = epoch::validate(bad).message();
  CHECK(why.find("notify.webhooks[0]: 'mailto:x'") != std::string::npos);
  CHECK(why.find("notify.webhooks[1]") != std::string::npos);
  CHECK(why.find("notify.events[0]: 'RUN_NOPE' is unknown") != std::string::npos);
}

TEST_CASE("a FUNCTION task (a job of the embedding program) round-trips; its data is an object") {
  const char* body = R"({"name":"digest","task":{"type":"COMPOSITE","tasks":[
      {"type":"FUNCTION","taskName":"collect","job":"collect-stats","data":{"team":"ops","days":[1,2],"n":3}},
      {"type":"FUNCTION","taskName":"send","job":"send-digest"}],"compositionType":"ALL"},
    "trigger":{"type":"CRON","timeSpec":"0 0 9 ? * MON"}})";
  auto t = epoch::topology_from_json(body);
  REQUIRE_MESSAGE(t.ok(), t.status().message());
  CHECK(parsed(epoch::to_json(*t)) == parsed(body));
  CHECK(epoch::validate(*t).ok());
  const auto leaves = epoch::leaf_tasks(t->task);
  REQUIRE(leaves.size() == 2);
  const auto& f = std::get<epoch::FunctionTask>(leaves[0]->spec);
  CHECK(f.job == "collect-stats");
  CHECK(parsed(f.data->text) == parsed(R"({"team":"ops","days":[1,2],"n":3})"));
  CHECK_FALSE(std::get<epoch::FunctionTask>(leaves[1]->spec).data);
  CHECK(epoch::task_name(*leaves[1]) == "send");

  const auto refused = [](const std::string& task) {
    auto r = epoch::topology_from_json(R"({"name":"x","task":)" + task +
                                       R"(,"trigger":{"type":"CRON","timeSpec":"0 0 9 * * ?"}})");
    if (!r.ok()) return r.status().message();
    return epoch::validate(*r).message();
  };
  CHECK(refused(R"({"type":"FUNCTION","taskName":"a"})") == "$.task.job: required");
  CHECK(refused(R"({"type":"FUNCTION","taskName":"a","job":"x","data":[1]})")
            .find("$.task.data: expected an object") == 0);
  CHECK(refused(R"({"type":"FUNCTION","taskName":"a","job":"no spaces"})")
            .find("task.job: must be 1-255 characters of [a-zA-Z0-9_-]") != std::string::npos);
  CHECK(refused(R"({"type":"FUNCTION","taskName":"a","job":"x","data":{"k":")" +
                std::string(70000, 'v') + R"("}})")
            .find("task.data: 70008 characters, at most 65536") != std::string::npos);
}

TEST_CASE(
    "Epoch's reading rules: unknown fields ignored, nulls absent, enums any case, ISO dates") {
  const char* body = R"({"name":"x","surprise":{"a":1},"notify":null,
    "task":{"type":"container_execution","taskName":"t","executable":{"url":"busybox","dockerPullTimeout":"2 minute"},
            "resources":[{"type":"cpu","count":1},{"type":"Memory","sizeInMB":128}],"volumes":null},
    "trigger":{"type":"cron","timeSpec":"0 0 6 * * ?","timeZone":"Asia/Kolkata"}})";
  auto t = epoch::topology_from_json(body);
  REQUIRE_MESSAGE(t.ok(), t.status().message());
  CHECK_FALSE(t->notify.has_value());
  const auto& c = std::get<epoch::ContainerTask>(t->task.spec);
  CHECK_FALSE(c.volumes.has_value());
  CHECK(c.executable.docker_pull_timeout == epoch::Duration::minutes(2));
  const json::value out = parsed(epoch::to_json(*t));
  CHECK_FALSE(out.as_object().contains("notify"));
  CHECK_FALSE(out.at("task").as_object().contains("volumes"));
  CHECK(out.at("task").at("executable").at("dockerPullTimeout") == "2 minutes");
  CHECK(out.at("trigger").at("timeZone") == "Asia/Kolkata");

  auto r = epoch::run_info_from_json(
      R"({"topologyId":"x","runId":"r","state":"failed","runType":"instant","created":"2026-01-01T00:00:00Z"})");
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r->state == epoch::RunState::kFailed);
  CHECK(r->run_type == epoch::RunType::kInstant);
  CHECK(epoch::to_epoch_millis(r->created) == 1767225600000);
}

TEST_CASE("decode errors name the JSON path and what was expected") {
  struct Case {
    const char* body;
    const char* message;
  };
  const std::string task =
      R"("task":{"type":"CONTAINER_EXECUTION","taskName":"t","executable":{"url":"busybox"},"resources":[{"type":"CPU","count":1}]})";
  const std::string trig = R"("trigger":{"type":"CRON","timeSpec":"0 0 6 * * ?"})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "malformed JSON"},
      {"[]", "$: expected an object, found an array"},
      {R"({"name":"x",)" + trig + "}", "$.task: required"},
      {R"({"name":"x",)" + task + "}", "$.trigger: required"},
      {R"({"name":7,)" + task + "," + trig + "}", "$.name: expected a string, found a number"},
      {R"({"name":"x","task":{"type":"SHELL"},)" + trig + "}",
       "$.task.type: unknown task type 'SHELL' (expected CONTAINER_EXECUTION, COMPOSITE, PROCESS, "
       "FUNCTION)"},
      {R"({"name":"x","task":{"type":"CONTAINER_EXECUTION","executable":{"url":"b"},"resources":[{"type":"CPU","count":1},{"type":"MEMORY","sizeInMB":"big"}]},)" +
           trig + "}",
       "$.task.resources[1].sizeInMB: expected an integer, found a string"},
      {R"({"name":"x",)" + task + R"(,"trigger":{"type":"CRON"}})", "$.trigger.timeSpec: required"},
      {R"({"name":"x",)" + task + R"(,"trigger":{"type":"AT","time":"soon"}})",
       "$.trigger.time: invalid instant 'soon'"},
      {R"({"name":"x","task":{"type":"CONTAINER_EXECUTION","executable":{"url":"b","dockerPullTimeout":"forever"},"resources":[]},)" +
           trig + "}",
       "$.task.executable.dockerPullTimeout: invalid duration 'forever'"},
      {R"({"name":"x",)" + task + "," + trig + R"(,"policies":{"overlap":{"mode":"SOMETIMES"}}})",
       "$.policies.overlap.mode: unknown overlap mode 'SOMETIMES' (expected one of SERIAL, FORBID, "
       "ALLOW, REPLACE)"},
  };
  for (const auto& [body, message] : cases) {
    INFO(body);
    auto t = epoch::topology_from_json(body);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().code() == epoch::StatusCode::kInvalidArgument);
    CHECK(t.status().message().find(message) == 0);
  }
}

TEST_CASE("the simple UI request becomes Epoch's single docker task") {
  auto r = epoch::simple_request_from_json(
      R"({"name":"daily-report","cron":"0 0 6 * * ?","docker":"docker.io/library/busybox:1.36","cpus":1,"memory":512,
          "notifyEmail":"oncall@example.com, dev@example.com","env":{"MODE":"daily"},
          "volumes":[{"pathOnHost":"/mnt/data","pathInContainer":"/data","mode":"READ_ONLY"}]})");
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(epoch::validate(*r, true).ok());
  const epoch::Topology t = epoch::to_topology(*r, r->name);
  const json::value expected = json::parse(R"({"name":"daily-report",
    "task":{"type":"CONTAINER_EXECUTION","taskName":"docker-task",
      "executable":{"type":"DOCKER","url":"docker.io/library/busybox:1.36","dockerPullTimeout":"120 seconds"},
      "resources":[{"type":"CPU","count":1},{"type":"MEMORY","sizeInMB":512}],
      "volumes":[{"pathInContainer":"/data","pathOnHost":"/mnt/data","mode":"READ_ONLY"}],
      "configs":[],"logging":{"type":"LOCAL","maxSize":"10m","maxFiles":3,"compress":true},
      "placementPolicy":{"type":"ANY"},"tags":{},"env":{"MODE":"daily"}},
    "trigger":{"type":"CRON","timeSpec":"0 0 6 * * ?"},
    "notify":{"type":"MAIL","emails":["oncall@example.com","dev@example.com"]}})");
  CHECK(parsed(epoch::to_json(t)) == expected);
  CHECK(epoch::validate(t).ok());
}

TEST_CASE("a passed-through spec with a long number reads back as itself") {
  // Boost.JSON 1.81 parses such numbers imprecisely; found by model_json_fuzz.
  std::string body = kEpochFullCreate;
  const std::string from = R"("maxFiles": 3)";
  body.replace(body.find(from), from.size(), R"("maxFiles": 3)" + std::string(97, '9'));
  auto t = epoch::topology_from_json(body);
  REQUIRE_MESSAGE(t.ok(), t.status().message());
  auto again = epoch::topology_from_json(epoch::to_json(*t));
  REQUIRE(again.ok());
  CHECK(*again == *t);
  CHECK(epoch::to_json(*again) == epoch::to_json(*t));
}
