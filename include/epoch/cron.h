// epoch/cron.h — Quartz cron expressions: parse, validate, next fire times.
//
// What: `CronExpression`, a parsed Quartz 2.3 cron expression
//   <seconds> <minutes> <hours> <day-of-month> <month> <day-of-week> [<year>]
// with `* , - / ? L W LW L-n #`, month names JAN-DEC and day names SUN-SAT
// (case-insensitive; day-of-week numbers are 1 = SUN ... 7 = SAT), and ranges
// written high-to-low wrapping around (`FRI-MON`, `22-2`, `NOV-FEB`).
// Exactly one of day-of-month and day-of-week must be `?`.
//
// Fidelity: for every expression Quartz 2.3.2 accepts, `next_after` returns
// the instants Quartz's CronExpression.getNextValidTimeAfter returns, in the
// same time zone, daylight saving included. Deliberate differences (each
// checked by tests/cron/vectors_test.cpp against Quartz's own answers):
//   * rejected, where Quartz silently accepts malformed text: characters after
//     a number or name (`5X`, `JANUARY`, `15WW`, `*5`), a step after a name
//     (`MON/2`), more than 7 fields, empty list items (`1,,2`, `2026,`), and
//     anything after `?` (`?x`);
//   * rejected, where Quartz throws at run time: `L` in the seconds, minutes,
//     hours or month field;
//   * the numbers 98 and 99 are numbers: Quartz mistakes them for its
//     internal markers of `?` and `*` (it accepts `99-82` as seconds 0-82 and
//     loops forever on a plain `99`), so we reject them where out of range;
//   * rejected, where Quartz loops forever: `0W`, and `L-nW` when the month
//     field allows a month of n days or fewer (so the weekday search would
//     start before the first of the month: n >= 28 with February, n >= 30
//     with a 30-day month);
//   * in a zone whose clock jumps forward by more than one hour
//     (Antarctica/Troll: 01:00 -> 03:00), Quartz also skips the valid hour
//     after the gap; we do not.
//
// Daylight saving (the rule Quartz follows, stated with real dates):
//   * A local time that does not exist does not fire. America/New_York
//     springs forward on 2026-03-08 from 01:59:59 EST to 03:00:00 EDT, so
//     `0 30 2 * * ?` fires 2026-03-07T02:30-05:00 then 2026-03-09T02:30-04:00;
//     `0 30 * * * ?` fires 01:30 EST then 03:30 EDT that night.
//   * A local time that happens twice fires once, at its second occurrence
//     (standard time). On 2026-11-01 01:30 happens at 05:30Z (EDT) and again
//     at 06:30Z (EST): `0 30 1 * * ?` fires at 06:30Z only, and
//     `0 30 * * * ?` fires 00:30 EDT (04:30Z), 01:30 EST (06:30Z), 02:30 EST.
//     A search that starts inside the first occurrence continues from the
//     same wall-clock time in its second occurrence.
//   Fire times therefore never repeat and never go backwards.
//
// Search limit: fire times are searched up to the end of
// `CronOptions::max_year` (Quartz: its load year + 100; default 2126, as in
// the Quartz vectors). Beyond it `next_after` answers "none". An expression
// that can never fire again answers "none" in well under a microsecond.
//
// Threading: a CronExpression is an immutable value; const methods may be
// called from any number of threads. `next_after` never allocates.
// Errors: `parse` returns kInvalidArgument with a message naming the field,
// the characters at fault and why; `check` returns the same as a structure.
//
// Example:
//   auto cron = epoch::CronExpression::parse("0 15 10 ? * MON-FRI");
//   if (!cron.ok()) return cron.status();
//   auto tz = epoch::TimeZone::locate("Europe/London");
//   std::optional<epoch::Instant> next = cron->next_after(now, *tz);
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "epoch/status.h"
#include "epoch/time_zone.h"

