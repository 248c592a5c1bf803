// epoch/time_zone.h — IANA time zones and the instant type used everywhere.
//
// What: `Instant` (a UTC point in time with millisecond precision, the unit of
// Epoch's wire format) and `TimeZone`, an immutable IANA zone loaded from the
// operating system's tz database (/usr/share/zoneinfo) through Howard
// Hinnant's date/tz library. Rules past the last transition stored in the
// zone file (the POSIX TZ footer, e.g. "EST5EDT,M3.2.0,M11.1.0") are expanded
// with the same library's Posix::time_zone, so daylight saving keeps working
// after 2037. Nothing here hand-writes a time-zone rule.
//
// The DST model (as in absl::TimeZone): every local (wall-clock) time is
//   UNIQUE   — it happens once;
//   SKIPPED  — it never happens (spring forward: in America/New_York on
//              2026-03-08 the clock jumps from 01:59:59 EST to 03:00:00 EDT,
//              so 02:30 is skipped);
//   REPEATED — it happens twice (fall back: on 2026-11-01 01:30 happens at
//              05:30Z as EDT and again at 06:30Z as EST).
// `lookup()` reports which, with both instants for REPEATED and the first valid
// local time after the gap for SKIPPED.
//
// Threading: a TimeZone is an immutable value; copies share the loaded data
// and may be used from any thread. `locate()` is thread-safe and caches zones.
// Errors: `locate()` returns kInvalidArgument naming the zone when the name is
// not in the tz database. Lookups never fail.
//
// Example:
//   auto ny = epoch::TimeZone::locate("America/New_York");
//   if (!ny.ok()) return ny.status();
//   std::chrono::seconds off = ny->offset_at(std::chrono::sys_seconds{std::chrono::hours(480000)});
//   // -4 h or -5 h, by the date
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "epoch/status.h"

namespace epoch {

// A UTC instant with millisecond precision (epoch milliseconds on the wire).
using Instant = std::chrono::sys_time<std::chrono::milliseconds>;

// Milliseconds since 1970-01-01T00:00:00Z, and back.
constexpr std::int64_t to_epoch_millis(Instant t) noexcept {
  return t.time_since_epoch().count();
}
constexpr Instant from_epoch_millis(std::int64_t ms) noexcept {
  return Instant{std::chrono::milliseconds{ms}};
}

// The range of instants Epoch accepts from outside (parse_instant, the JSON
// decoders): 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z, the years
// ISO-8601 writes with four digits. Inside it, adding any duration of up to
// ±292 million years cannot overflow the 64-bit millisecond count.
inline constexpr Instant kMinInstant = from_epoch_millis(-62135596800000);  // 0001-01-01
inline constexpr Instant kMaxInstant = from_epoch_millis(253402300799999);  // 9999-12-31
// "0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z", for error messages.
inline constexpr std::string_view kInstantRangeText =
    "0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z";

// Whether `t` is in [kMinInstant, kMaxInstant].
constexpr bool in_instant_range(Instant t) noexcept {
  return t >= kMinInstant && t <= kMaxInstant;
}

// `t + d` (or `t - d`) clamped to [kMinInstant, kMaxInstant], computed without
// overflow for every `t` and `d` (std::chrono's own + wraps around on
// overflow). Use it wherever a duration that came from outside (a topology's
// timeout, backoff, window, ...) moves an instant. Never fails; thread-safe.
constexpr Instant saturating_add(Instant t, std::chrono::milliseconds d) noexcept {
  const std::int64_t a = to_epoch_millis(t);
  const std::int64_t b = d.count();
  const std::int64_t lo = to_epoch_millis(kMinInstant);
  const std::int64_t hi = to_epoch_millis(kMaxInstant);
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) sum = b > 0 ? hi : lo;
  return from_epoch_millis(sum < lo ? lo : sum > hi ? hi : sum);
}
constexpr Instant saturating_sub(Instant t, std::chrono::milliseconds d) noexcept {
  const std::int64_t b = d.count();
  if (b == INT64_MIN)
    return saturating_add(saturating_add(t, std::chrono::milliseconds{INT64_MAX}),
                          std::chrono::milliseconds{1});
  return saturating_add(t, std::chrono::milliseconds{-b});
}

namespace detail {
struct ZoneData;
}

class TimeZone {
 public:
  // How a local time maps onto instants.
  enum class Kind { kUnique, kSkipped, kRepeated };

  struct LocalInfo {
    Kind kind = Kind::kUnique;
    // kUnique: both are the one instant. kRepeated: `first` is the earlier
    // occurrence (old offset), `second` the later one (new offset).
    // kSkipped: both are the instant at which the gap ends.
    std::chrono::sys_seconds first{};
    std::chrono::sys_seconds second{};
    // kSkipped only: the first local time that exists after the gap.
    std::chrono::local_seconds gap_end{};
  };

  // UTC.
  TimeZone();

  // The zone named `name` ("Europe/London", "UTC", "Asia/Kolkata", ...),
  // resolving tz database links. Loaded once per process and cached.
  // Errors: kInvalidArgument when the name is empty, malformed or unknown.
  static StatusOr<TimeZone> locate(std::string_view name);

  // The canonical-or-given name this zone was located by ("UTC" by default).
  const std::string& name() const noexcept;

  // UTC offset in force at instant `t`.
  std::chrono::seconds offset_at(std::chrono::sys_seconds t) const noexcept;

  // The wall-clock time at instant `t`.
  std::chrono::local_seconds to_local(std::chrono::sys_seconds t) const noexcept {
    return std::chrono::local_seconds{(t + offset_at(t)).time_since_epoch()};
  }

  // Whether local time `l` is unique, skipped or repeated, and its instants.
  LocalInfo lookup(std::chrono::local_seconds l) const noexcept;

  friend bool operator==(const TimeZone& a, const TimeZone& b) noexcept {
    return a.data_ == b.data_;
  }

 private:
  explicit TimeZone(std::shared_ptr<const detail::ZoneData> data) : data_(std::move(data)) {}
  std::shared_ptr<const detail::ZoneData> data_;
};

// "2026-03-08T07:30:00.000Z": ISO-8601 in UTC with milliseconds.
std::string format_utc(Instant t);

// "2026-03-08T03:30:00-04:00": the wall-clock time in `zone` with its UTC
// offset ("Z" when the offset is zero); milliseconds are shown when non-zero.
std::string format_local(Instant t, const TimeZone& zone);

// Parses an instant: ISO-8601 "YYYY-MM-DDTHH:MM[:SS[.fff]]" followed by "Z",
// "+HH:MM", "-HH:MM", "+HHMM" or "-HHMM" (a space may replace the 'T'), or an
// integer count of epoch milliseconds. Errors: kInvalidArgument saying what
// was expected at which character; kInvalidArgument giving the range when the
// instant is outside [kMinInstant, kMaxInstant] (e.g. epoch milliseconds
// 9223372036854775807, or "9999-12-31T23:00:00-05:00"). The text is quoted in
// messages shortened to its first 64 characters.
StatusOr<Instant> parse_instant(std::string_view text);

}  // namespace epoch
