// Next fire times: a walk over local civil time with bit sets, converted to
// an instant once per candidate.
//
// The walk finds the smallest local time >= the start (the wall-clock time
// one second after `after`) whose year, month, day, hour, minute and second
// all match. Months that cannot fire in a given kind of year are skipped with
// one table lookup, and day rules are precomputed per (month length, weekday
// of the 1st), so every step is a few bit operations. The candidate is then
// resolved in the zone: a skipped local time continues the walk after the
// gap, a repeated one takes its later (standard time) instant — Quartz's
// behaviour, see epoch/cron.h.
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "civil.h"
#include "epoch/cron.h"

namespace epoch {
namespace {

using civil::civil_from_days;
using civil::days_from_civil;
using civil::floor_div;
using civil::is_leap;
using civil::weekday_of;

constexpr unsigned kMonthDays[2][13] = {{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31},
                                        {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}};
// Days before the 1st of month m.
constexpr unsigned kDaysBefore[2][13] = {
    {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334},
    {0, 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335}};

// Lowest set bit at or above `from`, or -1.
inline int next_bit(std::uint64_t mask, int from) {
  if (from >= 64) return -1;
  const std::uint64_t m = mask >> from;
  return m == 0 ? -1 : from + std::countr_zero(m);
}

}  // namespace

namespace cron_detail {

struct Walker {
  const std::uint64_t seconds, minutes;
  const std::uint32_t hours;
  const std::uint32_t (*day_masks)[7];
  const std::uint16_t (*year_months)[7];
  const std::uint64_t* years;
  const int max_year;

  bool year_ok(std::int64_t y) const {
    const std::int64_t i = y - 1970;
    return i >= 0 && y <= max_year && ((years[i / 64] >> (i % 64)) & 1u);
  }

  // First year >= y that is in the year set, or -1.
  std::int64_t next_year(std::int64_t y) const {
    for (std::int64_t i = y - 1970; i <= max_year - 1970;) {
      const std::uint64_t word = years[i / 64] >> (i % 64);
      if (word != 0) {
        const std::int64_t found = i + std::countr_zero(word);
        return found <= max_year - 1970 ? 1970 + found : -1;
      }
      i = (i / 64 + 1) * 64;
    }
    return -1;
  }

  // First (h, mi, s) >= the given one in the time sets, or false.
  bool next_time_of_day(int& h, int& mi, int& s) const {
    const int hh = next_bit(hours, h);
    if (hh < 0) return false;
    const int first_min = std::countr_zero(minutes);
    const int first_sec = std::countr_zero(seconds);
    if (hh > h) {
      h = hh, mi = first_min, s = first_sec;
      return true;
    }
    int mm = next_bit(minutes, mi);
    if (mm == mi) {
      const int ss = next_bit(seconds, s);
      if (ss >= 0) {
        s = ss;
        return true;
      }
      mm = next_bit(minutes, mi + 1);
    }
    if (mm >= 0) {
      mi = mm, s = first_sec;
      return true;
    }
    const int h2 = next_bit(hours, h + 1);
    if (h2 < 0) return false;
    h = h2, mi = first_min, s = first_sec;
    return true;
  }

  // The first matching local time (seconds since the local epoch) >= `from`.
  bool next_local(std::int64_t from, std::int64_t& out) const {
    const std::int64_t day0 = floor_div(from, 86400);
    const auto sod = static_cast<int>(from - day0 * 86400);
    const civil::Date c = civil_from_days(day0);
    std::int64_t y = c.y;
    unsigned m = c.m, d = c.d;
    int h = sod / 3600, mi = sod / 60 % 60, s = sod % 60;
    if (y < 1970) y = 1970, m = 1, d = 1, h = mi = s = 0;
    while (true) {
      if (!year_ok(y)) {
        y = next_year(y);
        if (y < 0) return false;
        m = 1, d = 1, h = mi = s = 0;
      }
      const int leap = is_leap(y) ? 1 : 0;
      const int jan1 = weekday_of(days_from_civil(y, 1, 1));
      const std::uint32_t months = std::uint32_t{year_months[leap][jan1]} & (~0u << m);
      if (months == 0) {
        ++y, m = 1, d = 1, h = mi = s = 0;
        continue;
      }
      const auto m2 = static_cast<unsigned>(std::countr_zero(months));
      if (m2 != m) m = m2, d = 1, h = mi = s = 0;
      const unsigned len = kMonthDays[leap][m];
      const int first = static_cast<int>((jan1 + kDaysBefore[leap][m]) % 7);
      const std::uint32_t days = day_masks[len - 28][first] & (~0u << d);
      if (days == 0) {
        if (++m > 12) ++y, m = 1;
        d = 1, h = mi = s = 0;
        continue;
      }
      const auto d2 = static_cast<unsigned>(std::countr_zero(days));
      if (d2 != d) d = d2, h = mi = s = 0;
      if (next_time_of_day(h, mi, s)) {
        out = days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s;
        return true;
      }
      h = mi = s = 0;
      if (++d > len) {
        d = 1;
        if (++m > 12) ++y, m = 1;
      }
    }
  }
};

}  // namespace cron_detail

std::optional<Instant> CronExpression::next_after(Instant after,
                                                  const TimeZone& zone) const noexcept {
  if (never_) return std::nullopt;
  const cron_detail::Walker walk{seconds_,     minutes_, hours_,           day_masks_,
                                 year_months_, years_,   options_.max_year};
  // Quartz: one second after `after`, milliseconds dropped, read as wall-clock
  // time in the zone.
  const std::int64_t start = floor_div(after.time_since_epoch().count() + 1000, 1000);
  std::int64_t local =
      start + zone.offset_at(std::chrono::sys_seconds{std::chrono::seconds{start}}).count();
  while (true) {
    std::int64_t candidate = 0;
    if (!walk.next_local(local, candidate)) return std::nullopt;
    const TimeZone::LocalInfo info =
        zone.lookup(std::chrono::local_seconds{std::chrono::seconds{candidate}});
    if (info.kind == TimeZone::Kind::kSkipped) {
      local = info.gap_end.time_since_epoch().count();
      continue;
    }
    return Instant{info.second.time_since_epoch()};
  }
}

std::vector<Instant> CronExpression::next_n(Instant after, const TimeZone& zone,
                                            std::size_t n) const {
  std::vector<Instant> out;
  out.reserve(n < 1024 ? n : 1024);
  for (std::size_t i = 0; i < n; ++i) {
    const std::optional<Instant> next = next_after(after, zone);
    if (!next) break;
    out.push_back(*next);
    after = *next;
  }
  return out;
}

}  // namespace epoch
