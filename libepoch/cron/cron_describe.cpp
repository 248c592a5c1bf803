// CronExpression::describe(): a short English rendering of the value sets.
#include <bit>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "epoch/cron.h"

namespace epoch {
namespace {

constexpr const char* kMonthNames[] = {"",        "January",  "February", "March",  "April",
                                       "May",     "June",     "July",     "August", "September",
                                       "October", "November", "December"};
constexpr const char* kDayNames[] = {"",          "Sunday",   "Monday", "Tuesday",
                                     "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr const char* kOrdinals[] = {"", "first", "second", "third", "fourth", "fifth"};

std::vector<int> members(std::uint64_t mask, int lo, int hi) {
  std::vector<int> v;
  for (int i = lo; i <= hi; ++i) {
    if ((mask >> i) & 1u) v.push_back(i);
  }
  return v;
}

std::string two(int v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d", v);
  return buf;
}

std::string ordinal_day(int d) {
  const int tens = d % 100 / 10, ones = d % 10;
  const char* suffix = tens == 1   ? "th"
                       : ones == 1 ? "st"
                       : ones == 2 ? "nd"
                       : ones == 3 ? "rd"
                                   : "th";
  return std::to_string(d) + suffix;
}

// "a, b and c"
std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += i + 1 == parts.size() ? " and " : ", ";
    out += parts[i];
  }
  return out;
}

// Collapses runs of consecutive values into "a through b".
std::string list(const std::vector<int>& v, const auto& name) {
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1)
      ++j;
    if (j - i >= 2) {
      parts.push_back(name(v[i]) + " through " + name(v[j]));
    } else {
      for (std::size_t k = i; k <= j; ++k)
        parts.push_back(name(v[k]));
    }
    i = j + 1;
  }
  return join(parts);
}

// The step k when v is {start, start + k, ...} running to the field's end.
int step_of(const std::vector<int>& v, int hi) {
  if (v.size() < 2) return 0;
  const int k = v[1] - v[0];
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] - v[i - 1] != k) return 0;
  }
  return v.back() + k > hi ? k : 0;
}

std::string unit_phrase(const std::vector<int>& v, int lo, int hi, const char* unit) {
  const std::string u(unit);
  if (static_cast<int>(v.size()) == hi - lo + 1) return "every " + u;
  if (const int k = step_of(v, hi); k > 1) {
    std::string s = "every " + std::to_string(k) + " " + u + "s";
    if (v.front() != lo) s += " starting at " + u + " " + std::to_string(v.front());
    return s;
  }
  if (v.size() == 1) return "at " + u + " " + std::to_string(v.front());
  return "at " + u + "s " + list(v, [](int x) { return std::to_string(x); });
}

}  // namespace

std::string CronExpression::describe() const {
  const auto secs = members(seconds_, 0, 59);
  const auto mins = members(minutes_, 0, 59);
  const auto hrs = members(hours_, 0, 23);
  std::string out;
  if (secs.size() == 1 && mins.size() == 1 && hrs.size() == 1) {
    out = "at " + two(hrs[0]) + ":" + two(mins[0]) + ":" + two(secs[0]);
  } else {
    std::vector<std::string> parts;
    const bool every_second = secs.size() == 60;
    const bool on_the_minute = secs.size() == 1 && secs[0] == 0;
    if (!on_the_minute) parts.push_back(unit_phrase(secs, 0, 59, "second"));
    if (mins.size() != 60) {
      parts.push_back(unit_phrase(mins, 0, 59, "minute"));
    } else if (!every_second) {
      parts.push_back("every minute");
    }
    if (hrs.size() != 24) parts.push_back(unit_phrase(hrs, 0, 23, "hour"));
    out = join(parts);
  }

  const DayRule& r = day_rule_;
  if (r.by_month_day) {
    if (r.last_day) {
      const std::string which =
          r.last_offset == 0 ? "the last" : std::to_string(r.last_offset) + " days before the last";
      out += r.weekday ? ", on the weekday nearest " + which + " day of the month"
                       : ", on " + which + " day of the month";
    } else if (r.weekday) {
      out += ", on the weekday nearest the " + ordinal_day(r.weekday_target) + " of the month";
    } else if (std::popcount(r.days) != 31) {
      out += ", on the " + list(members(r.days, 1, 31), ordinal_day) + " of the month";
    }
  } else if (r.last_weekday_of || r.nth != 0) {
    if (r.weekday_value == 0) {
      out += ", on no day";
    } else {
      out += std::string(", on the ") + (r.nth != 0 ? kOrdinals[r.nth] : "last") + " " +
             kDayNames[r.weekday_value] + " of the month";
    }
  } else if (std::popcount(r.weekdays) != 7) {
    out +=
        ", on " + list(members(r.weekdays, 1, 7), [](int d) { return std::string(kDayNames[d]); });
  }

  if (std::popcount(months_) != 12) {
    out +=
        ", in " + list(members(months_, 1, 12), [](int m) { return std::string(kMonthNames[m]); });
  }
  std::vector<int> years;
  for (int y = 1970; y <= options_.max_year; ++y) {
    if ((years_[(y - 1970) / 64] >> ((y - 1970) % 64)) & 1u) years.push_back(y);
  }
  if (years.empty()) {
    out += ", in no year up to " + std::to_string(options_.max_year);
  } else if (static_cast<int>(years.size()) != options_.max_year - 1970 + 1) {
    out += ", in " + list(years, [](int y) { return std::to_string(y); });
  }
  return out;
}

}  // namespace epoch
