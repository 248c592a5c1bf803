// epochd's metrics, rendered in the Prometheus text format for /metrics.
//
//   epoch_http_requests_total{route,method,status}     counter (route "forwarded": a
//                                                      follower's requests relayed to the leader)
//   epoch_http_request_duration_seconds                histogram
//   epoch_runs_total{state,type}                       counter: runs entering each state
//   epoch_fires_missed_total, epoch_fires_skipped_total counters
//   epoch_notifications_delivered_total, epoch_notifications_failed_total  counters
//   epoch_fire_lateness_seconds                        histogram: first launch of a scheduled
//                                                      run after its nominal instant
//   epoch_executor_calls_total{op}, epoch_executor_errors_total{op}, counters
//   epoch_executor_call_duration_seconds{op}           histogram
//   epoch_topologies{state}, epoch_runs_live, epoch_leader  gauges (taken at scrape)
//
// Run and topology counters come from the engine's events (sink()); the
// executor's from InstrumentedExecutor, which wraps the real one.
// Threading: thread-safe. Ownership: plain object; the wrapper and the sink
// keep references to it.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "epoch/events.h"
#include "epoch/executor.h"
#include "epoch/scheduler.h"

namespace epochd {

class Histogram {
 public:
  static constexpr std::array<double, 15> kBounds = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  void observe(double seconds);
  // Appends the _bucket, _sum and _count lines of `name` with `labels`
  // ("" or `op="launch"`).
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::uint64_t, kBounds.size() + 1> counts_{};
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  void http_request(std::string_view route, std::string_view method, int status,
                    std::chrono::nanoseconds took);
  void executor_call(std::string_view op, std::chrono::nanoseconds took, bool error);
  void fire_lateness(std::chrono::nanoseconds late);
  // A notification (channel "webhook" or "mail") delivered, or given up.
  void notification(std::string_view channel, bool delivered);

  // Derives the run counters from engine events.
  epoch::EventSink& sink();

  // The whole exposition, with the gauges from `stats`.
  std::string render(const epoch::SchedulerStats& stats) const;

 private:
  class Sink;
  void on_event(const epoch::Event& e);

  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t> http_;  // labels -> count
  Histogram http_duration_;
  std::map<std::string, std::uint64_t> runs_;  // labels -> count
  std::uint64_t missed_ = 0, skipped_ = 0;
  std::map<std::string, std::uint64_t> notify_ok_, notify_failed_;  // by channel label
  Histogram lateness_;
  std::map<std::string, std::uint64_t> exec_calls_, exec_errors_;
  std::map<std::string, Histogram> exec_duration_;
  std::unique_ptr<Sink> sink_;
};

class Logger;

// An Executor that forwards to another and measures each call (and the
// lateness of each scheduled run's first launch) into `metrics`. A cleanup
// that failed (the engine does not wait for it) is logged to `log`.
std::unique_ptr<epoch::Executor> make_instrumented_executor(epoch::Executor& target,
                                                            Metrics& metrics, Logger& log);

}  // namespace epochd
