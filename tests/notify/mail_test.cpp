// What mail a run event produces (epoch::compose_mail): Epoch's subjects and
// bodies, its recipient fallback and disableForSuccessfulRuns, the fixed
// "All tasks seem to have succeeded.", and a topology's own event selection.
// Delivery over SMTP is tested end to end in tests/epochd/notify_test.cpp.
#include <doctest/doctest.h>

#include "../../libepoch/notify/notify_common.h"
#include "epoch/mail_sink.h"

using epoch::Event;
using epoch::MailOptions;
using epoch::RunState;
using epoch::TaskState;

namespace {

Event run_event(RunState state, std::optional<epoch::Notification> notify = std::nullopt) {
  auto topology = std::make_shared<epoch::Topology>();
  topology->name = "report";
  topology->notify = std::move(notify);
  auto run = std::make_shared<epoch::RunInfo>();
  run->topology_id = "report";
  run->run_id = "ESR-2026-11-27-06-00-00-000";
  run->state = state;
  run->created = epoch::Instant(std::chrono::milliseconds(1'000'000));
  run->updated = epoch::Instant(std::chrono::milliseconds(1'004'250));
  epoch::TaskRunInfo a;
  a.task_id = "report-ESR-2026-11-27-06-00-00-000-extract";
  a.upstream_id = "up-extract";
  a.state = TaskState::kCompleted;
  // Prepared at 1'000'000 (created), started 500 ms later at the nominal time.
  a.started = epoch::Instant(std::chrono::milliseconds(1'000'500));
  a.finished = epoch::Instant(std::chrono::milliseconds(1'002'000));
  run->tasks["extract"] = a;
  epoch::TaskRunInfo b = a;
  b.task_id = "report-ESR-2026-11-27-06-00-00-000-load";
  b.upstream_id = "up-load";
  b.started = epoch::Instant(std::chrono::milliseconds(1'002'010));
  b.finished = epoch::Instant(std::chrono::milliseconds(1'004'250));
  run->tasks["load"] = b;
  Event e;
  e.type = Event::Type::kRunStateChanged;
  e.topology_id = "report";
  e.run_id = run->run_id;
  e.run_state = state;
  e.run_type = epoch::RunType::kScheduled;
  e.scheduled_time = epoch::Instant(std::chrono::milliseconds(1'000'000));
  e.topology = topology;
  e.run = run;
  return e;
}

MailOptions options() {
  MailOptions o;
  o.default_recipients = {"ops@example.com"};
  return o;
}

epoch::MailNotification mail_to(std::vector<std::string> to, std::vector<std::string> events = {}) {
  epoch::MailNotification m{std::move(to), {}};
  if (!events.empty()) m.routing = epoch::NotifyRouting{{}, std::move(events)};
  return m;
}

}  // namespace

TEST_CASE("a successful run: Epoch's subject and body, to the topology's recipients") {
  const auto m = epoch::compose_mail(run_event(RunState::kSuccessful, mail_to({"dev@example.com"})),
                                     "RUN_SUCCEEDED", options());
  REQUIRE(m);
  CHECK(m->to == std::vector<std::string>{"dev@example.com"});
  CHECK(m->subject == "Topology run report/ESR-2026-11-27-06-00-00-000 completed successfully");
  CHECK(m->body ==
        "Tasks completed: [report-ESR-2026-11-27-06-00-00-000-extract, "
        "report-ESR-2026-11-27-06-00-00-000-load] in 3750 ms");
}

TEST_CASE("recipients fall back to the defaults, then to nobody") {
  CHECK(epoch::compose_mail(run_event(RunState::kFailed), "RUN_FAILED", options())->to ==
        std::vector<std::string>{"ops@example.com"});
  CHECK(epoch::compose_mail(run_event(RunState::kFailed, epoch::BlackholeNotification{}),
                            "RUN_FAILED", options())
            ->to == std::vector<std::string>{"ops@example.com"});
  CHECK(
      epoch::compose_mail(run_event(RunState::kFailed, mail_to({})), "RUN_FAILED", options())->to ==
      std::vector<std::string>{"ops@example.com"});
  CHECK_FALSE(epoch::compose_mail(run_event(RunState::kFailed), "RUN_FAILED", MailOptions{}));
}

TEST_CASE("a failed run names the failed task, a cancelled one says so") {
  Event e = run_event(RunState::kFailed);
  auto run = std::make_shared<epoch::RunInfo>(*e.run);
  run->tasks["load"].state = TaskState::kFailed;
  run->tasks["load"].error_message = "exit code 3";
  e.run = run;
  auto m = epoch::compose_mail(e, "RUN_FAILED", options());
  REQUIRE(m);
  CHECK(m->subject == "Topology run report/ESR-2026-11-27-06-00-00-000 failed");
  CHECK(m->body ==
        "Task report-ESR-2026-11-27-06-00-00-000-load with upstream ID up-load failed with "
        "error: exit code 3");

  // Epoch: "All tasks seem to have succeeded." — not so.
  run->tasks["load"].state = TaskState::kCancelled;
  run->tasks["load"].error_message = "killed by user";
  m = epoch::compose_mail(e, "RUN_FAILED", options());
  CHECK(m->body ==
        "Task report-ESR-2026-11-27-06-00-00-000-load with upstream ID up-load was cancelled: "
        "killed by user");
  run->tasks["load"].state = TaskState::kCompleted;
  run->reason = "the executor lost the task";
  m = epoch::compose_mail(e, "RUN_FAILED", options());
  CHECK(m->body == "The run failed: the executor lost the task");
}

