// Expands a POSIX TZ rule with Howard Hinnant's Posix::time_zone.
//
// Compiled as C++17: date's ptz.h names `hh_mm_ss` unqualified under
// `using namespace std::chrono`, which is ambiguous with C++20's
// std::chrono::hh_mm_ss. This file is the only user of ptz.h.
#include <date/ptz.h>

#include "zone_data.h"

namespace epoch::detail {

bool expand_posix_rule(const std::string& spec, std::int64_t from, std::int64_t until,
                       std::int32_t offset_at_from,
                       std::vector<std::pair<std::int64_t, std::int32_t>>& out) {
  try {
    const Posix::time_zone rule{spec};
    std::int32_t current = offset_at_from;
    date::sys_seconds t{std::chrono::seconds{from}};
    const date::sys_seconds end{std::chrono::seconds{until}};
    while (t < end) {
      const date::sys_info info = rule.get_info(t);
      const auto offset = static_cast<std::int32_t>(info.offset.count());
      if (offset != current) {
        const date::sys_seconds at = info.begin > t ? info.begin : t;
        out.emplace_back(at.time_since_epoch().count(), offset);
        current = offset;
      }
      if (info.end <= t) break;  // defensive: never loop in place
      t = info.end;
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace epoch::detail
