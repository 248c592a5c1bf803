// Private: the loaded form of one IANA zone, shared by every TimeZone copy.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace epoch::detail {

// Transitions sorted by instant. Offsets are seconds east of UTC.
struct ZoneData {
  std::string name;
  std::int32_t initial_offset = 0;     // in force before the first transition
  std::vector<std::int64_t> utc;       // transition instants, seconds since epoch
  std::vector<std::int64_t> boundary;  // local time where a transition starts to matter:
                                       // utc + min(offset before, offset after)
  std::vector<std::int32_t> after;     // offset from that transition on

  std::int32_t before(std::size_t k) const { return k == 0 ? initial_offset : after[k - 1]; }
  void add(std::int64_t at, std::int32_t offset) {
    const std::int32_t prev = after.empty() ? initial_offset : after.back();
    utc.push_back(at);
    boundary.push_back(at + (prev < offset ? prev : offset));
    after.push_back(offset);
  }
};

// Appends to `out` every offset change of the POSIX TZ rule `spec` (the footer
// of a TZif file, e.g. "EST5EDT,M3.2.0,M11.1.0") after instant `from` and
// before `until`, given the offset in force at `from`. Returns false when the
// rule cannot be read. Implemented with date's Posix::time_zone.
bool expand_posix_rule(const std::string& spec, std::int64_t from, std::int64_t until,
                       std::int32_t offset_at_from,
                       std::vector<std::pair<std::int64_t, std::int32_t>>& out);

}  // namespace epoch::detail
