// Every case of Quartz 2.3.2's own answers (tests/cron/quartz_vectors.jsonl, a
// copy of shared/cron-vectors/public.jsonl) through the same code path as
// `epochd cron check`. Only the divergences listed below, each with its
// reason, may differ from Quartz, and each of them must differ.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "cron_command.h"

namespace json = boost::json;

namespace {

// Why we deliberately answer differently from Quartz (epoch/cron.h lists the
// rules). kReject: Quartz accepts, we reject with an error.
enum class Divergence { kReject, kDifferentTimes };

struct Known {
  Divergence kind;
  const char* reason;
};

const std::map<std::string, Known>& divergences() {
  static const std::map<std::string, Known> k = {
      {"field_syntax-0458",
       {Divergence::kReject, "text after '?' ('?\\r'): Quartz ignores one character after '?'"}},
      {"fuzz-0020", {Divergence::kReject, "more than 7 fields: Quartz ignores the 8th"}},
      {"fuzz-0039", {Divergence::kReject, "more than 7 fields: Quartz ignores the 8th"}},
      {"fuzz-0116",
       {Divergence::kReject,
        "'L' in the minutes field: Quartz adds nothing for it (alone it throws at run time)"}},
      {"fuzz-0125",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('7F')"}},
      {"fuzz-0128",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('2T13/9')"}},
      {"fuzz-0170",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('5-2A/4')"}},
      {"fuzz-0201",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('*1')"}},
      {"fuzz-0220",
       {Divergence::kReject, "text after '?' ('?T'): Quartz ignores one character after '?'"}},
      {"fuzz-0227",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('5-9L/7')"}},
      {"fuzz-0265",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('5U')"}},
      {"fuzz-0271", {Divergence::kReject, "'L' in the month field: Quartz throws at run time"}},
      {"fuzz-0272",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('**')"}},
      {"fuzz-0285",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('*N/2')"}},
      {"quartz_suite-0086", {Divergence::kReject, "more than 7 fields: Quartz ignores the 8th"}},
      {"special_W-0089",
       {Divergence::kReject,
        "'L-28W' with February allowed: Quartz loops forever once a search enters a February from "
        "January"}},
      {"special_W-0091",
       {Divergence::kReject,
        "'L-29W' with February allowed: Quartz loops forever once a search enters a February from "
        "January"}},
      {"special_W-0092",
       {Divergence::kReject, "'L-29W' with February allowed: Quartz timed out on this very case"}},
      {"syntax_edge-0092",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('JANUARY' read "
        "as 'JAN')"}},
      {"syntax_edge-0095",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('MONDAY' read as "
        "'MON')"}},
      {"syntax_edge-0105",
       {Divergence::kReject, "a step after a name ('MON/2'): Quartz ignores the step"}},
      {"syntax_edge-0106",
       {Divergence::kReject, "a step after a name ('JAN/2'): Quartz ignores the step"}},
      {"syntax_edge-0122",
       {Divergence::kReject, "'L' in the hours field: Quartz throws at run time"}},
      {"syntax_edge-0146",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('2L-2' read as "
        "'2L')"}},
      {"syntax_edge-0150",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('L-1' in "
        "day-of-week read as 'L')"}},
      {"syntax_edge-0160",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('1-5W' read as "
        "'1-5')"}},
      {"syntax_edge-0165",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('15WW')"}},
      {"syntax_edge-0166",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('15Wx')"}},
      {"syntax_edge-0167",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('15WL')"}},
      {"syntax_edge-0192",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('1-3#2' read as "
        "'1-3')"}},
      {"syntax_edge-0202",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('*5' read as "
        "'*')"}},
      {"syntax_edge-0208",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('*-5' read as "
        "'*')"}},
      {"syntax_edge-0211",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('10am')"}},
      {"syntax_edge-0213",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('5.0')"}},
      {"syntax_edge-0219",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('5_6')"}},
      {"syntax_edge-0222",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('20x6' read as "
        "'20')"}},
      {"syntax_edge-0237", {Divergence::kReject, "an empty list item ('2026,'): Quartz skips it"}},
      {"syntax_edge-0243",
       {Divergence::kReject,
        "trailing characters after a number, name or symbol: Quartz ignores them ('1\\')"}},
      {"wrap-0087",
       {Divergence::kReject, "a step after a name range ('FRI-MON/2'): Quartz ignores the step"}},
  };
  return k;
}

}  // namespace

TEST_CASE("every Quartz vector matches, except the documented divergences") {
  std::ifstream in(EPOCH_CRON_VECTORS);
  REQUIRE(in.good());
  std::string line;
  int cases = 0, accepted = 0, rejected = 0, matched = 0;
  std::set<std::string> diverged;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++cases;
    const json::object expect = json::parse(line).as_object();
    const std::string id(expect.at("id").as_string());
    const json::object got = json::parse(epochd::check_case_line(line, 2126)).as_object();
    CHECK(got.at("id") == expect.at("id"));
    const bool quartz_valid = expect.at("valid").as_bool();
    const bool quartz_incomplete = expect.contains("runtime_error") || expect.contains("timeout");
    const bool same = got.at("valid") == expect.at("valid") &&
                      (!quartz_valid || (got.at("next_ms") == expect.at("next_ms") &&
                                         got.at("exhausted") == expect.at("exhausted")));
    const auto known = divergences().find(id);
    if (known == divergences().end()) {
      INFO("case " << id << " expr '" << json::serialize(expect.at("expr")) << "' tz "
                   << expect.at("tz") << "\n  quartz: " << json::serialize(expect.at("next_ms"))
                   << " valid=" << quartz_valid << "\n  ours:   " << json::serialize(got));
      CHECK(same);
      CHECK_FALSE(quartz_incomplete);
      if (same) ++matched;
    } else {
      diverged.insert(id);
      INFO("divergent case " << id << " (" << known->second.reason
                             << "): " << json::serialize(got));
      CHECK_FALSE(same);
      if (known->second.kind == Divergence::kReject) {
        CHECK(quartz_valid);
        CHECK_FALSE(got.at("valid").as_bool());
      } else {
        CHECK(got.at("valid").as_bool());
      }
    }
    (quartz_valid ? accepted : rejected) += 1;
  }
  CHECK(cases == 1053);
  CHECK(accepted == 885);
  CHECK(rejected == 168);
  // Every listed divergence is a case of the file.
  for (const auto& [id, known] : divergences()) {
    INFO("listed divergence " << id);
    CHECK(diverged.count(id) == 1);
  }
  MESSAGE("cases " << cases << ", identical to Quartz " << matched << ", documented divergences "
                   << diverged.size());
}
