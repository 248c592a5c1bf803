// Parsing Quartz cron expressions.
//
// The parser accepts exactly the language Quartz 2.3.2's CronExpression
// accepts, minus the malformed forms listed in epoch/cron.h, and builds the
// same value sets Quartz builds (including its quirks: `5/0` is `5`, `1-5/0`
// is `1`, `*/0` is `*`, wrapping ranges, `0#n` meaning Saturday, `W` applying
// to the smallest day of a list). CronCompiler then turns those sets into
// the lookup tables CronExpression::next_after walks.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "cron_tables.h"
#include "epoch/cron.h"

namespace epoch {
namespace {

enum Type { kSec = 0, kMin, kHour, kDom, kMonth, kDow, kYear };

// Quartz marks '*' and '?' in its value sets with the numbers 99 and 98, and
// so confuses them with the literal numbers 99 and 98 (`99-82` in the seconds
// field passes as '*'; a plain `99` makes it loop forever). Our markers cannot
// collide with a number; where a marker's value matters (TreeSet.first() of
// the day fields) it is read as Quartz's 99.
constexpr long kAllSpec = -99;
constexpr long kNoSpec = -98;
constexpr long kAllSpecOrder = 99;

constexpr CronField kFieldOf[] = {
    CronField::kSeconds, CronField::kMinutes,   CronField::kHours, CronField::kDayOfMonth,
    CronField::kMonth,   CronField::kDayOfWeek, CronField::kYear};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

const char* range_text(int type) {
  switch (type) {
    case kSec:
      return "seconds must be 0-59";
    case kMin:
      return "minutes must be 0-59";
    case kHour:
      return "hours must be 0-23";
    case kDom:
      return "days of the month must be 1-31";
    case kMonth:
      return "months must be 1-12 (or JAN-DEC)";
    case kDow:
      return "days of the week must be 1-7 (1 = SUN) or SUN-SAT";
    default:
      return "";
  }
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}

}  // namespace

// Everything Quartz records while parsing: its value sets and flags.
struct QuartzSets {
  std::uint64_t sec = 0, min = 0;
  std::uint32_t hour = 0, dom = 0;
  std::uint16_t month = 0;
  std::uint8_t dow = 0;
  std::uint64_t years[8] = {};
  bool dom_nospec = false, dow_nospec = false;
  long dom_min = LONG_MAX, dow_min = LONG_MAX;  // Quartz's TreeSet.first()
  bool last_day = false, nearest_weekday = false, last_dow = false;
  int last_offset = 0, nth = 0;
};

class CronCompiler {
 public:
  CronCompiler(std::string_view text, const CronOptions& options)
      : text_(text), options_(options), up_(text) {
    for (char& c : up_) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
  }

  std::optional<CronError> parse();
  CronExpression compile() const;

 private:
  bool fail(int type, std::size_t b, std::size_t e, std::string reason);
  bool fail_expr(std::size_t b, std::size_t e, std::string reason);
  bool field(int type, std::size_t b, std::size_t e);
  bool item(int type, std::size_t b, std::size_t e);
  bool name_item(int type, std::size_t b, std::size_t e);
  bool l_item(int type, std::size_t b, std::size_t e);
  bool number_item(int type, std::size_t b, std::size_t e);
  // Reads digits at `i` into `value`; false (with an error) when there are
  // none or the number is larger than Quartz's int.
  bool number(int type, std::size_t& i, std::size_t e, long& value, const char* what);
  bool check_step(int type, long step, std::size_t b, std::size_t e);
  bool nth_suffix(int type, std::size_t i, std::size_t e, long day);
  bool step_suffix(int type, std::size_t i, std::size_t e, long start, std::size_t b);
  // Quartz's addToSet: validates, then adds val..end by incr (wrapping).
  bool add(int type, long val, long end, long incr, std::size_t b, std::size_t e);
  void put(int type, long v);

