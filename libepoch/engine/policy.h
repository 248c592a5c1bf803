// Private: the engine's policies as pure functions — whether a run may
// start beside the live ones (overlap), what happens to the fires no leader
// handled (catch-up), how long a queued run may wait, whether a fire is past
// its start deadline, which finished runs retention drops. No I/O, no
// clock, no engine state: the shell (scheduler.cpp) asks, and does what the
// answer says. Each rule is written once here; tests/engine/policy_test.cpp
// checks them as tables.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "epoch/model.h"

namespace epoch::engine {

// A duration as reasons show it: "90 s", "5 min", "2 h", "1 d", "1500 ms".
std::string describe_ms(std::chrono::milliseconds d);

// A topology's policies, with the defaults for those it does not set.
OverlapPolicy overlap_of(const Topology& t);
CatchUpPolicy catch_up_of(const Topology& t);
const RetryPolicy* retry_of(const Topology& t);  // nullptr: no retries
const RetentionPolicy& retention_of(const Topology& t, const RetentionPolicy& fallback);

// ---- overlap -------------------------------------------------------------------

// A live (unfinished) run of the topology, as the overlap policy sees it.
struct LiveRun {
  std::string_view run_id;
  bool scheduled = true;  // false: an instant run (run now)
  bool waiting = false;   // stored, but held back until the policy lets it go
};

struct OverlapVerdict {
  enum class Kind {
    kStart,    // the new run starts
    kReplace,  // the live runs are replaced (killed), then the new run starts
    kRefuse,   // the new run does not start now; `reason` says why
  };
  Kind kind = Kind::kStart;
  std::string reason;
};

// The overlap rule, for a new run of type `starting` beside `live`:
//   SERIAL   a scheduled run starts when no scheduled run is live
//   FORBID   any run starts only when no run at all is live
//   ALLOW    a scheduled run starts while fewer than max_concurrent
//            scheduled runs are live
//   REPLACE  a scheduled run always starts; live runs (of any type) are
//            replaced
// Instant runs (run now) are refused only by FORBID. Runs held back count
// as live unless `count_waiting` is false (when one of them is released,
// the others held back do not stand in its way).
OverlapVerdict overlap_verdict(const OverlapPolicy& policy, std::span<const LiveRun> live,
                               RunType starting, bool count_waiting = true);

// ---- fires -----------------------------------------------------------------------

// What one fire does when the engine handles it.
struct FireVerdict {
  enum class Kind {
    kDefer,    // decide again at the nominal instant (handled ahead of it)
    kRun,      // a run starts
    kReplace,  // the live runs are replaced, then a run starts
    kSkip,     // recorded SKIPPED: `reason`
    kMiss,     // recorded MISSED: `reason`
  };
  Kind kind = Kind::kRun;
  std::string reason;
};

// The fire of topology `t` at `nominal`, handled at `now` (the engine
// handles a fire up to prepare_ahead before its instant), with `live` runs
// and the topology `paused` or not: a pause SKIPS it; past the start
// deadline it is MISSED; otherwise the overlap rule says run, replace or
// SKIP. Ahead of its instant, what may still change by then (a pause lifted,
// a live run that ends) defers the decision to the instant.
FireVerdict fire_verdict(const Topology& t, bool paused, std::span<const LiveRun> live,
                         Instant nominal, Instant now);

// What becomes of one nominal fire.
struct FireDecision {
  Instant nominal{};
  bool run = false;                    // true: a run is started (or queued) for it
  RunState state = RunState::kMissed;  // otherwise: recorded MISSED or SKIPPED
  std::string reason;
};

// The fires no leader handled (`missed`, oldest first, all at or before
// `now`), by the catch-up policy: NONE runs none, LATEST the latest one
// within the window, ALL the latest max_runs within the window; the others
// are MISSED with the reason (SKIPPED, "topology was paused", when paused).
std::vector<FireDecision> plan_catch_up(const CatchUpPolicy& policy, bool paused,
                                        std::span<const Instant> missed, Instant now);

// Why the fire at `nominal`, handled at `now`, is past the topology's start
// deadline; nullopt when it is not (or there is none).
std::optional<std::string> past_start_deadline(const Topology& t, Instant nominal, Instant now);

// How long after its nominal fire a run queued behind live ones (catch-up,
// recovery) may wait for its turn: the catch-up window, or the start
// deadline when sooner. Past it the run ends MISSED.
std::chrono::milliseconds max_queued_wait(const Topology& t);

// ---- retention ---------------------------------------------------------------------

// Whether retention drops a finished run: the `index`-th newest finished
// run of its topology, last updated at `updated`.
bool retention_drops(const RetentionPolicy& policy, std::size_t index, Instant updated,
                     Instant now);

}  // namespace epoch::engine