TEST_CASE("control characters from a task's output reach the body escaped, never raw") {
  Event e = run_event(RunState::kFailed);
  auto run = std::make_shared<epoch::RunInfo>(*e.run);
  run->tasks["load"].state = TaskState::kFailed;
  run->tasks["load"].error_message = "exit code 1: \x1b[2J\rFAKE: all good\x07\tdone";
  e.run = run;
  const auto m = epoch::compose_mail(e, "RUN_FAILED", options());
  REQUIRE(m);
  CHECK(m->body.find("\\x1b[2J\\x0dFAKE: all good\\x07\tdone") != std::string::npos);
  for (char c : m->body)
    CHECK((static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t'));
}

TEST_CASE("disableForSuccessfulRuns drops SUCCESSFUL, never COMPLETED") {
  MailOptions o = options();
  o.disable_for_successful_runs = true;
  CHECK_FALSE(epoch::compose_mail(run_event(RunState::kSuccessful), "RUN_SUCCEEDED", o));
  CHECK(epoch::compose_mail(run_event(RunState::kCompleted), "RUN_SUCCEEDED", o));
  CHECK(epoch::compose_mail(run_event(RunState::kFailed), "RUN_FAILED", o));
}

TEST_CASE("by default: succeeded, failed, timed out; a topology's events replace that") {
  const MailOptions o = options();
  CHECK(epoch::compose_mail(run_event(RunState::kFailed), "RUN_TIMED_OUT", o)->subject ==
        "Topology run report/ESR-2026-11-27-06-00-00-000 timed out");
  CHECK_FALSE(epoch::compose_mail(run_event(RunState::kMissed), "RUN_MISSED", o));
  CHECK_FALSE(epoch::compose_mail(run_event(RunState::kSkipped), "RUN_SKIPPED", o));

  const auto chosen = mail_to({"dev@example.com"}, {"RUN_MISSED", "RUN_RUNNING_LONG"});
  CHECK_FALSE(epoch::compose_mail(run_event(RunState::kFailed, chosen), "RUN_FAILED", o));
  Event missed = run_event(RunState::kMissed, chosen);
  missed.message = "no leader was running at the time";
  const auto m = epoch::compose_mail(missed, "RUN_MISSED", o);
  REQUIRE(m);
  CHECK(m->subject == "Topology run report/ESR-2026-11-27-06-00-00-000 was missed");
  CHECK(m->body ==
        "The fire due at 1970-01-01T00:16:40.000Z did not run: no leader was running at the time");
  Event long_run = run_event(RunState::kRunning, chosen);
  long_run.message = "still running after 60000 ms";
  CHECK(epoch::compose_mail(long_run, "RUN_RUNNING_LONG", o)->subject ==
        "Topology run report/ESR-2026-11-27-06-00-00-000 is still running");
  // Its start is the first task's, not the run's preparation.
  CHECK(epoch::compose_mail(long_run, "RUN_RUNNING_LONG", o)->body ==
        "The run started at 1970-01-01T00:16:40.500Z is still running after 60000 ms. It was "
        "due at 1970-01-01T00:16:40.000Z.");
}

TEST_CASE("a timed-out run: RUN_TIMED_OUT, which a selection of RUN_FAILED includes") {
  Event e = run_event(RunState::kFailed, mail_to({"dev@example.com"}, {"RUN_FAILED"}));
  auto run = std::make_shared<epoch::RunInfo>(*e.run);
  run->tasks["load"].state = TaskState::kTimedOut;
  run->tasks["load"].error_message = "timed out after 30 s and was killed";
  run->reason = "task load timed out: timed out after 30 s and was killed";
  e.run = run;
  CHECK(epoch::notify::event_name(e) == "RUN_TIMED_OUT");
  const auto m = epoch::compose_mail(e, "RUN_TIMED_OUT", options());
  REQUIRE(m);
  CHECK(m->subject == "Topology run report/ESR-2026-11-27-06-00-00-000 timed out");
  CHECK(m->body.rfind("Task report-ESR-2026-11-27-06-00-00-000-load with upstream ID up-load "
                      "timed out: timed out after 30 s and was killed",
                      0) == 0);
  // Only RUN_TIMED_OUT chosen: a plain failure is not one.
  Event plain = run_event(RunState::kFailed, mail_to({"dev@example.com"}, {"RUN_TIMED_OUT"}));
  CHECK(epoch::notify::event_name(plain) == "RUN_FAILED");
  CHECK_FALSE(epoch::compose_mail(plain, "RUN_FAILED", options()));
}

TEST_CASE("the sink refuses a configuration it cannot use") {
  MailOptions o = options();
  CHECK_FALSE(epoch::make_mail_sink(o).ok());  // no server
  o.server = "smtp.example.com";
  CHECK(epoch::make_mail_sink(o).status().message().find("from address") != std::string::npos);
  o.from_address = "epoch@example.com";
  o.default_recipients = {"not an address"};
  CHECK(epoch::make_mail_sink(o).status().message().find("not an address") != std::string::npos);
  o.default_recipients = {"ops@example.com"};
  CHECK(epoch::make_mail_sink(o).ok());
}
