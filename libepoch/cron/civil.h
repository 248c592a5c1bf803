// Private: proleptic Gregorian calendar arithmetic on day counts
// (Howard Hinnant's days_from_civil / civil_from_days algorithms).
#pragma once

#include <cstddef>
#include <cstdint>

namespace epoch::civil {

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Days since 1970-01-01 of year y, month m (1..12), day d (1..31).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = floor_div(y, 400);
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Date {
  std::int64_t y;
  unsigned m, d;
};

constexpr Date civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = floor_div(z, 146097);
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

constexpr bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// Weekday (0 = Sunday) of a day count since 1970-01-01 (a Thursday).
constexpr int weekday_of(std::int64_t days) {
  return static_cast<int>(((days + 4) % 7 + 7) % 7);
}

// Writes "YYYY<d>MM<d>DD<t>HH<c>MM<c>SS" (and "<f>mmm" when `ms` >= 0) of a
// count of seconds into `out` without any allocation or locale; returns the
// length (0 when the year is outside 0..9999). `out` needs 24 bytes.
inline std::size_t write_datetime(char* out, std::int64_t seconds, int ms, char d, char t, char c,
                                  char f) {
  const std::int64_t days = floor_div(seconds, 86400);
  const auto sod = static_cast<int>(seconds - days * 86400);
  const Date date = civil_from_days(days);
  if (date.y < 0 || date.y > 9999) return 0;
  const auto two = [](char* p, unsigned v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  const auto y = static_cast<unsigned>(date.y);
  two(out, y / 100);
  two(out + 2, y % 100);
  out[4] = d;
  two(out + 5, date.m);
  out[7] = d;
  two(out + 8, date.d);
  out[10] = t;
  two(out + 11, static_cast<unsigned>(sod / 3600));
  out[13] = c;
  two(out + 14, static_cast<unsigned>(sod / 60 % 60));
  out[16] = c;
  two(out + 17, static_cast<unsigned>(sod % 60));
  if (ms < 0) return 19;
  out[19] = f;
  out[20] = static_cast<char>('0' + ms / 100);
  two(out + 21, static_cast<unsigned>(ms % 100));
  return 23;
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11017).y == 2000 && civil_from_days(11017).m == 3);
static_assert(weekday_of(0) == 4);

}  // namespace epoch::civil
