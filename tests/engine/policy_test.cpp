// The engine's policies (libepoch/engine/policy.h) as tables: each rule is
// written once there, and every path of the engine asks it.
#include "../../libepoch/engine/policy.h"

#include <doctest/doctest.h>

#include <vector>

using namespace epoch;
using namespace epoch::engine;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using Kind = OverlapVerdict::Kind;

namespace {

Instant at(const char* iso) {
  return *parse_instant(iso);
}

OverlapPolicy overlap(OverlapMode mode, int max = 1) {
  return OverlapPolicy{mode, max};
}

}  // namespace

TEST_CASE("overlap: one rule for fires, queued runs and run-now") {
  const LiveRun sched{"ESR-1", true, false};
  const LiveRun sched2{"ESR-2", true, false};
  const LiveRun instant{"EIR-1", false, false};
  const LiveRun held{"ESR-3", true, true};
  struct Row {
    const char* what;
    OverlapPolicy policy;
    std::vector<LiveRun> live;
    RunType starting;
    bool count_waiting;
    Kind kind;
    const char* reason;
  };
  const std::vector<Row> rows = {
      // A fire (a new scheduled run).
      {"serial, nothing live",
       overlap(OverlapMode::kSerial),
       {},
       RunType::kScheduled,
       true,
       Kind::kStart,
       ""},
      {"serial, a scheduled run live",
       overlap(OverlapMode::kSerial),
       {sched},
       RunType::kScheduled,
       true,
       Kind::kRefuse,
       "run ESR-1 is still running"},
      {"serial, only an instant run live",
       overlap(OverlapMode::kSerial),
       {instant},
       RunType::kScheduled,
       true,
       Kind::kStart,
       ""},
      {"forbid, only an instant run live",
       overlap(OverlapMode::kForbid),
       {instant},
       RunType::kScheduled,
       true,
       Kind::kRefuse,
       "run EIR-1 is still running"},
      {"allow 2, one live",
       overlap(OverlapMode::kAllow, 2),
       {sched},
       RunType::kScheduled,
       true,
       Kind::kStart,
       ""},
      {"allow 2, two live (and an instant one)",
       overlap(OverlapMode::kAllow, 2),
       {instant, sched, sched2},
       RunType::kScheduled,
       true,
       Kind::kRefuse,
       "2 runs are still running (at most 2)"},
      {"replace, a run live",
       overlap(OverlapMode::kReplace),
       {sched},
       RunType::kScheduled,
       true,
       Kind::kReplace,
       ""},
      {"replace, only an instant run live",
       overlap(OverlapMode::kReplace),
       {instant},
       RunType::kScheduled,
       true,
       Kind::kReplace,
       ""},
      {"replace, nothing live",
       overlap(OverlapMode::kReplace),
       {},
       RunType::kScheduled,
       true,
       Kind::kStart,
       ""},
      // A queued run counts, for a fire.
      {"serial, a run held back",
       overlap(OverlapMode::kSerial),
       {held},
       RunType::kScheduled,
       true,
       Kind::kRefuse,
       "run ESR-3 is still running"},
      // Releasing a queued run: the others held back do not count.
      {"release, serial, another held back",
       overlap(OverlapMode::kSerial),
       {held},
       RunType::kScheduled,
       false,
       Kind::kStart,
       ""},
      {"release, serial, one going",
       overlap(OverlapMode::kSerial),
       {sched, held},
       RunType::kScheduled,
       false,
       Kind::kRefuse,
       "run ESR-1 is still running"},
      {"release, allow 2, one going",
       overlap(OverlapMode::kAllow, 2),
       {sched, held},
       RunType::kScheduled,
       false,
       Kind::kStart,
       ""},
      // Run now (an instant run): only FORBID refuses.
      {"run now, serial, a run live",
       overlap(OverlapMode::kSerial),
       {sched},
       RunType::kInstant,
       true,
       Kind::kStart,
       ""},
      {"run now, allow 1, a run live",
       overlap(OverlapMode::kAllow, 1),
       {sched},
       RunType::kInstant,
       true,
       Kind::kStart,
       ""},
      {"run now, replace, a run live",
       overlap(OverlapMode::kReplace),
       {sched},
       RunType::kInstant,
       true,
       Kind::kStart,
       ""},
      {"run now, forbid, an instant run live",
       overlap(OverlapMode::kForbid),
       {instant},
       RunType::kInstant,
       true,
       Kind::kRefuse,
       "the topology forbids overlapping runs and run EIR-1 is still going"},
      {"run now, forbid, nothing live",
       overlap(OverlapMode::kForbid),
       {},
       RunType::kInstant,
       true,
       Kind::kStart,
       ""},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    const OverlapVerdict v = overlap_verdict(row.policy, row.live, row.starting, row.count_waiting);
    CHECK(v.kind == row.kind);
    CHECK(v.reason == row.reason);
  }
}

