// TimeZone: loading, offsets, the UNIQUE / SKIPPED / REPEATED model, and
// ISO-8601 formatting and parsing.
#include "epoch/time_zone.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using epoch::TimeZone;
using std::chrono::local_seconds;
using std::chrono::seconds;
using std::chrono::sys_seconds;

namespace {

sys_seconds sys(const char* iso) {
  return std::chrono::floor<seconds>(*epoch::parse_instant(iso));
}

local_seconds local(const char* iso_without_zone) {
  const std::string s = std::string(iso_without_zone) + "Z";
  return local_seconds{sys(s.c_str()).time_since_epoch()};
}

}  // namespace

TEST_CASE("locate: IANA names, links, and clear errors") {
  CHECK(TimeZone::locate("Europe/London").ok());
  CHECK(TimeZone::locate("UTC").ok());
  CHECK(TimeZone::locate("US/Eastern").ok());  // a link
  CHECK(TimeZone::locate("US/Eastern")->name() == "US/Eastern");
  CHECK(TimeZone().name() == "UTC");
  for (const char* bad : {"", "Mars/Olympus", "../../etc/passwd", "Europe//London", "/UTC",
                          "Europe/London ", "ＵＴＣ"}) {
    INFO(bad);
    auto z = TimeZone::locate(bad);
    REQUIRE_FALSE(z.ok());
    CHECK(z.status().code() == epoch::StatusCode::kInvalidArgument);
    CHECK(z.status().message().find("time zone") != std::string::npos);
  }
  // Cached: the same data is shared.
  CHECK(*TimeZone::locate("Asia/Kolkata") == *TimeZone::locate("Asia/Kolkata"));
}

TEST_CASE("offsets, including rules after the last transition stored in the file") {
  const TimeZone ny = *TimeZone::locate("America/New_York");
  CHECK(ny.offset_at(sys("2026-01-15T12:00:00Z")) == seconds{-5 * 3600});
  CHECK(ny.offset_at(sys("2026-07-15T12:00:00Z")) == seconds{-4 * 3600});
  CHECK(ny.offset_at(sys("2050-07-15T12:00:00Z")) == seconds{-4 * 3600});
  CHECK(ny.offset_at(sys("2120-01-15T12:00:00Z")) == seconds{-5 * 3600});
  const TimeZone chatham = *TimeZone::locate("Pacific/Chatham");
  CHECK(chatham.offset_at(sys("2100-01-15T00:00:00Z")) == seconds{13 * 3600 + 45 * 60});
  CHECK(chatham.offset_at(sys("2100-06-15T00:00:00Z")) == seconds{12 * 3600 + 45 * 60});
  const TimeZone kolkata = *TimeZone::locate("Asia/Kolkata");
  CHECK(kolkata.offset_at(sys("2090-06-15T00:00:00Z")) == seconds{5 * 3600 + 30 * 60});
}

TEST_CASE("lookup: unique, skipped and repeated local times") {
  const TimeZone ny = *TimeZone::locate("America/New_York");
  {
    const auto info = ny.lookup(local("2026-03-08T12:00:00"));
    CHECK(info.kind == TimeZone::Kind::kUnique);
    CHECK(info.first == sys("2026-03-08T16:00:00Z"));
  }
  {
    const auto info = ny.lookup(local("2026-03-08T02:30:00"));
    CHECK(info.kind == TimeZone::Kind::kSkipped);
    CHECK(info.gap_end == local("2026-03-08T03:00:00"));
    CHECK(info.first == sys("2026-03-08T07:00:00Z"));
  }
  {
    const auto info = ny.lookup(local("2026-11-01T01:30:00"));
    CHECK(info.kind == TimeZone::Kind::kRepeated);
    CHECK(info.first == sys("2026-11-01T05:30:00Z"));
    CHECK(info.second == sys("2026-11-01T06:30:00Z"));
  }
  CHECK(ny.lookup(local("2026-11-01T02:00:00")).kind == TimeZone::Kind::kUnique);
  CHECK(ny.lookup(local("2026-11-01T00:59:59")).kind == TimeZone::Kind::kUnique);
  const TimeZone troll = *TimeZone::locate("Antarctica/Troll");
  const auto gap = troll.lookup(local("2026-03-29T02:00:00"));
  CHECK(gap.kind == TimeZone::Kind::kSkipped);
  CHECK(gap.gap_end == local("2026-03-29T03:00:00"));
  CHECK(TimeZone().lookup(local("2026-03-08T02:30:00")).kind == TimeZone::Kind::kUnique);
}

TEST_CASE("format_utc, format_local and parse_instant") {
  const TimeZone ny = *TimeZone::locate("America/New_York");
  const epoch::Instant t = epoch::from_epoch_millis(1772955000500);  // 2026-03-08T07:30:00.500Z
  CHECK(epoch::format_utc(t) == "2026-03-08T07:30:00.500Z");
  CHECK(epoch::format_local(t, ny) == "2026-03-08T03:30:00.500-04:00");
  CHECK(epoch::format_local(t, TimeZone()) == "2026-03-08T07:30:00.500Z");
  CHECK(epoch::format_local(epoch::from_epoch_millis(0), *TimeZone::locate("Asia/Kathmandu")) ==
        "1970-01-01T05:30:00+05:30");
  CHECK(*epoch::parse_instant("2026-03-08T07:30:00.5Z") == t);
  CHECK(*epoch::parse_instant("2026-03-08T03:30:00.500-04:00") == t);
  CHECK(*epoch::parse_instant("2026-03-08 13:00:00.500+0530") == t);
  CHECK(*epoch::parse_instant("1772955000500") == t);
  CHECK(*epoch::parse_instant("2026-03-08T07:30Z") == epoch::from_epoch_millis(1772955000000));
  for (const char* bad :
       {"", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-03-08", "2026-03-08T07:30:00",
        "2026-03-08T25:00:00Z", "2026-03-08T07:30:00Zx", "yesterday", "2026-03-08T07:30:00.Z"}) {
    INFO(bad);
    auto r = epoch::parse_instant(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("invalid instant") == 0);
  }
}