  std::string_view text_;
  CronOptions options_;
  std::string up_;
  QuartzSets s_;
  std::optional<CronError> error_;
};

bool CronCompiler::fail(int type, std::size_t b, std::size_t e, std::string reason) {
  // Never cut a UTF-8 sequence in two.
  while (e < text_.size() && (static_cast<unsigned char>(text_[e]) & 0xC0) == 0x80)
    ++e;
  if (!error_) {
    error_ =
        CronError{kFieldOf[type], b, e, std::string(text_.substr(b, e - b)), std::move(reason)};
  }
  return false;
}

bool CronCompiler::fail_expr(std::size_t b, std::size_t e, std::string reason) {
  if (!error_) {
    error_ = CronError{CronField::kExpression, b, e, std::string(text_.substr(b, e - b)),
                       std::move(reason)};
  }
  return false;
}

void CronCompiler::put(int type, long v) {
  // The '*' marker only matters to the day fields (as TreeSet.first()).
  if (v == kAllSpec && type != kDom && type != kDow) return;
  switch (type) {
    case kSec:
      s_.sec |= std::uint64_t{1} << v;
      break;
    case kMin:
      s_.min |= std::uint64_t{1} << v;
      break;
    case kHour:
      s_.hour |= std::uint32_t{1} << v;
      break;
    case kDom:
      if (v == kNoSpec) {
        s_.dom_nospec = true;
        return;
      }
      if (v >= 1 && v <= 31) s_.dom |= std::uint32_t{1} << v;
      s_.dom_min = std::min(s_.dom_min, v == kAllSpec ? kAllSpecOrder : v);
      break;
    case kMonth:
      if (v >= 1 && v <= 12) s_.month |= static_cast<std::uint16_t>(1u << v);
      break;
    case kDow:
      if (v == kNoSpec) {
        s_.dow_nospec = true;
        return;
      }
      if (v >= 1 && v <= 7) s_.dow |= static_cast<std::uint8_t>(1u << v);
      s_.dow_min = std::min(s_.dow_min, v == kAllSpec ? kAllSpecOrder : v);
      break;
    case kYear:
      if (v >= 1970 && v <= kMaxCronYear) {
        s_.years[(v - 1970) / 64] |= std::uint64_t{1} << ((v - 1970) % 64);
      }
      break;
    default:
      break;
  }
}

bool CronCompiler::add(int type, long val, long end, long incr, std::size_t b, std::size_t e) {
  bool bad = false;
  switch (type) {
    case kSec:
    case kMin:
      bad = (val < 0 || val > 59 || end > 59) && val != kAllSpec;
      break;
    case kHour:
      bad = (val < 0 || val > 23 || end > 23) && val != kAllSpec;
      break;
    case kDom:
      bad = (val < 1 || val > 31 || end > 31) && val != kAllSpec && val != kNoSpec;
      break;
    case kMonth:
      bad = (val < 1 || val > 12 || end > 12) && val != kAllSpec;
      break;
    case kDow:
      bad = (val == 0 || val > 7 || end > 7) && val != kAllSpec && val != kNoSpec;
      break;
    default:
      break;
  }
  if (bad) return fail(type, b, e, range_text(type));

  if ((incr == 0 || incr == -1) && val != kAllSpec) {
    put(type, val);
    return true;
  }
  long start = val;
  long stop = end;
  if (val == kAllSpec && incr <= 0) {
    incr = 1;
    put(type, kAllSpec);
  }
  static constexpr long kLow[] = {0, 0, 0, 1, 1, 1, 1970};
  static constexpr long kHigh[] = {59, 59, 23, 31, 12, 7, 0};
  static constexpr long kWrap[] = {60, 60, 24, 31, 12, 7, 0};
  const long high = type == kYear ? options_.max_year : kHigh[type];
  if (stop == -1) stop = high;
  if (start == -1 || start == kAllSpec) start = kLow[type];
  long wrap = -1;
  if (stop < start) {
    if (type == kYear) return fail(type, b, e, "a year range must not end before it starts");
    wrap = kWrap[type];
    stop += wrap;
  }
  if (type == kYear) {
    // Quartz adds every year of the range; only 1970..kMaxCronYear can ever
    // fire, so start at the first of those on the step.
    stop = std::min<long>(stop, kMaxCronYear);
    if (start < 1970) start += (1970 - start + incr - 1) / incr * incr;
  }
  for (long i = start; i <= stop; i += incr) {
    if (wrap == -1) {
      put(type, i);
    } else {
      long v = i % wrap;
      if (v == 0 && (type == kMonth || type == kDow || type == kDom)) v = wrap;
      put(type, v);
    }
  }
  return true;
}

bool CronCompiler::number(int type, std::size_t& i, std::size_t e, long& value, const char* what) {
  const std::size_t b = i;
  long v = 0;
  while (i < e && is_digit(up_[i])) {
    v = v * 10 + (up_[i] - '0');
    if (v > INT_MAX) {
      while (i < e && is_digit(up_[i]))
        ++i;
      return fail(type, b, i, "number too large");
    }
    ++i;
  }
  if (i == b) {
    return fail(type, b, i < e ? i + 1 : e, std::string("expected a number ") + what);
  }
  value = v;
  return true;
}

// "d#n": `i` is just past the '#'; the rest must be n, 1-5. Quartz adds d
// to the day-of-week set without a range check.
bool CronCompiler::nth_suffix(int type, std::size_t i, std::size_t e, long day) {
  const std::size_t b = i;
  long nth = 0;
  if (!number(type, i, e, nth, "after '#'")) return false;
  if (i != e || nth < 1 || nth > 5) return fail(type, b, e, "'#' must be followed by a number 1-5");
  s_.nth = static_cast<int>(nth);
  put(type, day);
  return true;
}

// "start/step" from `start` (a number or '*') up: `i` is just past the '/'.
// Quartz checks the step's size here (not after a range).
bool CronCompiler::step_suffix(int type, std::size_t i, std::size_t e, long start, std::size_t b) {
  const std::size_t sb = i;
  long step = 0;
  if (!number(type, i, e, step, "after '/'")) return false;
  if (i != e) return fail(type, i, e, "unexpected characters after the step");
  if (!check_step(type, step, sb, e)) return false;
  return add(type, start, -1, step, b, e);
}

bool CronCompiler::check_step(int type, long step, std::size_t b, std::size_t e) {
  static constexpr long kMaxStep[] = {59, 59, 23, 31, 12, 7, LONG_MAX};
  if (step > kMaxStep[type]) {
    return fail(type, b, e,
                "step " + std::to_string(step) + " is too large (at most " +
                    std::to_string(kMaxStep[type]) + " in the " +
                    std::string(cron_field_name(kFieldOf[type])) + " field)");
  }
  return true;
}

bool CronCompiler::name_item(int type, std::size_t b, std::size_t e) {
  if (type != kMonth && type != kDow) {
    return fail(type, b, e,
                "names are only allowed in the month (JAN-DEC) and day-of-week (SUN-SAT) fields");
  }
  const bool month = type == kMonth;
  const auto lookup = [&](std::size_t at) -> long {
    if (at + 3 > e) return -1;
    const std::string_view n(up_.data() + at, 3);
    if (month) {
      for (int k = 0; k < 12; ++k) {
        if (n == kMonthNames[k]) return k + 1;
      }
    } else {
      for (int k = 0; k < 7; ++k) {
        if (n == kDayNames[k]) return k + 1;
      }
    }
    return -1;
  };
  const char* names = month ? "a month name (JAN-DEC)" : "a day name (SUN-SAT)";
  const long first = lookup(b);
  if (first < 0) {
    std::size_t n = b;
    while (n < e && is_upper(up_[n]))
      ++n;
    return fail(type, b, std::max(n, std::min(b + 3, e)), std::string("expected ") + names);
  }
  std::size_t i = b + 3;
  if (i == e) return add(type, first, -1, 0, b, e);
  const char c = up_[i];
  if (c == '-') {
    const long last = lookup(i + 1);
    if (last < 0) return fail(type, i + 1, e, std::string("expected ") + names + " after '-'");
    if (i + 4 != e) {
      if (up_[i + 4] == '/') return fail(type, i + 4, e, "a step cannot follow a name range");
      return fail(type, i + 4, e, "unexpected characters after the range");
    }
    return add(type, first, last, 1, b, e);
  }
  if (!month && c == '#') return nth_suffix(type, i + 1, e, first);
  if (!month && c == 'L' && i + 1 == e) {
    s_.last_dow = true;
    put(type, first);
    return true;
  }
  if (c == '/') return fail(type, i, e, "a step cannot follow a name");
  return fail(type, i, e, "unexpected characters after the name");
}

bool CronCompiler::l_item(int type, std::size_t b, std::size_t e) {
  if (type == kDom) {
    s_.last_day = true;
    std::size_t i = b + 1;
    if (i < e && up_[i] == '-') {
      ++i;
      long offset = 0;
      if (i < e && up_[i] == 'W') {
        offset = 0;  // Quartz reads "L-W" as "LW"
      } else if (!number(type, i, e, offset, "after 'L-'")) {
        return false;
      }
      if (offset > 30) return fail(type, b, i, "the offset from the last day must be 0-30");
      s_.last_offset = static_cast<int>(offset);
    }
    if (i < e && up_[i] == 'W') {
      s_.nearest_weekday = true;
      ++i;
    }
    if (i != e) return fail(type, i, e, "unexpected characters after 'L'");
    return true;
  }
  if (type != kDow && type != kYear) {
    return fail(type, b, b + 1, "'L' is only allowed in the day-of-month and day-of-week fields");
  }
  if (b + 1 != e) return fail(type, b + 1, e, "unexpected characters after 'L'");
  if (type == kDow) return add(type, 7, 7, 0, b, e);
  return true;  // year: Quartz adds nothing, so the expression never fires
}

bool CronCompiler::number_item(int type, std::size_t b, std::size_t e) {
  std::size_t i = b;
  long val = 0;
  if (!number(type, i, e, val, "")) return false;
  if (i == e) return add(type, val, -1, -1, b, e);
  const char c = up_[i];
  switch (c) {
    case 'L':
      if (type != kDow) {
        return fail(type, b, e,
                    "'nL' (last such weekday) is only allowed in the day-of-week field");
      }
      if (val < 1 || val > 7) return fail(type, b, i, range_text(kDow));
      if (i + 1 != e) return fail(type, i + 1, e, "unexpected characters after 'L'");
      s_.last_dow = true;
      put(type, val);
      return true;
    case 'W':
      if (type != kDom) {
        return fail(type, b, e, "'W' (nearest weekday) is only allowed in the day-of-month field");
      }
      if (val < 1 || val > 31) {
        return fail(type, b, i + 1, "'W' needs a day of the month 1-31");
      }
      if (i + 1 != e) return fail(type, i + 1, e, "unexpected characters after 'W'");
      s_.nearest_weekday = true;
      put(type, val);
      return true;
    case '#':
      if (type != kDow) return fail(type, b, e, "'#' is only allowed in the day-of-week field");
      return nth_suffix(type, i + 1, e, val);
    case '-': {
      ++i;
      long end = 0;
      if (!number(type, i, e, end, "after '-'")) return false;
      long step = 1;
      if (i < e && up_[i] == '/') {
        ++i;
        if (!number(type, i, e, step, "after '/'")) return false;
      }
      if (i != e) return fail(type, i, e, "unexpected characters after the range");
      return add(type, val, end, step, b, e);
    }
    case '/':
      return step_suffix(type, i + 1, e, val, b);
    default:
      return fail(type, i, e, "unexpected characters after the number");
  }
}

bool CronCompiler::item(int type, std::size_t b, std::size_t e) {
  const std::string_view s(up_.data() + b, e - b);
  const char c = s[0];
  const bool l_form = s == "L" || s == "LW" ||
                      (s.size() >= 2 && s[0] == 'L' && s[1] == '-' &&
                       std::all_of(s.begin() + 2, s.end() - (s.back() == 'W' ? 1 : 0), is_digit));
  if (is_upper(c) && !l_form) return name_item(type, b, e);
  if (c == '?') {
    if (type != kDom && type != kDow) {
      return fail(type, b, e, "'?' is only allowed in the day-of-month and day-of-week fields");
    }
    if (s.size() != 1) return fail(type, b + 1, e, "unexpected characters after '?'");
    put(type, kNoSpec);
    return true;
  }
  if (c == '*' || c == '/') {
    if (s == "*") return add(type, kAllSpec, -1, 0, b, e);
    std::size_t i = b + (c == '*' ? 1 : 0);
    if (up_[i] != '/') return fail(type, i, e, "unexpected characters after '*'");
    return step_suffix(type, i + 1, e, kAllSpec, b);
  }
  if (c == 'L') return l_item(type, b, e);
  if (is_digit(c)) return number_item(type, b, e);
  return fail(type, b, b + 1, "unexpected character");
}

bool CronCompiler::field(int type, std::size_t b, std::size_t e) {
  const std::string_view f(up_.data() + b, e - b);
  const bool has_list = f.find(',') != std::string_view::npos;
  if (type == kDom && has_list && f.find('L') != std::string_view::npos) {
    return fail(type, b, e, "'L' and 'LW' cannot be combined with other days of the month");
  }
  if (type == kDow && has_list && f.find('L') != std::string_view::npos) {
    return fail(type, b, e, "'L' cannot be combined with other days of the week");
  }
  if (type == kDow && std::count(f.begin(), f.end(), '#') > 1) {
    return fail(type, b, e, "only one 'd#n' (n-th weekday) is allowed");
  }
  std::size_t i = b;
  while (true) {
    std::size_t j = i;
    while (j < e && up_[j] != ',')
      ++j;
    if (j == i) return fail(type, i, std::min(i + 1, e), "empty list item");
    if (!item(type, i, j)) return false;
    if (j == e) return true;
    i = j + 1;
    if (i == e) return fail(type, j, e, "empty list item after ','");
  }
}

std::optional<CronError> CronCompiler::parse() {
  if (options_.max_year < 1970 || options_.max_year > kMaxCronYear) {
    fail_expr(0, 0, "max_year must be 1970-" + std::to_string(kMaxCronYear));
    return error_;
  }
  const auto blank = [&](std::size_t k) { return up_[k] == ' ' || up_[k] == '\t'; };
  std::size_t fields[8][2];
  int count = 0;
  for (std::size_t i = 0; i < up_.size();) {
    if (blank(i)) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < up_.size() && !blank(j))
      ++j;
    if (count == 7) {
      fail_expr(i, up_.size(),
                "too many fields: a cron expression has 6 or 7 (seconds minutes hours "
                "day-of-month month day-of-week [year])");
      return error_;
    }
    fields[count][0] = i;
    fields[count][1] = j;
    ++count;
    i = j;
  }
  if (count < 6) {
    fail_expr(0, up_.size(),
              "expected 6 or 7 fields (seconds minutes hours day-of-month month day-of-week "
              "[year]), found " +
                  std::to_string(count));
    return error_;
  }
  for (int k = 0; k < count; ++k) {
    if (!field(k, fields[k][0], fields[k][1])) return error_;
  }
  if (count == 6) add(kYear, kAllSpec, -1, 0, 0, 0);
  if (s_.dom_nospec == s_.dow_nospec) {
    fail_expr(fields[3][0], fields[5][1],
              s_.dom_nospec ? "'?' may be given for day-of-month or day-of-week, not both"
                            : "one of day-of-month and day-of-week must be '?' (Quartz cannot "
                              "combine a day of the month with a day of the week)");
    return error_;
  }
  if (s_.last_day && s_.nearest_weekday && !s_.dom_nospec) {
    const int n = s_.last_offset;
    const bool feb = (s_.month & (1u << 2)) != 0;
    const bool month30 = (s_.month & ((1u << 4) | (1u << 6) | (1u << 9) | (1u << 11))) != 0;
    if ((n >= 28 && feb) || (n >= 30 && month30)) {
      fail(kDom, fields[3][0], fields[3][1],
           "'L-" + std::to_string(n) +
               "W' can fall before the first day of a short month, where Quartz never "
               "finishes; use a smaller offset or restrict the month field");
      return error_;
    }
  }
  return std::nullopt;
}

