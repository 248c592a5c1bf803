// Parsing: what is accepted, what it means, and what the errors say.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "epoch/cron.h"

using epoch::CronError;
using epoch::CronExpression;
using epoch::CronField;

namespace {

epoch::Instant at(const char* iso) {
  return *epoch::parse_instant(iso);
}

// The next `n` fire times in UTC as ISO strings.
std::vector<std::string> fires(const char* expr, const char* after, int n = 3,
                               const char* zone = "UTC") {
  auto cron = CronExpression::parse(expr);
  REQUIRE_MESSAGE(cron.ok(), cron.status().message());
  auto tz = epoch::TimeZone::locate(zone);
  REQUIRE(tz.ok());
  std::vector<std::string> out;
  for (auto t : cron->next_n(at(after), *tz, static_cast<std::size_t>(n))) {
    out.push_back(epoch::format_utc(t));
  }
  return out;
}

CronError error_of(const char* expr) {
  auto e = CronExpression::check(expr);
  REQUIRE_MESSAGE(e.has_value(), "expected '" << expr << "' to be rejected");
  return *e;
}

}  // namespace

TEST_CASE("valid expressions of every feature parse") {
  for (const char* expr : {"0 0 12 * * ?",        "0 15 10 ? * *",      "0 0/5 14 * * ?",
                           "0 0/5 14,18 * * ?",   "0 0-5 14 * * ?",     "0 10,44 14 ? 3 WED",
                           "0 15 10 ? * MON-FRI", "0 15 10 15 * ?",     "0 15 10 L * ?",
                           "0 15 10 L-2 * ?",     "0 15 10 ? * 6L",     "0 15 10 ? * 6#3",
                           "0 0 12 1/5 * ?",      "0 11 11 11 11 ?",    "0 0 12 LW * ?",
                           "0 0 12 15W * ?",      "0 0 12 ? * FRI#3",   "0 0 12 ? * FRIL",
                           "0 0 12 L-3W * ?",     "0 0 12 * * ? 2026",  "0 0 12 * * ? 2026-2030/2",
                           "0 0 12 * * ? *",      "  0 0 12 * * ?  ",   "0\t0\t12\t*\t*\t?",
                           "0 0 12 ? * sun-sat",  "0 0 12 * jan-dec ?", "/5 * * ? * *",
                           "*/0 * * * * ?",       "0 0 0012 * * ?",     "0 0 12 ? * 0#1",
                           "0 0 12 2W,16 * ?",    "0 0 12 L-W * ?",     "0 0 12 * * ? L",
                           "0 0 12 ? * L",        "0 0 22-2 * * ?",     "0 0 12 ? * FRI-MON"}) {
    INFO(expr);
    CHECK_FALSE(CronExpression::check(expr).has_value());
  }
}

TEST_CASE("names and letters are case-insensitive") {
  CHECK(fires("0 0 12 ? jan mon", "2026-01-01T00:00:00Z") ==
        fires("0 0 12 ? JAN MON", "2026-01-01T00:00:00Z"));
  CHECK(fires("0 0 12 lw * ?", "2026-01-01T00:00:00Z") ==
        fires("0 0 12 LW * ?", "2026-01-01T00:00:00Z"));
}

