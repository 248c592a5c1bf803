// Private: the day rules of a cron expression as per-month bit masks.
#pragma once

#include <cstdint>

#include "epoch/cron.h"

namespace epoch::cron {

// Days (bit d = day d) on which `rule` fires in a month of `len` days whose
// first day is weekday `first` (0 = Sunday .. 6 = Saturday), exactly as
// Quartz's getTimeAfter decides them.
std::uint32_t day_mask(const auto& rule, int len, int first) {
  const auto weekday = [first](int day) { return ((first + day - 1) % 7 + 7) % 7; };
  // Quartz's "nearest weekday" move: Saturday -> Friday (or Monday the 3rd
  // when the 1st is a Saturday), Sunday -> Monday (or Friday when the last
  // day is a Sunday). `day` may lie past the month's end (`31W` in April):
  // Quartz then reads the weekday of the date it rolls over to.
  const auto nearest = [&](int day) {
    const int w = weekday(day);
    if (w == 6) return day == 1 ? day + 2 : day - 1;
    if (w == 0) return day == len ? day - 2 : day + 1;
    return day;
  };
  const auto bit = [len](int day) -> std::uint32_t {
    return day >= 1 && day <= len ? std::uint32_t{1} << day : 0;
  };
  if (rule.by_month_day) {
    if (rule.last_day) {
      const int day = len - rule.last_offset;
      if (day < 1) return 0;
      return bit(rule.weekday ? nearest(day) : day);
    }
    if (rule.weekday) return rule.weekday_target >= 1 ? bit(nearest(rule.weekday_target)) : 0;
    const std::uint32_t in_month = len == 31 ? 0xFFFFFFFEu : ((std::uint32_t{1} << (len + 1)) - 2);
    return rule.days & in_month;
  }
  if (rule.last_weekday_of) {
    if (rule.weekday_value < 1) return 0;
    int day = len;
    while (weekday(day) != rule.weekday_value - 1)
      --day;
    return bit(day);
  }
  if (rule.nth != 0) {
    if (rule.weekday_value < 1) return 0;
    const int first_match = 1 + ((rule.weekday_value - 1 - first) % 7 + 7) % 7;
    return bit(first_match + 7 * (rule.nth - 1));
  }
  std::uint32_t mask = 0;
  for (int day = 1; day <= len; ++day) {
    if (rule.weekdays & (1u << (weekday(day) + 1))) mask |= std::uint32_t{1} << day;
  }
  return mask;
}

}  // namespace epoch::cron
