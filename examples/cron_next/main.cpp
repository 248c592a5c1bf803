// cron_next: prints the next fire times of a Quartz cron expression.
//   cron_next '<expr>' [ZONE] [AFTER] [N]
#include <epoch/cron.h>
#include <epoch/time_zone.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: cron_next '<expr>' [ZONE] [AFTER] [N]\n";
    return 2;
  }
  auto cron = epoch::CronExpression::parse(argv[1]);
  if (!cron.ok()) {
    std::cerr << cron.status().message() << "\n";
    return 2;
  }
  auto zone = epoch::TimeZone::locate(argc > 2 ? argv[2] : "UTC");
  if (!zone.ok()) {
    std::cerr << zone.status().message() << "\n";
    return 2;
  }
  epoch::Instant after =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  if (argc > 3) {
    auto parsed = epoch::parse_instant(argv[3]);
    if (!parsed.ok()) {
      std::cerr << parsed.status().message() << "\n";
      return 2;
    }
    after = *parsed;
  }
  const int n = argc > 4 ? std::atoi(argv[4]) : 5;
  std::cout << cron->describe() << "\n";
  for (epoch::Instant t : cron->next_n(after, *zone, n > 0 ? static_cast<std::size_t>(n) : 5)) {
    std::cout << epoch::format_utc(t) << "  " << epoch::format_local(t, *zone) << "\n";
  }
  return 0;
}
