#include "policy.h"

#include <algorithm>

namespace epoch::engine {

using std::chrono::milliseconds;

std::string describe_ms(milliseconds d) {
  const std::int64_t s = d.count() / 1000;
  if (s >= 86400 && s % 86400 == 0) return std::to_string(s / 86400) + " d";
  if (s >= 3600 && s % 3600 == 0) return std::to_string(s / 3600) + " h";
  if (s >= 60 && s % 60 == 0) return std::to_string(s / 60) + " min";
  if (d.count() % 1000 == 0) return std::to_string(s) + " s";
  return std::to_string(d.count()) + " ms";
}

OverlapPolicy overlap_of(const Topology& t) {
  return t.policies && t.policies->overlap ? *t.policies->overlap : OverlapPolicy{};
}

CatchUpPolicy catch_up_of(const Topology& t) {
  return t.policies && t.policies->catch_up ? *t.policies->catch_up : CatchUpPolicy{};
}

const RetryPolicy* retry_of(const Topology& t) {
  return t.policies && t.policies->retry ? &*t.policies->retry : nullptr;
}

const RetentionPolicy& retention_of(const Topology& t, const RetentionPolicy& fallback) {
  return t.policies && t.policies->retention ? *t.policies->retention : fallback;
}

OverlapVerdict overlap_verdict(const OverlapPolicy& policy, std::span<const LiveRun> live,
                               RunType starting, bool count_waiting) {
  const bool forbid = policy.mode == OverlapMode::kForbid;
  // The live runs that stand in the way: under FORBID every run, otherwise
  // the scheduled ones. A scheduled REPLACE replaces every live run.
  const bool every_run =
      forbid || (policy.mode == OverlapMode::kReplace && starting == RunType::kScheduled);
  std::size_t counted = 0;
  std::string_view first;
  for (const LiveRun& r : live) {
    if (r.waiting && !count_waiting) continue;
    if (!every_run && !r.scheduled) continue;
    if (counted++ == 0) first = r.run_id;
  }
  OverlapVerdict v;
  if (starting == RunType::kInstant) {
    if (forbid && counted > 0) {
      v.kind = OverlapVerdict::Kind::kRefuse;
      v.reason =
          "the topology forbids overlapping runs and run " + std::string(first) + " is still going";
    }
    return v;
  }
  switch (policy.mode) {
    case OverlapMode::kSerial:
    case OverlapMode::kForbid:
      if (counted > 0) {
        v.kind = OverlapVerdict::Kind::kRefuse;
        v.reason = "run " + std::string(first) + " is still running";
      }
      break;
    case OverlapMode::kAllow:
      if (counted >= static_cast<std::size_t>(std::max(1, policy.max_concurrent))) {
        v.kind = OverlapVerdict::Kind::kRefuse;
        v.reason = std::to_string(counted) + " runs are still running (at most " +
                   std::to_string(policy.max_concurrent) + ")";
      }
      break;
    case OverlapMode::kReplace:
      if (counted > 0) v.kind = OverlapVerdict::Kind::kReplace;
      break;
  }
  return v;
}

std::vector<FireDecision> plan_catch_up(const CatchUpPolicy& policy, bool paused,
                                        std::span<const Instant> missed, Instant now) {
  const Instant window_start = saturating_sub(now, policy.window.to_millis());
  // The fires that run: the latest eligible ones (within the window).
  std::size_t eligible_from = missed.size();
  while (eligible_from > 0 && missed[eligible_from - 1] >= window_start)
    --eligible_from;
  const std::size_t eligible = missed.size() - eligible_from;
  std::size_t runs = 0;
  if (!paused && policy.mode == CatchUpMode::kLatest) runs = std::min<std::size_t>(eligible, 1);
  if (!paused && policy.mode == CatchUpMode::kAll)
    runs = std::min(eligible, static_cast<std::size_t>(std::max(0, policy.max_runs)));
  const std::size_t run_from = missed.size() - runs;

  std::vector<FireDecision> out;
  out.reserve(missed.size());
  for (std::size_t i = 0; i < missed.size(); ++i) {
    FireDecision d;
    d.nominal = missed[i];
    if (i >= run_from) {
      d.run = true;
      out.push_back(std::move(d));
      continue;
    }
    const std::string when = "no leader was scheduling at " + format_utc(missed[i]);
    if (paused) {
      d.state = RunState::kSkipped;
      d.reason = "topology was paused";
    } else if (policy.mode == CatchUpMode::kNone) {
      d.reason = when + " (catch-up policy NONE)";
    } else if (missed[i] < window_start) {
      d.reason = when + " and it is outside the catch-up window of " +
                 describe_ms(policy.window.to_millis());
    } else if (policy.mode == CatchUpMode::kLatest) {
      d.reason = when + " (catch-up policy LATEST runs only the latest missed fire)";
    } else {
      d.reason = when + " (catch-up policy ALL runs at most the latest " +
                 std::to_string(policy.max_runs) + ")";
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::optional<std::string> past_start_deadline(const Topology& t, Instant nominal, Instant now) {
  if (!t.policies || !t.policies->start_deadline) return std::nullopt;
  const milliseconds deadline = t.policies->start_deadline->to_millis();
  const auto late = std::chrono::duration_cast<milliseconds>(now - nominal);
  if (late <= deadline) return std::nullopt;
  return "could not start within the start deadline of " + describe_ms(deadline) + " (" +
         describe_ms(late) + " late)";
}

FireVerdict fire_verdict(const Topology& t, bool paused, std::span<const LiveRun> live,
                         Instant nominal, Instant now) {
  using Kind = FireVerdict::Kind;
  OverlapVerdict overlap = overlap_verdict(overlap_of(t), live, RunType::kScheduled);
  if (now < nominal && (paused || overlap.kind == OverlapVerdict::Kind::kRefuse)) {
    return {Kind::kDefer, {}};
  }
  if (paused) return {Kind::kSkip, "topology is paused"};
  if (auto late = past_start_deadline(t, nominal, now)) return {Kind::kMiss, std::move(*late)};
  switch (overlap.kind) {
    case OverlapVerdict::Kind::kRefuse:
      return {Kind::kSkip, std::move(overlap.reason)};
    case OverlapVerdict::Kind::kReplace:
      return {Kind::kReplace, {}};
    case OverlapVerdict::Kind::kStart:
      break;
  }
  return {Kind::kRun, {}};
}

milliseconds max_queued_wait(const Topology& t) {
  milliseconds wait = catch_up_of(t).window.to_millis();
  if (t.policies && t.policies->start_deadline)
    wait = std::min(wait, t.policies->start_deadline->to_millis());
  return wait;
}

bool retention_drops(const RetentionPolicy& policy, std::size_t index, Instant updated,
                     Instant now) {
  const bool too_many = policy.max_runs && index >= static_cast<std::size_t>(*policy.max_runs);
  const bool too_old = policy.max_age && now - updated > policy.max_age->to_millis();
  return too_many || too_old;
}

}  // namespace epoch::engine