TEST_CASE("lists, ranges and steps") {
  CHECK(fires("0 0/20 10 * * ?", "2026-01-01T00:00:00Z") ==
        std::vector<std::string>{"2026-01-01T10:00:00.000Z", "2026-01-01T10:20:00.000Z",
                                 "2026-01-01T10:40:00.000Z"});
  CHECK(fires("5/20 0 10 * * ?", "2026-01-01T00:00:00Z") ==
        std::vector<std::string>{"2026-01-01T10:00:05.000Z", "2026-01-01T10:00:25.000Z",
                                 "2026-01-01T10:00:45.000Z"});
  CHECK(fires("0 0 10-12/2 * * ?", "2026-01-01T00:00:00Z") ==
        std::vector<std::string>{"2026-01-01T10:00:00.000Z", "2026-01-01T12:00:00.000Z",
                                 "2026-01-02T10:00:00.000Z"});
  // Quartz quirks kept: 'a/0' is 'a', 'a-b/0' is 'a', '*/0' is '*'.
  CHECK(fires("0 0 7/0 * * ?", "2026-01-01T00:00:00Z", 2) ==
        std::vector<std::string>{"2026-01-01T07:00:00.000Z", "2026-01-02T07:00:00.000Z"});
  CHECK(fires("0 0 7-9/0 * * ?", "2026-01-01T00:00:00Z", 2) ==
        std::vector<std::string>{"2026-01-01T07:00:00.000Z", "2026-01-02T07:00:00.000Z"});
  CHECK(fires("*/0 * * * * ?", "2026-01-01T00:00:00Z", 2) ==
        std::vector<std::string>{"2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z"});
}

TEST_CASE("ranges written high-to-low wrap around") {
  // 22-2 = 22, 23, 0, 1, 2
  CHECK(fires("0 0 22-2 * * ?", "2026-01-01T21:00:00Z", 6) ==
        std::vector<std::string>{"2026-01-01T22:00:00.000Z", "2026-01-01T23:00:00.000Z",
                                 "2026-01-02T00:00:00.000Z", "2026-01-02T01:00:00.000Z",
                                 "2026-01-02T02:00:00.000Z", "2026-01-02T22:00:00.000Z"});
  // FRI-MON: 2026-01-02 is a Friday.
  CHECK(fires("0 0 12 ? * FRI-MON", "2026-01-01T13:00:00Z", 5) ==
        std::vector<std::string>{"2026-01-02T12:00:00.000Z", "2026-01-03T12:00:00.000Z",
                                 "2026-01-04T12:00:00.000Z", "2026-01-05T12:00:00.000Z",
                                 "2026-01-09T12:00:00.000Z"});
  // NOV-FEB
  CHECK(fires("0 0 0 1 NOV-FEB ?", "2026-03-01T00:00:00Z", 4) ==
        std::vector<std::string>{"2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z",
                                 "2027-01-01T00:00:00.000Z", "2027-02-01T00:00:00.000Z"});
}

TEST_CASE("L, W, LW, L-n, nL and d#n") {
  CHECK(fires("0 0 12 L * ?", "2026-01-31T12:00:00Z", 2) ==
        std::vector<std::string>{"2026-02-28T12:00:00.000Z", "2026-03-31T12:00:00.000Z"});
  CHECK(fires("0 0 12 L-2 * ?", "2026-02-01T00:00:00Z", 1) ==
        std::vector<std::string>{"2026-02-26T12:00:00.000Z"});
  // 2026-02-28 is a Saturday: LW is Friday the 27th.
  CHECK(fires("0 0 12 LW * ?", "2026-02-01T00:00:00Z", 1) ==
        std::vector<std::string>{"2026-02-27T12:00:00.000Z"});
  // 2026-08-01 is a Saturday: 1W does not jump back into July, it is Monday the 3rd.
  CHECK(fires("0 0 12 1W * ?", "2026-07-02T00:00:00Z", 1) ==
        std::vector<std::string>{"2026-08-03T12:00:00.000Z"});
  // 2026-03-15 is a Sunday: 15W is Monday the 16th.
  CHECK(fires("0 0 12 15W * ?", "2026-03-01T00:00:00Z", 1) ==
        std::vector<std::string>{"2026-03-16T12:00:00.000Z"});
  // last Friday (6L) and third Friday (6#3) of January 2026
  CHECK(fires("0 0 12 ? * 6L", "2026-01-01T00:00:00Z", 1) ==
        std::vector<std::string>{"2026-01-30T12:00:00.000Z"});
  CHECK(fires("0 0 12 ? * 6#3", "2026-01-01T00:00:00Z", 1) ==
        std::vector<std::string>{"2026-01-16T12:00:00.000Z"});
  // "L" alone in day-of-week is Saturday.
  CHECK(fires("0 0 12 ? * L", "2026-01-01T00:00:00Z", 1) ==
        std::vector<std::string>{"2026-01-03T12:00:00.000Z"});
  // Quartz: 0#n behaves as Saturday; 8#n never fires.
  CHECK(fires("0 0 12 ? * 0#1", "2026-01-01T00:00:00Z", 1) ==
        std::vector<std::string>{"2026-01-03T12:00:00.000Z"});
  CHECK(CronExpression::parse("0 0 12 ? * 8#1")->never_fires());
}

