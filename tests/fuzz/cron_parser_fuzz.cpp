// libFuzzer target: the cron parser and the next-fire walk.
// Any input: parse must not crash; an error must point inside the text; a
// valid expression's fire times must be whole seconds, strictly increasing,
// after the start, in every zone.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "epoch/cron.h"

namespace {

const std::vector<epoch::TimeZone>& zones() {
  static const std::vector<epoch::TimeZone> z = [] {
    std::vector<epoch::TimeZone> v{epoch::TimeZone()};
    for (const char* name :
         {"America/New_York", "Australia/Lord_Howe", "Antarctica/Troll", "Pacific/Chatham"}) {
      v.push_back(*epoch::TimeZone::locate(name));
    }
    return v;
  }();
  return z;
}

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 256) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  epoch::CronOptions options;
  options.max_year = 2040;  // keeps never-ending searches short
  const auto error = epoch::CronExpression::check(text, options);
  auto cron = epoch::CronExpression::parse(text, options);
  require(error.has_value() == !cron.ok());
  if (error) {
    require(error->begin <= error->end && error->end <= size);
    require(!error->reason.empty() && !error->message().empty());
    return 0;
  }
  (void)cron->describe();
  const std::int64_t base = 1767225600000LL + static_cast<std::int64_t>(size) * 86413537LL;
  for (const epoch::TimeZone& zone : zones()) {
    epoch::Instant after = epoch::from_epoch_millis(base + 123);
    const auto times = cron->next_n(after, zone, 8);
    require(!cron->never_fires() || times.empty());
    for (epoch::Instant t : times) {
      require(t > after);
      require(epoch::to_epoch_millis(t) % 1000 == 0);
      after = t;
    }
  }
  return 0;
}