TEST_CASE("catch-up: which missed fires run, and why the others do not") {
  const Instant now = at("2026-01-01T12:00:00Z");
  // Missed fires every 20 minutes from 10:00 to 11:40 (a window of 60 min
  // reaches back to 11:00).
  std::vector<Instant> missed;
  for (int i = 0; i < 6; ++i)
    missed.push_back(at("2026-01-01T10:00:00Z") + minutes(20 * i));
  struct Row {
    const char* what;
    CatchUpPolicy policy;
    bool paused;
    std::vector<int> run;  // indexes into `missed` that run
  };
  const std::vector<Row> rows = {
      {"NONE", CatchUpPolicy{CatchUpMode::kNone, Duration::minutes(60), 10}, false, {}},
      {"LATEST", CatchUpPolicy{CatchUpMode::kLatest, Duration::minutes(60), 10}, false, {5}},
      {"ALL within the window",
       CatchUpPolicy{CatchUpMode::kAll, Duration::minutes(60), 10},
       false,
       {3, 4, 5}},
      {"ALL, at most 2", CatchUpPolicy{CatchUpMode::kAll, Duration::minutes(60), 2}, false, {4, 5}},
      {"ALL, a window that takes in everything",
       CatchUpPolicy{CatchUpMode::kAll, Duration::minutes(600), 10},
       false,
       {0, 1, 2, 3, 4, 5}},
      {"LATEST, a window that takes in nothing",
       CatchUpPolicy{CatchUpMode::kLatest, Duration::minutes(10), 10},
       false,
       {}},
      {"paused: nothing runs",
       CatchUpPolicy{CatchUpMode::kAll, Duration::minutes(600), 10},
       true,
       {}},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    const auto plan = plan_catch_up(row.policy, row.paused, missed, now);
    REQUIRE(plan.size() == missed.size());
    std::vector<int> ran;
    for (std::size_t i = 0; i < plan.size(); ++i) {
      CHECK(plan[i].nominal == missed[i]);
      if (plan[i].run) {
        ran.push_back(static_cast<int>(i));
        continue;
      }
      CHECK(plan[i].state == (row.paused ? RunState::kSkipped : RunState::kMissed));
      CHECK_FALSE(plan[i].reason.empty());
    }
    CHECK(ran == row.run);
  }
  // The reasons name the cause.
  const auto latest = plan_catch_up(CatchUpPolicy{CatchUpMode::kLatest, Duration::minutes(60), 10},
                                    false, missed, now);
  CHECK(latest[0].reason ==
        "no leader was scheduling at 2026-01-01T10:00:00.000Z and it is outside the catch-up "
        "window of 1 h");
  CHECK(latest[4].reason ==
        "no leader was scheduling at 2026-01-01T11:20:00.000Z (catch-up policy LATEST runs only "
        "the latest missed fire)");
  const auto all =
      plan_catch_up(CatchUpPolicy{CatchUpMode::kAll, Duration::minutes(60), 2}, false, missed, now);
  CHECK(all[3].reason ==
        "no leader was scheduling at 2026-01-01T11:00:00.000Z (catch-up policy ALL runs at most "
        "the latest 2)");
  const auto none = plan_catch_up(CatchUpPolicy{CatchUpMode::kNone, Duration::minutes(60), 10},
                                  false, missed, now);
  CHECK(none[5].reason ==
        "no leader was scheduling at 2026-01-01T11:40:00.000Z (catch-up policy NONE)");
  CHECK(plan_catch_up(CatchUpPolicy{}, false, {}, now).empty());
}