namespace epoch {

// The largest supported `CronOptions::max_year`.
inline constexpr int kMaxCronYear = 2481;

struct CronOptions {
  // Fire times are searched up to the end of this year (1970..kMaxCronYear).
  // Also the upper end of `*` and `a/b` in the year field, as in Quartz.
  int max_year = 2126;
};

enum class CronField {
  kSeconds,
  kMinutes,
  kHours,
  kDayOfMonth,
  kMonth,
  kDayOfWeek,
  kYear,
  kExpression,  // the expression as a whole (field count, day-of-month vs day-of-week)
};

// "seconds", "minutes", "hours", "day-of-month", "month", "day-of-week", "year",
// "expression".
std::string_view cron_field_name(CronField field) noexcept;

// Why an expression was rejected, and where.
struct CronError {
  CronField field = CronField::kExpression;
  std::size_t begin = 0;  // byte offset in the expression of the first character at fault
  std::size_t end = 0;    // one past the last character at fault (== begin: none in particular)
  std::string text;       // those characters
  std::string reason;     // why, in plain words

  // e.g. "day-of-week field, characters 14-16 'FOO': not a day name (SUN..SAT)".
  std::string message() const;
};

class CronExpression {
 public:
  // Parses `text`. Errors: kInvalidArgument carrying CronError::message().
  static StatusOr<CronExpression> parse(std::string_view text, const CronOptions& options = {});

  // The error parse() would report, or nullopt when `text` is valid.
  static std::optional<CronError> check(std::string_view text, const CronOptions& options = {});

  // The first fire time strictly after `after` (compared to the second: Quartz
  // works in whole seconds, so fire times have no milliseconds), evaluated in
  // `zone`; nullopt when there is none up to the end of max_year.
  std::optional<Instant> next_after(Instant after, const TimeZone& zone) const noexcept;

  // Up to `n` fire times after `after`, each strictly after the previous one.
  // Fewer when the schedule ends first.
  std::vector<Instant> next_n(Instant after, const TimeZone& zone, std::size_t n) const;

  // True when parse-time analysis shows the expression can never fire (for
  // example `0 0 0 30 2 ?`, or a year list entirely past max_year).
  bool never_fires() const noexcept { return never_; }

  // A short English description, e.g. "at 10:15:00, Monday through Friday".
  std::string describe() const;

  // The expression as given.
  const std::string& text() const noexcept { return text_; }
  const CronOptions& options() const noexcept { return options_; }

 private:
  friend class CronCompiler;
  CronExpression() = default;

  std::string text_;
  CronOptions options_;
  std::uint64_t seconds_ = 0;  // bit s: second s (0..59)
  std::uint64_t minutes_ = 0;  // bit m: minute m (0..59)
  std::uint32_t hours_ = 0;    // bit h: hour h (0..23)
  std::uint16_t months_ = 0;   // bit m: month m (1..12)
  // Days that fire in a month of 28 + l days whose first day is weekday w
  // (0 = Sunday): bit d of day_masks_[l][w] is day d (1..31).
  std::uint32_t day_masks_[4][7] = {};
  // Months (bit m) that have a firing day in a year that is leap (1) or not
  // (0) and whose January 1st is weekday w.
  std::uint16_t year_months_[2][7] = {};
  std::uint64_t years_[8] = {};  // bit y - 1970: year y (1970..2481)
  bool never_ = false;

  // A short summary of the day rules, kept for describe().
  struct DayRule {
    bool by_month_day = true;      // day-of-month rule (else day-of-week rule)
    bool last_day = false;         // L
    int last_offset = 0;           // L-n
    bool weekday = false;          // W
    int weekday_target = 0;        // nW
    bool last_weekday_of = false;  // nL (day-of-week)
    int nth = 0;                   // d#n
    int weekday_value = 0;         // d of nL / d#n (1..7; 0 or >7 never)
    std::uint32_t days = 0;        // plain day-of-month set, bit d
    std::uint8_t weekdays = 0;     // plain day-of-week set, bit d (1..7)
  } day_rule_;
};

}  // namespace epoch
