// Micro benchmarks (Google Benchmark) of the hot pieces under the figures:
// cron parse and next-fire, zone lookups, run ids, the model's JSON.
//   micro_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include "epoch/cron.h"
#include "epoch/model.h"

namespace {

const epoch::Instant kStart = epoch::from_epoch_millis(1767225600000);

void BM_CronParse(benchmark::State& state) {
  for (auto _ : state) {
    auto c = epoch::CronExpression::parse("0/5 14,18,3-39,52 * ? JAN,MAR,SEP MON-FRI 2026-2040");
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_CronParse);

void BM_CronNextAfter(benchmark::State& state, const char* expr, const char* zone) {
  const auto cron = *epoch::CronExpression::parse(expr);
  const auto tz = *epoch::TimeZone::locate(zone);
  std::int64_t step = 0;
  for (auto _ : state) {
    auto t = cron.next_after(kStart + std::chrono::milliseconds(step), tz);
    benchmark::DoNotOptimize(t);
    step = (step + 86413537) % (5LL * 365 * 86400000);
  }
}
BENCHMARK_CAPTURE(BM_CronNextAfter, every_second_utc, "* * * * * ?", "UTC");
BENCHMARK_CAPTURE(BM_CronNextAfter, weekdays_london, "0 0 9 ? * MON-FRI", "Europe/London");
BENCHMARK_CAPTURE(BM_CronNextAfter, last_friday_ny, "0 15 10 ? * 6L", "America/New_York");
BENCHMARK_CAPTURE(BM_CronNextAfter, never_feb30, "0 0 0 30 2 ?", "UTC");

void BM_ZoneOffset(benchmark::State& state) {
  const auto tz = *epoch::TimeZone::locate("America/New_York");
  std::int64_t s = 1767225600;
  for (auto _ : state) {
    benchmark::DoNotOptimize(tz.offset_at(std::chrono::sys_seconds{std::chrono::seconds{s}}));
    s += 86413;
  }
}
BENCHMARK(BM_ZoneOffset);

void BM_RunId(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(epoch::make_run_id(epoch::RunType::kScheduled, kStart));
  }
}
BENCHMARK(BM_RunId);

const char* kTopology =
    R"({"name":"daily-report","task":{"type":"CONTAINER_EXECUTION","taskName":"docker-task",)"
    R"("executable":{"type":"DOCKER","url":"docker.io/library/busybox:1.36","dockerPullTimeout":"120 seconds"},)"
    R"("resources":[{"type":"CPU","count":1},{"type":"MEMORY","sizeInMB":512}],"env":{"MODE":"daily"}},)"
    R"("trigger":{"type":"CRON","timeSpec":"0 0 6 * * ?"},"notify":{"type":"MAIL","emails":["oncall@example.com"]}})";

void BM_TopologyDecode(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(epoch::topology_from_json(kTopology));
}
BENCHMARK(BM_TopologyDecode);

void BM_TopologyEncode(benchmark::State& state) {
  const auto t = *epoch::topology_from_json(kTopology);
  for (auto _ : state) benchmark::DoNotOptimize(epoch::to_json(t));
}
BENCHMARK(BM_TopologyEncode);

}  // namespace

BENCHMARK_MAIN();