TEST_CASE("start deadline, the bound on a queued run's wait, retention") {
  Topology t;
  const Instant nominal = at("2026-01-01T00:00:00Z");
  CHECK_FALSE(past_start_deadline(t, nominal, nominal + minutes(600)));
  CHECK(max_queued_wait(t) == minutes(60));  // the default catch-up window
  t.policies = Policies{};
  t.policies->start_deadline = Duration::seconds(90);
  CHECK_FALSE(past_start_deadline(t, nominal, nominal + seconds(90)));
  CHECK(past_start_deadline(t, nominal, nominal + milliseconds(90500)) ==
        "could not start within the start deadline of 90 s (90500 ms late)");
  CHECK(max_queued_wait(t) == seconds(90));  // sooner than the window
  t.policies->catch_up = CatchUpPolicy{CatchUpMode::kAll, Duration::seconds(30), 10};
  CHECK(max_queued_wait(t) == seconds(30));

  const Instant now = at("2026-01-10T00:00:00Z");
  const RetentionPolicy keep3{3, std::nullopt};
  CHECK_FALSE(retention_drops(keep3, 2, nominal, now));
  CHECK(retention_drops(keep3, 3, now, now));
  const RetentionPolicy week{std::nullopt, Duration{7, Duration::Unit::kDays}};
  CHECK_FALSE(retention_drops(week, 100, now - minutes(60), now));
  CHECK(retention_drops(week, 0, nominal, now));  // 9 days old
  CHECK_FALSE(retention_drops(RetentionPolicy{std::nullopt, std::nullopt}, 1000, nominal, now));

  CHECK(describe_ms(milliseconds(1500)) == "1500 ms");
  CHECK(describe_ms(seconds(90)) == "90 s");
  CHECK(describe_ms(minutes(5)) == "5 min");
  CHECK(describe_ms(minutes(120)) == "2 h");
  CHECK(describe_ms(minutes(1440)) == "1 d");
}

TEST_CASE(
    "what a fire does: run, replace, skip or miss with the reason, or decide at its instant") {
  using FK = FireVerdict::Kind;
  const Instant nominal = at("2026-01-01T00:00:00Z");
  const Instant ahead = nominal - milliseconds(500);  // handled in the prepare window
  const Instant late = nominal + seconds(120);
  const LiveRun sched{"ESR-1", true, false};
  auto topology = [](OverlapMode mode, std::optional<Duration> deadline = std::nullopt) {
    Topology t;
    t.policies = Policies{};
    t.policies->overlap = OverlapPolicy{mode, 1};
    t.policies->start_deadline = deadline;
    return t;
  };
  struct Row {
    const char* what;
    Topology t;
    bool paused;
    std::vector<LiveRun> live;
    Instant now;
    FK kind;
    const char* reason;
  };
  const std::vector<Row> rows = {
      {"nothing in the way", topology(OverlapMode::kSerial), false, {}, nominal, FK::kRun, ""},
      {"ahead of its instant, nothing in the way: prepared now",
       topology(OverlapMode::kSerial),
       false,
       {},
       ahead,
       FK::kRun,
       ""},
      {"paused",
       topology(OverlapMode::kSerial),
       true,
       {},
       nominal,
       FK::kSkip,
       "topology is paused"},
      {"paused, ahead of its instant: the pause may still be lifted",
       topology(OverlapMode::kSerial),
       true,
       {},
       ahead,
       FK::kDefer,
       ""},
      {"serial, a run live",
       topology(OverlapMode::kSerial),
       false,
       {sched},
       nominal,
       FK::kSkip,
       "run ESR-1 is still running"},
      {"serial, a run live, ahead of its instant: it may still end",
       topology(OverlapMode::kSerial),
       false,
       {sched},
       ahead,
       FK::kDefer,
       ""},
      {"replace, a run live",
       topology(OverlapMode::kReplace),
       false,
       {sched},
       nominal,
       FK::kReplace,
       ""},
      {"replace, ahead of its instant: replaced at once (REPLACE never refuses)",
       topology(OverlapMode::kReplace),
       false,
       {sched},
       ahead,
       FK::kReplace,
       ""},
      {"allow, a run live",
       topology(OverlapMode::kAllow),
       false,
       {sched},
       nominal,
       FK::kSkip,
       "1 runs are still running (at most 1)"},
      {"past the start deadline",
       topology(OverlapMode::kSerial, Duration::seconds(90)),
       false,
       {},
       late,
       FK::kMiss,
       "could not start within the start deadline of 90 s (2 min late)"},
      {"past the start deadline and paused: the pause is the reason",
       topology(OverlapMode::kSerial, Duration::seconds(90)),
       true,
       {},
       late,
       FK::kSkip,
       "topology is paused"},
      {"within the start deadline",
       topology(OverlapMode::kSerial, Duration::seconds(90)),
       false,
       {},
       nominal + seconds(90),
       FK::kRun,
       ""},
  };
  for (const Row& row : rows) {
    const std::string what = row.what;
    CAPTURE(what);
    const FireVerdict v = fire_verdict(row.t, row.paused, row.live, nominal, row.now);
    CHECK(v.kind == row.kind);
    CHECK(v.reason == row.reason);
  }
}