TEST_CASE("errors name the field, the characters and the reason") {
  {
    const CronError e = error_of("0 0 12 ? * MON-FOO");
    CHECK(e.field == CronField::kDayOfWeek);
    CHECK(e.text == "FOO");
    CHECK(e.begin == 15);
    CHECK(e.end == 18);
    CHECK(
        e.message() ==
        "cron day-of-week field, characters 16-18 'FOO': expected a day name (SUN-SAT) after '-'");
  }
  {
    const CronError e = error_of("0 60 12 * * ?");
    CHECK(e.field == CronField::kMinutes);
    CHECK(e.text == "60");
    CHECK(e.reason == "minutes must be 0-59");
  }
  {
    const CronError e = error_of("0 0 12 * * *");
    CHECK(e.field == CronField::kExpression);
    CHECK(e.reason.find("must be '?'") != std::string::npos);
  }
  CHECK(error_of("0 0 12 ? * ?").reason.find("not both") != std::string::npos);
  CHECK(error_of("0 0 12").reason.find("found 3") != std::string::npos);
  CHECK(error_of("").reason.find("found 0") != std::string::npos);
  CHECK(error_of("0 0 12 * * ? 2026 1").reason.find("too many fields") != std::string::npos);
  CHECK(error_of("*/60 * * * * ?").reason.find("step 60 is too large") != std::string::npos);
  CHECK(error_of("0 0 12 32 * ?").field == CronField::kDayOfMonth);
  CHECK(error_of("0 0 12 ? * 0-6").reason == "days of the week must be 1-7 (1 = SUN) or SUN-SAT");
  CHECK(error_of("0 0 12 L-31 * ?").reason == "the offset from the last day must be 0-30");
  CHECK(error_of("0 0 12 * * ? 2030-2020").reason.find("must not end before") != std::string::npos);
  CHECK(error_of("9999999999 0 12 * * ?").reason == "number too large");
  CHECK(error_of("0 0 12 ? * 2#6").reason == "'#' must be followed by a number 1-5");
  CHECK(error_of("0 0 12 ? * 2#1,3#2").reason.find("only one") != std::string::npos);
  CHECK(error_of("0 0 12 L,5 * ?").field == CronField::kDayOfMonth);
  CHECK(error_of("0 0 12 ? * L,4").field == CronField::kDayOfWeek);
  CHECK(error_of("0 0 12 MON * ?").reason.find("only allowed in the month") != std::string::npos);
  CHECK(error_of("@ 0 12 * * ?").reason == "unexpected character");
  // A multi-byte character is reported whole.
  CHECK(error_of("0 0 12 * * \xEF\xBC\x9F").text == "\xEF\xBC\x9F");
}