CronExpression CronCompiler::compile() const {
  CronExpression x;
  x.text_ = std::string(text_);
  x.options_ = options_;
  x.seconds_ = s_.sec;
  x.minutes_ = s_.min;
  x.hours_ = s_.hour;
  x.months_ = s_.month;
  std::copy(std::begin(s_.years), std::end(s_.years), std::begin(x.years_));

  CronExpression::DayRule& r = x.day_rule_;
  r.by_month_day = !s_.dom_nospec;
  r.last_day = s_.last_day;
  r.last_offset = s_.last_offset;
  r.weekday = s_.nearest_weekday;
  r.weekday_target = s_.dom_min == LONG_MAX ? 0 : static_cast<int>(std::min(s_.dom_min, 99L));
  r.last_weekday_of = s_.last_dow;
  r.nth = s_.nth;
  long wd = s_.dow_min == LONG_MAX ? 0 : s_.dow_min;
  if (wd == 0) wd = 7;  // Quartz: "0#n" behaves as Saturday
  r.weekday_value = wd > 7 ? 0 : static_cast<int>(wd);
  r.days = s_.dom;
  r.weekdays = s_.dow;

  for (int len = 28; len <= 31; ++len) {
    for (int w = 0; w < 7; ++w)
      x.day_masks_[len - 28][w] = cron::day_mask(r, len, w);
  }
  // Which months can fire, by year type (leap, weekday of January 1st).
  static constexpr int kDays[] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool any = false;
  for (int leap = 0; leap < 2; ++leap) {
    for (int w = 0; w < 7; ++w) {
      int first = w;
      std::uint16_t ok = 0;
      for (int m = 1; m <= 12; ++m) {
        const int len = kDays[m] + (m == 2 ? leap : 0);
        if ((x.months_ & (1u << m)) && x.day_masks_[len - 28][first] != 0) {
          ok |= static_cast<std::uint16_t>(1u << m);
        }
        first = (first + len) % 7;
      }
      x.year_months_[leap][w] = ok;
      any = any || ok != 0;
    }
  }
  // Years past max_year never fire.
  for (int y = options_.max_year + 1; y <= kMaxCronYear; ++y) {
    x.years_[(y - 1970) / 64] &= ~(std::uint64_t{1} << ((y - 1970) % 64));
  }
  const bool any_year =
      std::any_of(std::begin(x.years_), std::end(x.years_), [](std::uint64_t w) { return w != 0; });
  x.never_ = !any || !any_year || x.seconds_ == 0 || x.minutes_ == 0 || x.hours_ == 0;
  return x;
}

