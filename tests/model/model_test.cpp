// Model helpers: durations, names, ids, validation.
#include "epoch/model.h"

#include <doctest/doctest.h>

#include <string>

using epoch::Duration;

TEST_CASE("durations: Dropwizard's forms") {
  CHECK(*epoch::parse_duration("120 seconds") == Duration{120, Duration::Unit::kSeconds});
  CHECK(*epoch::parse_duration("120s") == Duration{120, Duration::Unit::kSeconds});
  CHECK(*epoch::parse_duration("2 minutes") == Duration{2, Duration::Unit::kMinutes});
  CHECK(*epoch::parse_duration("2 minute") == Duration{2, Duration::Unit::kMinutes});
  CHECK(*epoch::parse_duration("5m") == Duration{5, Duration::Unit::kMinutes});
  CHECK(*epoch::parse_duration("500ms") == Duration{500, Duration::Unit::kMilliseconds});
  CHECK(*epoch::parse_duration(" 1 DAY ") == Duration{1, Duration::Unit::kDays});
  CHECK(epoch::to_string(Duration{1, Duration::Unit::kHours}) == "1 hours");
  CHECK(Duration::minutes(2).to_millis().count() == 120000);
  for (const char* bad :
       {"", "seconds", "12", "12 fortnights", "-5s", "1.5s", "99999999999999999999 days"}) {
    INFO(bad);
    CHECK_FALSE(epoch::parse_duration(bad).ok());
  }
}

TEST_CASE("run and task ids are deterministic and UTC") {
  const epoch::Instant t = *epoch::parse_instant("2026-11-01T06:30:00.250Z");
  CHECK(epoch::make_run_id(epoch::RunType::kScheduled, t) == "ESR-2026-11-01-06-30-00-250");
  CHECK(epoch::make_run_id(epoch::RunType::kInstant, t) == "EIR-2026-11-01-06-30-00-250");
  CHECK(epoch::make_task_id("daily", "ESR-x", "docker-task") == "daily-ESR-x-docker-task");
  CHECK(epoch::make_task_id("daily", "ESR-x", "docker-task", 2) == "daily-ESR-x-docker-task-2");
}

TEST_CASE("state names parse in any case and say what is accepted") {
  CHECK(*epoch::parse_run_state("successful") == epoch::RunState::kSuccessful);
  CHECK(*epoch::parse_run_state("MISSED") == epoch::RunState::kMissed);
  CHECK(*epoch::parse_task_state("Cancelled") == epoch::TaskState::kCancelled);
  auto bad = epoch::parse_run_state("DONE");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "unknown run state 'DONE' (expected one of RUNNING, COMPLETED, SUCCESSFUL, SKIPPED, "
        "FAILED, MISSED)");
  CHECK(epoch::is_terminal(epoch::TaskState::kCancelled));
  CHECK_FALSE(epoch::is_terminal(epoch::TaskState::kUnknown));
  CHECK_FALSE(epoch::is_terminal(epoch::RunState::kRunning));
}

namespace {

epoch::Topology valid_topology() {
  epoch::ProcessTask p;
  p.task_name = "hello";
  p.command = "/bin/true";
  epoch::Topology t;
  t.name = "hello-world";
  t.task.spec = p;
  t.trigger = epoch::CronTrigger{"0/2 * * * * ?", std::nullopt};
  return t;
}

}  // namespace

TEST_CASE("validation lists every broken rule with its place") {
  CHECK(epoch::validate(valid_topology()).ok());
  epoch::Topology t = valid_topology();
  t.name = "bad name!";
  t.trigger = epoch::CronTrigger{"0 0 25 * * ?", std::string("Mars/Base")};
  epoch::CompositeTask comp;
  comp.tasks.push_back(valid_topology().task);
  comp.tasks.push_back(valid_topology().task);  // duplicate task name
  epoch::ContainerTask c;
  c.task_name = "box";
  comp.tasks.push_back({c});
  t.task.spec = comp;
  t.notify = epoch::MailNotification{{"ok@example.com", "not-an-email"}, {}};
  epoch::Policies p;
  p.retry = epoch::RetryPolicy{};
  p.retry->max_attempts = 0;
  t.policies = p;
  const epoch::Status s = epoch::validate(t);
  REQUIRE_FALSE(s.ok());
  for (const char* part :
       {"name: - Only alphanumeric", "task.tasks[1].taskName: 'hello' is used",
        "task.tasks[2].executable.url: must not be empty",
        "task.tasks[2].resources: CPU/Memory requirements", "trigger.timeSpec: cron hours field",
        "trigger.timeZone: unknown time zone", "notify.emails[1]: 'not-an-email'",
        "policies.retry.maxAttempts"}) {
    INFO(part);
    CHECK(s.message().find(part) != std::string::npos);
  }
}

TEST_CASE("simple request validation follows Epoch's UI rules") {
  epoch::SimpleTopologyRequest r;
  r.name = "daily";
  r.cron = "0 0 6 * * ?";
  r.docker = "docker.io/library/busybox:1.36";
  r.cpus = 1;
  r.memory = 512;
  r.notify_email = "a@example.com,b@example.com";
  CHECK(epoch::validate(r, true).ok());
  for (const char* image :
       {"busybox", "busybox:1.36", "registry.example.com:5000/team/app:v1", "localhost/app",
        "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef"}) {
    r.docker = image;
    INFO(image);
    CHECK(epoch::validate(r, true).ok());
  }
  r.docker = "Not An Image";
  r.cpus = 41;
  r.memory = 64;
  r.cron = "* * * * *";
  r.notify_email = "nobody";
  r.name = "";
  const epoch::Status s = epoch::validate(r, true);
  REQUIRE_FALSE(s.ok());
  for (const char* part : {"name:", "cron:", "docker:", "cpus: must be 1-40", "memory: must be",
                           "notifyEmail: Invalid email(s) format"}) {
    INFO(part);
    CHECK(s.message().find(part) != std::string::npos);
  }
  // Edits carry no name.
  r = epoch::SimpleTopologyRequest{
      "", "0 0 6 * * ?", "busybox", 1, 128, "a@example.com", {}, {}, {}, {}};
  CHECK(epoch::validate(r, false).ok());
}

TEST_CASE("a 100,000-character e-mail is refused cleanly, not by a stack overflow") {
  epoch::Topology t = valid_topology();
  t.notify = epoch::MailNotification{{std::string(100000, 'a') + "@b.cc"}, {}};
  const epoch::Status s = epoch::validate(t);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("notify.emails[0]: 100005 characters, at most 254") != std::string::npos);
}
