#include "cron_command.h"

#include <boost/json.hpp>
#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <optional>

#include "epoch/cron.h"
#include "epoch/time_zone.h"

namespace po = boost::program_options;
namespace json = boost::json;

namespace epochd {
namespace {

constexpr const char* kUsage =
    "usage: epochd cron next '<expr>' [--tz ZONE] [--after INSTANT] [-n N] [--max-year Y]\n"
    "       epochd cron describe '<expr>'\n"
    "       epochd cron check [--max-year Y] < cases.jsonl\n";

struct Common {
  epoch::CronOptions cron;
};

// Parses `args` against `d` (with the expression as the positional
// argument when `expr` is given). Returns an exit code when the command is
// done (help printed), nothing when it should go on.
std::optional<int> parse_options(const std::vector<std::string>& args,
                                 const po::options_description& d, bool expr, std::ostream& out) {
  po::positional_options_description pos;
  if (expr) pos.add("expr", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(d).positional(pos).run(), vm);
  if (vm.count("help")) {
    out << kUsage << d;
    return 0;
  }
  po::notify(vm);
  return std::nullopt;
}

po::options_description common_options(Common& c) {
  po::options_description d("options");
  d.add_options()("help,h", "show this help")("max-year",
                                              po::value<int>(&c.cron.max_year)->default_value(2126),
                                              "search fire times up to the end of this year");
  return d;
}

int cron_next(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Common c;
  std::string expr, zone_name = "UTC", after_text;
  std::size_t n = 5;
  po::options_description d = common_options(c);
  d.add_options()("tz", po::value<std::string>(&zone_name)->default_value("UTC"),
                  "IANA time zone the expression is evaluated in")(
      "after", po::value<std::string>(&after_text),
      "start instant, ISO-8601 (2026-03-08T06:59:59Z) or epoch ms; default now")(
      ",n", po::value<std::size_t>(&n)->default_value(5), "how many fire times (1-10000)")(
      "expr", po::value<std::string>(&expr)->required(), "the cron expression");
  if (auto code = parse_options(args, d, true, out)) return *code;
  if (n < 1 || n > 10000) {
    err << "epochd cron next: -n must be 1-10000\n";
    return 2;
  }
  auto cron = epoch::CronExpression::parse(expr, c.cron);
  if (!cron.ok()) {
    err << cron.status().message() << "\n";
    return 2;
  }
  auto zone = epoch::TimeZone::locate(zone_name);
  if (!zone.ok()) {
    err << zone.status().message() << "\n";
    return 2;
  }
  epoch::Instant after =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  if (!after_text.empty()) {
    auto parsed = epoch::parse_instant(after_text);
    if (!parsed.ok()) {
      err << parsed.status().message() << "\n";
      return 2;
    }
    after = *parsed;
  }
  const auto times = cron->next_n(after, *zone, n);
  for (epoch::Instant t : times) {
    out << epoch::format_utc(t) << "  " << epoch::format_local(t, *zone) << "\n";
  }
  if (times.size() < n) {
    err << "no further fire time up to the end of " << c.cron.max_year << "\n";
  }
  return 0;
}

int cron_describe(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Common c;
  std::string expr;
  po::options_description d = common_options(c);
  d.add_options()("expr", po::value<std::string>(&expr)->required(), "the cron expression");
  if (auto code = parse_options(args, d, true, out)) return *code;
  auto cron = epoch::CronExpression::parse(expr, c.cron);
  if (!cron.ok()) {
    err << cron.status().message() << "\n";
    return 2;
  }
  out << cron->describe() << "\n";
  return 0;
}

int cron_check(const std::vector<std::string>& args, std::istream& in, std::ostream& out) {
  Common c;
  const po::options_description d = common_options(c);
  if (auto code = parse_options(args, d, false, out)) return *code;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    out << check_case_line(line, c.cron.max_year) << "\n";
  }
  return 0;
}

}  // namespace

std::string check_case_line(std::string_view line, int max_year) {
  json::object result;
  const auto fail_input = [&](const std::string& why) {
    result["valid"] = false;
    result["error"] = "input line: " + why;
    result["next_ms"] = json::array();
    result["exhausted"] = false;
    return json::serialize(result);
  };
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec) return (result["id"] = nullptr, fail_input("malformed JSON: " + ec.message()));
  const json::object* o = v.if_object();
  if (o == nullptr) return (result["id"] = nullptr, fail_input("not a JSON object"));
  result["id"] = o->contains("id") ? o->at("id") : json::value(nullptr);
  const json::string* expr = o->contains("expr") ? o->at("expr").if_string() : nullptr;
  if (expr == nullptr) return fail_input("\"expr\" must be a string");
  std::string zone_name = "UTC";
  if (o->contains("tz")) {
    const json::string* tz = o->at("tz").if_string();
    if (tz == nullptr) return fail_input("\"tz\" must be a string");
    zone_name = std::string(*tz);
  }
  std::int64_t start = 0;
  if (o->contains("start_ms")) {
    const std::int64_t* s = o->at("start_ms").if_int64();
    if (s == nullptr) return fail_input("\"start_ms\" must be an integer");
    start = *s;
  }
  std::int64_t n = 5;
  if (o->contains("n")) {
    const std::int64_t* k = o->at("n").if_int64();
    if (k == nullptr || *k < 0 || *k > 10000) return fail_input("\"n\" must be an integer 0-10000");
    n = *k;
  }
  epoch::CronOptions options;
  options.max_year = max_year;
  auto zone = epoch::TimeZone::locate(std::string_view(zone_name));
  auto cron = epoch::CronExpression::parse(std::string_view(expr->data(), expr->size()), options);
  json::array next;
  bool exhausted = false;
  if (!cron.ok() || !zone.ok()) {
    result["valid"] = false;
    result["error"] = !cron.ok() ? cron.status().message() : zone.status().message();
  } else {
    result["valid"] = true;
    result["error"] = nullptr;
    const auto times =
        cron->next_n(epoch::from_epoch_millis(start), *zone, static_cast<std::size_t>(n));
    for (epoch::Instant t : times)
      next.push_back(epoch::to_epoch_millis(t));
    exhausted = static_cast<std::int64_t>(times.size()) < n;
  }
  result["next_ms"] = std::move(next);
  result["exhausted"] = exhausted;
  return json::serialize(result);
}

int run_cron_command(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                     std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    (args.empty() ? err : out) << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    if (args[0] == "next") return cron_next(rest, out, err);
    if (args[0] == "describe") return cron_describe(rest, out, err);
    if (args[0] == "check") return cron_check(rest, in, out);
  } catch (const po::error& e) {
    err << "epochd cron " << args[0] << ": " << e.what() << "\n" << kUsage;
    return 2;
  }
  err << "epochd cron: unknown command '" << args[0] << "'\n" << kUsage;
  return 2;
}

}  // namespace epochd