std::optional<CronError> CronExpression::check(std::string_view text, const CronOptions& options) {
  CronCompiler c(text, options);
  return c.parse();
}

StatusOr<CronExpression> CronExpression::parse(std::string_view text, const CronOptions& options) {
  CronCompiler c(text, options);
  if (auto error = c.parse()) return invalid_argument(error->message());
  return c.compile();
}

std::string_view cron_field_name(CronField field) noexcept {
  switch (field) {
    case CronField::kSeconds:
      return "seconds";
    case CronField::kMinutes:
      return "minutes";
    case CronField::kHours:
      return "hours";
    case CronField::kDayOfMonth:
      return "day-of-month";
    case CronField::kMonth:
      return "month";
    case CronField::kDayOfWeek:
      return "day-of-week";
    case CronField::kYear:
      return "year";
    case CronField::kExpression:
      return "expression";
  }
  return "expression";
}

std::string CronError::message() const {
  std::string m = "cron ";
  m += cron_field_name(field);
  if (field != CronField::kExpression) m += " field";
  if (end > begin) {
    m += end - begin == 1 ? ", character " + std::to_string(begin + 1)
                          : ", characters " + std::to_string(begin + 1) + "-" + std::to_string(end);
    m += " '" + text + "'";
  }
  m += ": " + reason;
  return m;
}

}  // namespace epoch
