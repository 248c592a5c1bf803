// The cron next-fire benchmark of shared/cron-vectors/BENCHMARK.md, done
// exactly as described there so the figure compares with Quartz's:
//   * 50 (expression, zone) pairs, parsed and located outside the timing;
//   * 2000 starts: 1767225600000 + i * 86413537 ms;
//   * one round = for each pair, 10 passes over the 2000 starts, one
//     independent next-fire call per start (1,000,000 calls);
//   * 3 warm-up rounds, 5 measured rounds; the figure is the median round;
//   * per pair, the sum of the answers over the 2000 starts (0 for "none")
//     must equal the table's last column.
// Also: the three never-firing expressions, parse cost, and a count of heap
// allocations made by next-fire calls (the target is none).
//
//   cron_bench           full run (about 10 s)
//   cron_bench --quick   one warm-up and one measured round (used by ctest to
//                        check the answer sums; the timings are not asserted)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "count_allocations.h"
#include "epoch/cron.h"

using epoch::test::g_allocations;

namespace {

struct Pair {
  const char* expr;
  const char* zone;
  long quartz_ns;
  long long expected_sum;
};

const Pair kPairs[] = {
#include "cron_bench_pairs.inc"
};

struct Never {
  const char* expr;
  long quartz_ns;
};
const Never kNever[] = {
    {"0 0 0 30 2 ?", 168408}, {"0 0 12 * * ? 2020", 1398}, {"0 0 0 ? 2 2#5 2027", 67694}};

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int warmup = quick ? 1 : 3;
  const int rounds = quick ? 1 : 5;
  constexpr int kStarts = 2000, kPasses = 10;
  constexpr std::size_t kPairCount = sizeof kPairs / sizeof kPairs[0];

  std::vector<epoch::Instant> starts;
  for (int i = 0; i < kStarts; ++i) {
    starts.push_back(epoch::from_epoch_millis(1767225600000LL + i * 86413537LL));
  }
  std::vector<epoch::CronExpression> crons;
  std::vector<epoch::TimeZone> zones;
  for (const Pair& p : kPairs) {
    auto c = epoch::CronExpression::parse(p.expr);
    auto z = epoch::TimeZone::locate(p.zone);
    if (!c.ok() || !z.ok()) {
      std::fprintf(stderr, "cannot set up pair '%s' %s\n", p.expr, p.zone);
      return 1;
    }
    crons.push_back(*c);
    zones.push_back(*z);
  }

  // Answer check.
  bool sums_ok = true;
  for (std::size_t k = 0; k < kPairCount; ++k) {
    long long sum = 0;
    for (epoch::Instant s : starts) {
      const auto t = crons[k].next_after(s, zones[k]);
      sum += t ? epoch::to_epoch_millis(*t) : 0;
    }
    if (sum != kPairs[k].expected_sum) {
      std::printf("ANSWER MISMATCH pair %zu '%s' %s: sum %lld, Quartz %lld\n", k + 1,
                  kPairs[k].expr, kPairs[k].zone, sum, kPairs[k].expected_sum);
      sums_ok = false;
    }
  }

  // Timed rounds.
  std::vector<std::vector<double>> pair_ns(kPairCount);
  std::vector<double> round_ns;
  round_ns.reserve(static_cast<std::size_t>(rounds));
  for (auto& v : pair_ns)
    v.reserve(static_cast<std::size_t>(rounds));
  long long sink = 0;
  const long allocations_before = g_allocations.load();
  for (int r = 0; r < warmup + rounds; ++r) {
    double total = 0;
    for (std::size_t k = 0; k < kPairCount; ++k) {
      const auto t0 = Clock::now();
      for (int pass = 0; pass < kPasses; ++pass) {
        for (epoch::Instant s : starts) {
          const auto t = crons[k].next_after(s, zones[k]);
          sink += t ? epoch::to_epoch_millis(*t) : 0;
        }
      }
      const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
      total += ns;
      if (r >= warmup) pair_ns[k].push_back(ns / (kPasses * kStarts));
    }
    if (r >= warmup) round_ns.push_back(total / (kPairCount * kPasses * kStarts));
  }
  const long allocations = g_allocations.load() - allocations_before;

  std::printf("%-3s %-55s %-20s %10s %10s %8s\n", "#", "expression", "zone", "ns/call", "Quartz",
              "speed-up");
  for (std::size_t k = 0; k < kPairCount; ++k) {
    const double ns = median(pair_ns[k]);
    std::printf("%-3zu %-55s %-20s %10.1f %10ld %7.0fx\n", k + 1, kPairs[k].expr, kPairs[k].zone,
                ns, kPairs[k].quartz_ns, kPairs[k].quartz_ns / ns);
  }

  // Never-firing expressions: 50 starts x 2 calls, repeated for resolution.
  std::printf("\nnever-firing expressions (50 starts x 2 calls):\n");
  for (const Never& n : kNever) {
    auto c = epoch::CronExpression::parse(n.expr);
    const epoch::TimeZone utc;
    constexpr int kReps = 2000;
    const auto t0 = Clock::now();
    for (int rep = 0; rep < kReps; ++rep) {
      for (int i = 0; i < 50; ++i) {
        for (int call = 0; call < 2; ++call) {
          const auto t = c->next_after(starts[static_cast<std::size_t>(i) * 40], utc);
          sink += t ? 1 : 0;
        }
      }
    }
    const double ns =
        std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / (kReps * 100.0);
    std::printf("  %-25s %10.1f ns/call   (Quartz %ld ns)\n", n.expr, ns, n.quartz_ns);
  }

  // Parse cost over the 50 expressions.
  {
    const int kReps = quick ? 200 : 2000;
    const auto t0 = Clock::now();
    for (int rep = 0; rep < kReps; ++rep) {
      for (const Pair& p : kPairs)
        sink += epoch::CronExpression::parse(p.expr).ok() ? 1 : 0;
    }
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
                      (kReps * static_cast<double>(kPairCount));
    std::printf("\nparse: %.1f ns/expression (Quartz about 4100 ns)\n", ns);
  }

  std::printf("heap allocations during %lld timed next-fire calls: %ld\n",
              static_cast<long long>(warmup + rounds) * static_cast<long long>(kPairCount) *
                  kPasses * kStarts,
              allocations);
  std::printf("answer sums: %s\n", sums_ok ? "all 50 equal Quartz's" : "MISMATCH");
  std::printf("(checksum %lld)\n", sink % 1000);
  std::printf("overall: %.1f ns/call (Quartz 1978 ns/call: %.0fx)\n", median(round_ns),
              1978.0 / median(round_ns));
  return sums_ok ? 0 : 1;
}
