// Test harness for the engine: a Scheduler on a ManualClock, a FakeExecutor,
// a MemoryStore and a ManualElector, driven step by step with no sleeps.
#pragma once

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "epoch/fake_executor.h"
#include "epoch/scheduler.h"

namespace epoch::test {

inline Instant at(const char* iso) {
  return *parse_instant(iso);
}

struct Harness {
  explicit Harness(Instant start, FakeExecutor::Mode mode = FakeExecutor::Mode::kAutoComplete,
                   SchedulerOptions opts = test_options())
      : clock(start), executor(mode), options(std::move(opts)) {
    options.seed = 42;
    read_on_ioc();
  }

  // Options for tests: no periodic retention unless a test asks for it.
  static SchedulerOptions test_options() {
    SchedulerOptions o;
    o.retention_interval = std::chrono::milliseconds(0);
    return o;
  }
  // Store reads run on the test's io_context, in order with everything else.
  void read_on_ioc() {
    options.store_reads = [this](std::function<void()> job) {
      boost::asio::post(ioc, std::move(job));
    };
  }
  ~Harness() { scheduler.reset(); }

  boost::asio::io_context ioc;
  ManualClock clock;
  std::unique_ptr<Store> own_store = make_memory_store();
  Store* store = own_store.get();
  FakeExecutor executor;
  ManualElector elector;
  RecordingSink events;
  SchedulerOptions options;
  // The executor the scheduler uses, when not `executor` (e.g. a
  // FunctionExecutor wrapping it).
  Executor* use_executor = nullptr;
  std::unique_ptr<Scheduler> scheduler;

  // Starts a scheduler and makes it the leader.
  void start() {
    scheduler =
        std::make_unique<Scheduler>(ioc, *store, use_executor != nullptr ? *use_executor : executor,
                                    elector, clock, events, options);
    scheduler->start();
    elector.elect();
    pump();
  }

  // A new scheduler on the same store and executor, as after a restart.
  void restart() {
    scheduler.reset();
    elector.revoke();
    elector.stop();
    pump();
    start();
  }

  void pump() {
    ioc.restart();
    ioc.poll();
  }

  // Pumps until `done` holds, for what arrives from other threads (an
  // executor's reports); false after `limit` of real time.
  template <typename Pred>
  bool pump_until(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (true) {
      pump();
      if (done()) return true;
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // Moves time to `t`, stopping at every timer on the way.
  void advance_to(Instant t) {
    pump();
    while (true) {
      const auto next = clock.next_timer();
      if (!next || *next > t) break;
      clock.set(*next);
      pump();
    }
    clock.set(t);
    pump();
  }
  void advance(std::chrono::milliseconds d) { advance_to(clock.now() + d); }

  template <typename T, typename Op>
  StatusOr<T> call(Op op) {
    std::optional<StatusOr<T>> result;
    op([&](StatusOr<T> r) { result.emplace(std::move(r)); });
    pump();
    REQUIRE_MESSAGE(result.has_value(), "the operation did not complete");
    return std::move(*result);
  }

  StatusOr<TopologyDetails> create(const Topology& t) {
    return call<TopologyDetails>([&](auto cb) { scheduler->create(t, cb); });
  }

  std::vector<RunInfo> runs(const std::string& topology_id) {
    std::vector<RunInfo> out;
    const auto records = store->load_runs(topology_id);
    REQUIRE(records.ok());
    for (const RunRecord& r : *records)
      out.push_back(r.run);
    std::sort(out.begin(), out.end(),
              [](const RunInfo& a, const RunInfo& b) { return a.run_id < b.run_id; });
    return out;
  }

  RunInfo run(const std::string& topology_id, const std::string& run_id) {
    auto r = store->load_run(topology_id, run_id);
    REQUIRE(r.ok());
    REQUIRE_MESSAGE(r->has_value(), "no run " << run_id);
    return (*r)->run;
  }
};

inline Topology process_topology(const std::string& name, const std::string& cron,
                                 std::optional<std::string> zone = std::nullopt) {
  ProcessTask p;
  p.task_name = "main";
  p.command = "/bin/true";
  Topology t;
  t.name = name;
  t.task.spec = p;
  t.trigger = CronTrigger{cron, std::move(zone)};
  return t;
}

inline Task process_task(const std::string& name) {
  ProcessTask p;
  p.task_name = name;
  p.command = "/bin/true";
  return Task{p};
}

inline std::vector<std::string> ids_of(const std::vector<RunInfo>& runs) {
  std::vector<std::string> out;
  for (const RunInfo& r : runs)
    out.push_back(r.run_id);
  return out;
}

inline std::vector<std::string> states_of(const std::vector<RunInfo>& runs) {
  std::vector<std::string> out;
  for (const RunInfo& r : runs)
    out.emplace_back(to_string(r.state));
  return out;
}

}  // namespace epoch::test
