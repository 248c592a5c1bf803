// TimeZone: IANA zones from the OS tz database via date/tz, expanded into a
// flat transition table so that lookups are a binary search with no
// allocation and no locking.
#include "epoch/time_zone.h"

#include <date/tz.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "zone_data.h"

namespace epoch {
namespace {

using std::chrono::seconds;

// Transitions are expanded up to the start of this year, beyond any year the
// cron engine may search (kMaxCronYear in cron.h is 2481).
constexpr int kTableEndYear = 2483;

std::int64_t year_start(int y) {
  return date::sys_seconds{date::sys_days{date::year{y} / 1 / 1}}.time_since_epoch().count();
}

bool plausible_zone_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' || name.back() == '/') return false;
  if (name.find("..") != std::string_view::npos || name.find("//") != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '_' || c == '-' || c == '+';
  });
}

std::string zoneinfo_dir() {
  const char* env = std::getenv("TZDIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string("/usr/share/zoneinfo");
}

// The POSIX TZ string at the end of a version 2+ TZif file: the text between
// the last two newlines. Empty when absent.
std::string read_tzif_footer(const std::string& zone_name) {
  std::ifstream in(zoneinfo_dir() + "/" + zone_name, std::ios::binary);
  if (!in) return {};
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 2 || bytes.back() != '\n') return {};
  const auto start = bytes.rfind('\n', bytes.size() - 2);
  if (start == std::string::npos) return {};
  return bytes.substr(start + 1, bytes.size() - start - 2);
}

StatusOr<std::shared_ptr<const detail::ZoneData>> load_zone(const std::string& name) {
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(name);
  } catch (const std::exception&) {
    return invalid_argument("unknown time zone '" + name +
                            "': not in the tz database (expected an IANA name such as "
                            "'Europe/London' or 'UTC')");
  }
  auto data = std::make_shared<detail::ZoneData>();
  data->name = name;
  const date::sys_seconds first{seconds{year_start(1800)}};
  date::sys_info info = zone->get_info(first);
  data->initial_offset = static_cast<std::int32_t>(info.offset.count());
  std::int32_t current = data->initial_offset;
  const date::sys_seconds table_end{seconds{year_start(kTableEndYear)}};
  std::int64_t last_explicit = first.time_since_epoch().count();
  while (info.end < table_end && info.end > info.begin) {
    const date::sys_seconds at = info.end;
    info = zone->get_info(at);
    const auto offset = static_cast<std::int32_t>(info.offset.count());
    last_explicit = at.time_since_epoch().count();
    if (offset != current) {
      data->add(at.time_since_epoch().count(), offset);
      current = offset;
    }
  }
  // date's OS-database reader stops at the last transition stored in the file
  // (2037 in "fat" files); the footer rule continues from there.
  const std::string footer = read_tzif_footer(zone->name());
  if (footer.find(',') != std::string::npos) {
    std::vector<std::pair<std::int64_t, std::int32_t>> more;
    if (!detail::expand_posix_rule(footer, last_explicit + 1, year_start(kTableEndYear), current,
                                   more)) {
      return internal_error("time zone '" + name + "': cannot read the rule '" + footer + "'");
    }
    for (const auto& [at, offset] : more)
      data->add(at, offset);
  }
  return std::shared_ptr<const detail::ZoneData>(std::move(data));
}

std::shared_ptr<const detail::ZoneData> utc_data() {
  static const auto data = [] {
    auto d = std::make_shared<detail::ZoneData>();
    d->name = "UTC";
    return std::shared_ptr<const detail::ZoneData>(std::move(d));
  }();
  return data;
}

}  // namespace

TimeZone::TimeZone() : data_(utc_data()) {}

StatusOr<TimeZone> TimeZone::locate(std::string_view name) {
  if (!plausible_zone_name(name)) {
    return invalid_argument("invalid time zone name '" + std::string(name) +
                            "': expected an IANA name such as 'Europe/London' or 'UTC'");
  }
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<const detail::ZoneData>> cache;
  const std::string key(name);
  std::lock_guard lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return TimeZone(it->second);
  EPOCH_ASSIGN_OR_RETURN(auto data, load_zone(key));
  cache.emplace(key, data);
  return TimeZone(std::move(data));
}

const std::string& TimeZone::name() const noexcept {
  return data_->name;
}

std::chrono::seconds TimeZone::offset_at(std::chrono::sys_seconds t) const noexcept {
  const detail::ZoneData& z = *data_;
  const std::int64_t s = t.time_since_epoch().count();
  const auto it = std::upper_bound(z.utc.begin(), z.utc.end(), s);
  if (it == z.utc.begin()) return seconds{z.initial_offset};
  return seconds{z.after[static_cast<std::size_t>(it - z.utc.begin()) - 1]};
}

TimeZone::LocalInfo TimeZone::lookup(std::chrono::local_seconds l) const noexcept {
  const detail::ZoneData& z = *data_;
  const std::int64_t s = l.time_since_epoch().count();
  LocalInfo r;
  const auto it = std::upper_bound(z.boundary.begin(), z.boundary.end(), s);
  if (it == z.boundary.begin()) {
    r.first = r.second = std::chrono::sys_seconds{seconds{s - z.initial_offset}};
    return r;
  }
  const auto k = static_cast<std::size_t>(it - z.boundary.begin()) - 1;
  const std::int32_t before = z.before(k);
  const std::int32_t after = z.after[k];
  if (after > before && s < z.utc[k] + after) {  // inside a gap
    r.kind = Kind::kSkipped;
    r.first = r.second = std::chrono::sys_seconds{seconds{z.utc[k]}};
    r.gap_end = std::chrono::local_seconds{seconds{z.utc[k] + after}};
    return r;
  }
  r.second = std::chrono::sys_seconds{seconds{s - after}};
  if (after < before && s < z.utc[k] + before) {  // inside an overlap
    r.kind = Kind::kRepeated;
    r.first = std::chrono::sys_seconds{seconds{s - before}};
  } else {
    r.first = r.second;
  }
  return r;
}

}  // namespace epoch