TEST_CASE("deliberate rejections of what Quartz silently accepts") {
  struct Case {
    const char* expr;
    const char* reason_part;
  };
  for (const Case& c : std::vector<Case>{
           {"0 0 12 * JANUARY ?", "after the name"},
           {"0 0 12 ? * MON/2", "a step cannot follow a name"},
           {"0 0 12 ? * MON-FRI/2", "a step cannot follow a name range"},
           {"0 0 12 5X * ?", "after the number"},
           {"0 0 12 15WW * ?", "after 'W'"},
           {"0 0 12 *5 * ?", "after '*'"},
           {"0 0 12 1,,2 * ?", "empty list item"},
           {"0 0 12 * * ? 2026,", "empty list item"},
           {"0 0 12 * * ?x", "after '?'"},
           {"0 0 12 * * ? 2026 *", "too many fields"},
           {"0 0 L * * ?", "'L' is only allowed"},
           {"L 0 12 * * ?", "'L' is only allowed"},
           {"0 L 12 * * ?", "'L' is only allowed"},
           {"0 0 12 * L ?", "'L' is only allowed"},
           {"0 0 12 0W * ?", "1-31"},
           {"0 0 12 L-28W * ?", "where Quartz never finishes"},
           {"0 0 12 L-30W APR ?", "where Quartz never finishes"},
           {"99-82 0 12 * * ?", "seconds must be 0-59"},
           {"99 0 12 * * ?", "seconds must be 0-59"},
           {"0 0 12 98 * ?", "days of the month must be 1-31"},
       }) {
    INFO(c.expr);
    const auto e = CronExpression::check(c.expr);
    REQUIRE(e.has_value());
    CHECK(e->reason.find(c.reason_part) != std::string::npos);
  }
  // L-nW is fine when no month is short enough for it.
  CHECK_FALSE(CronExpression::check("0 0 12 L-28W JAN,MAR ?").has_value());
  CHECK_FALSE(CronExpression::check("0 0 12 L-29W APR ?").has_value());
}

TEST_CASE("parse returns the message as an INVALID_ARGUMENT status") {
  auto r = CronExpression::parse("0 0 25 * * ?");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == epoch::StatusCode::kInvalidArgument);
  CHECK(r.status().message() == "cron hours field, characters 5-6 '25': hours must be 0-23");
}

TEST_CASE("max_year bounds the search and the year field") {
  epoch::CronOptions opt;
  opt.max_year = 2030;
  auto cron = CronExpression::parse("0 0 0 1 1 ?", opt);
  REQUIRE(cron.ok());
  const auto times = cron->next_n(at("2026-06-01T00:00:00Z"), epoch::TimeZone(), 10);
  REQUIRE(times.size() == 4);
  CHECK(epoch::format_utc(times.back()) == "2030-01-01T00:00:00.000Z");
  // '2040/5' starts past the last year: Quartz rejects such a range too.
  CHECK(CronExpression::check("0 0 0 1 1 ? 2040/5", opt).has_value());
  CHECK(CronExpression::parse("0 0 0 1 1 ? 2040", opt)->never_fires());
  opt.max_year = 1969;
  CHECK(CronExpression::check("0 0 0 1 1 ?", opt)->reason.find("max_year") != std::string::npos);
}

TEST_CASE("describe() reads naturally") {
  CHECK(CronExpression::parse("0 15 10 ? * MON-FRI")->describe() ==
        "at 10:15:00, on Monday through Friday");
  CHECK(CronExpression::parse("0 0 12 L * ?")->describe() ==
        "at 12:00:00, on the last day of the month");
  CHECK(CronExpression::parse("0 0 12 15W * ?")->describe() ==
        "at 12:00:00, on the weekday nearest the 15th of the month");
  CHECK(CronExpression::parse("0 0 12 ? * 6#3")->describe() ==
        "at 12:00:00, on the third Friday of the month");
  CHECK(CronExpression::parse("0 0/5 * * * ?")->describe() == "every 5 minutes");
  CHECK(CronExpression::parse("* * * * * ?")->describe() == "every second");
  CHECK(CronExpression::parse("0 * * * * ?")->describe() == "every minute");
  CHECK(CronExpression::parse("0 0/5 14,18 * * ?")->describe() ==
        "every 5 minutes and at hours 14 and 18");
  CHECK(CronExpression::parse("0 0 0 1 JAN,JUL ? 2027")->describe() ==
        "at 00:00:00, on the 1st of the month, in January and July, in 2027");
}
