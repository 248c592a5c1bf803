// ISO-8601 formatting and parsing of instants.
#include <charconv>
#include <cstdio>
#include <string>

#include "civil.h"
#include "epoch/time_zone.h"

namespace epoch {
namespace {

using civil::days_from_civil;
using civil::floor_div;

// "YYYY-MM-DDTHH:MM:SS" of a count of seconds, plus ".fff" when ms != 0 or forced.
std::string civil_text(std::int64_t seconds, int ms, bool force_ms) {
  char fast[24];
  if (const std::size_t n =
          civil::write_datetime(fast, seconds, ms != 0 || force_ms ? ms : -1, '-', 'T', ':', '.')) {
    return std::string(fast, n);
  }
  const std::int64_t days = floor_div(seconds, 86400);
  const auto sod = static_cast<int>(seconds - days * 86400);
  const civil::Date date = civil::civil_from_days(days);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d",
                        static_cast<long long>(date.y), date.m, date.d, sod / 3600, sod / 60 % 60,
                        sod % 60);
  if (ms != 0 || force_ms) n += std::snprintf(buf + n, sizeof buf - n, ".%03d", ms);
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace

std::string format_utc(Instant t) {
  const std::int64_t ms = t.time_since_epoch().count();
  const std::int64_t s = floor_div(ms, 1000);
  return civil_text(s, static_cast<int>(ms - s * 1000), true) + "Z";
}

std::string format_local(Instant t, const TimeZone& zone) {
  const std::int64_t ms = t.time_since_epoch().count();
  const std::int64_t s = floor_div(ms, 1000);
  const auto offset =
      static_cast<int>(zone.offset_at(std::chrono::sys_seconds{std::chrono::seconds{s}}).count());
  std::string out = civil_text(s + offset, static_cast<int>(ms - s * 1000), false);
  if (offset == 0) return out + "Z";
  const int a = offset < 0 ? -offset : offset;
  char buf[16];
  if (a % 60 != 0) {
    std::snprintf(buf, sizeof buf, "%c%02d:%02d:%02d", offset < 0 ? '-' : '+', a / 3600,
                  a / 60 % 60, a % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  }
  return out + buf;
}

StatusOr<Instant> parse_instant(std::string_view text) {
  // The text as quoted in messages: at most 64 characters of it.
  const std::string quoted =
      text.size() <= 64 ? std::string(text) : std::string(text.substr(0, 64)) + "...";
  const auto error = [&](std::size_t at, const char* what) {
    return invalid_argument("invalid instant '" + quoted + "' at character " +
                            std::to_string(at + 1) + ": expected " + what +
                            " (ISO-8601 such as 2026-03-08T06:59:59.500Z, or epoch milliseconds)");
  };
  const auto out_of_range = [&] {
    return invalid_argument("instant '" + quoted + "' is outside the supported range " +
                            std::string(kInstantRangeText));
  };
  if (text.empty()) return error(0, "a date");
  std::size_t i = 0;
  // Plain epoch milliseconds.
  if (text.find_first_not_of("-0123456789") == std::string_view::npos &&
      (text.size() < 5 || text[4] != '-')) {
    std::int64_t ms = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec == std::errc::result_out_of_range) return out_of_range();
    if (ec != std::errc() || p != text.data() + text.size()) return error(0, "a number");
    if (!in_instant_range(from_epoch_millis(ms))) return out_of_range();
    return from_epoch_millis(ms);
  }
  const auto digits = [&](int count, int& out) {
    out = 0;
    for (int k = 0; k < count; ++k, ++i) {
      if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  const auto expect = [&](char c) {
    if (i < text.size() && text[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0;
  if (!digits(4, y)) return error(i, "a 4-digit year");
  if (!expect('-')) return error(i, "'-'");
  if (!digits(2, mo) || mo < 1 || mo > 12) return error(i - 2, "a month 01-12");
  if (!expect('-')) return error(i, "'-'");
  static constexpr int kDays[] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (!digits(2, d) || d < 1 || d > kDays[mo]) return error(i - 2, "a day of the month");
  if (mo == 2 && d == 29 && !civil::is_leap(y)) return error(i - 2, "a day of the month");
  if (!expect('T') && !expect(' ')) return error(i, "'T'");
  if (!digits(2, h) || h > 23) return error(i - 2, "an hour 00-23");
  if (!expect(':')) return error(i, "':'");
  if (!digits(2, mi) || mi > 59) return error(i - 2, "minutes 00-59");
  if (expect(':')) {
    if (!digits(2, s) || s > 59) return error(i - 2, "seconds 00-59");
    if (expect('.')) {
      int scale = 100, n = 0;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        ms += (text[i] - '0') * scale;
        scale /= 10;
        ++i, ++n;
      }
      if (n == 0) return error(i, "fraction digits");
    }
  }
  int offset = 0;
  if (expect('Z') || expect('z')) {
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    const int sign = text[i] == '-' ? -1 : 1;
    ++i;
    int oh = 0, om = 0;
    if (!digits(2, oh) || oh > 18) return error(i, "an offset hour");
    expect(':');
    if (!digits(2, om) || om > 59) return error(i, "offset minutes");
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return error(i, "'Z' or a UTC offset such as +05:30");
  }
  if (i != text.size()) return error(i, "the end of the text");
  const std::int64_t secs =
      days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
      mi * 60 + s - offset;
  const Instant t = from_epoch_millis(secs * 1000 + ms);
  if (!in_instant_range(t)) return out_of_range();  // year 0000, or an offset past 9999/0001
  return t;
}

}  // namespace epoch
