// Engine figures, with the real SystemClock, a MemoryStore and an executor
// that completes every task at once:
//   1. N active topologies (default 100,000), each firing once a minute at a
//      second spread over the minute: p50/p99/max fire lateness (nominal
//      fire instant -> launch call) over M minutes (default 3), and memory
//      per topology: live heap bytes (malloc's own count, all arenas) and
//      resident memory. Measured while creating, these include what is
//      still in flight then (answers, events, the first runs); so phase 3
//      measures the live heap per topology of N idle topologies.
//   2. A burst of B runs (default 10,000) due in the same second: the time
//      from that second until every one is launched.
//   3. N topologies that do not fire: live heap bytes per topology.
//
//   scheduler_bench [--topologies N] [--minutes M] [--burst B]
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "epoch/scheduler.h"

namespace {

using Clock = std::chrono::system_clock;

// Bytes allocated and not freed, over all malloc arenas (glibc).
double live_heap_bytes() {
  const struct mallinfo2 m = ::mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd);
}

long rss_kib() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Completes every task at once (reporting inline, as FakeExecutor does)
// and records how late each launch was.
class BenchExecutor final : public epoch::Executor {
 public:
  std::string_view name() const noexcept override { return "bench"; }
  void launch(const epoch::TaskLaunch& l, epoch::TaskObserver observer) override {
    const auto now = std::chrono::time_point_cast<std::chrono::microseconds>(Clock::now());
    const auto late =
        now - std::chrono::time_point_cast<std::chrono::microseconds>(l.scheduled_time);
    {
      std::lock_guard lock(mu_);
      lateness_us_.push_back(late.count());
      last_launch_ = now;
    }
    launches_.fetch_add(1);
    epoch::TaskUpdate u;
    u.state = epoch::TaskState::kCompleted;
    u.exit_code = 0;
    observer(u);
  }
  void detach(const std::string&) override {}
  void kill(const std::string&, std::function<void(epoch::Status)> done) override {
    done(epoch::ok_status());
  }
  void cleanup(const std::string&, std::function<void(epoch::Status)> done) override {
    done(epoch::ok_status());
  }
  epoch::StatusOr<epoch::TaskLogs> logs(const std::string&) override {
    return epoch::not_found("none");
  }

  std::vector<long long> take() {
    std::lock_guard lock(mu_);
    std::vector<long long> out = std::exchange(lateness_us_, {});
    lateness_us_.reserve(out.capacity() > 1024 ? out.capacity() * 2 : 1 << 20);
    return out;
  }
  std::chrono::time_point<Clock, std::chrono::microseconds> last_launch() {
    std::lock_guard lock(mu_);
    return last_launch_;
  }
  long launches() const { return launches_.load(); }

 private:
  std::mutex mu_;
  std::vector<long long> lateness_us_;
  std::chrono::time_point<Clock, std::chrono::microseconds> last_launch_{};
  std::atomic<long> launches_{0};
};

struct Engine {
  boost::asio::io_context ioc;
  std::unique_ptr<epoch::Store> store = epoch::make_memory_store();
  BenchExecutor executor;
  std::unique_ptr<epoch::LeaderElector> elector = epoch::make_standalone_elector("http://bench");
  std::unique_ptr<epoch::Clock> clock = epoch::make_system_clock();
  epoch::RecordingSink unused;
  struct Quiet final : epoch::EventSink {
    void on_event(const epoch::Event&) override {}
  } events;
  std::unique_ptr<epoch::Scheduler> scheduler;
  std::thread thread;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;

  Engine() {
    epoch::SchedulerOptions o;
    o.retention_interval = std::chrono::milliseconds(0);  // measure scheduling, not pruning
    scheduler =
        std::make_unique<epoch::Scheduler>(ioc, *store, executor, *elector, *clock, events, o);
    work =
        std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
            ioc.get_executor());
    thread = std::thread([this] { ioc.run(); });
    scheduler->start();
  }
  ~Engine() {
    scheduler->stop();
    work.reset();
    ioc.stop();
    thread.join();
  }

  // Creates topologies and waits until all are stored.
  void create_all(const std::vector<epoch::Topology>& topologies) {
    std::atomic<std::size_t> done{0}, failed{0};
    for (const epoch::Topology& t : topologies) {
      scheduler->create(t, [&](epoch::StatusOr<epoch::TopologyDetails> d) {
        if (!d.ok()) failed.fetch_add(1);
        done.fetch_add(1);
      });
    }
    while (done.load() < topologies.size())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (failed.load() != 0) {
      std::fprintf(stderr, "%zu creates failed\n", failed.load());
      std::exit(1);
    }
  }
};

epoch::Topology topology(std::size_t i, epoch::Trigger trigger) {
  epoch::ProcessTask p;
  p.task_name = "t";
  p.command = "/bin/true";
  epoch::Topology t;
  t.name = "bench-" + std::to_string(i);
  t.task.spec = p;
  t.trigger = std::move(trigger);
  return t;
}

long long percentile(std::vector<long long>& v, double p) {
  if (v.empty()) return 0;
  const std::size_t k =
      std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t topologies = 100000, burst = 10000;
  int minutes = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--topologies") == 0) topologies = std::stoul(argv[i + 1]);
    if (std::strcmp(argv[i], "--minutes") == 0) minutes = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--burst") == 0) burst = std::stoul(argv[i + 1]);
  }

  // ---- 1. steady load ----
  {
    std::vector<epoch::Topology> specs;
    specs.reserve(topologies);
    for (std::size_t i = 0; i < topologies; ++i) {
      specs.push_back(
          topology(i, epoch::CronTrigger{std::to_string(i % 60) + " * * * * ?", std::nullopt}));
    }
    const long rss_before = rss_kib();
    const double heap_before = live_heap_bytes();
    Engine e;
    const auto t0 = Clock::now();
    e.create_all(specs);
    const double create_s = std::chrono::duration<double>(Clock::now() - t0).count();
    specs.clear();
    specs.shrink_to_fit();
    const long rss_created = rss_kib();
    const double heap_created = live_heap_bytes();
    std::printf("steady load: %zu topologies created in %.2f s (%.0f creates/s)\n", topologies,
                create_s, static_cast<double>(topologies) / create_s);
    std::printf("live heap per topology (engine + MemoryStore, before runs): %.2f KiB\n",
                (heap_created - heap_before) / 1024.0 / static_cast<double>(topologies));
    std::printf("resident memory per topology (engine + MemoryStore, before runs): %.2f KiB\n",
                static_cast<double>(rss_created - rss_before) / static_cast<double>(topologies));
    // Let the fires that came due while creating drain, then measure.
    std::this_thread::sleep_for(std::chrono::seconds(5));
    e.executor.take();
    std::this_thread::sleep_for(std::chrono::minutes(minutes));
    std::vector<long long> late = e.executor.take();
    const long rss_after = rss_kib();
    std::printf("launches in %d min: %zu (expected about %zu)\n", minutes, late.size(),
                topologies * static_cast<std::size_t>(minutes));
    std::printf("fire lateness: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
                static_cast<double>(percentile(late, 0.50)) / 1000.0,
                static_cast<double>(percentile(late, 0.99)) / 1000.0,
                static_cast<double>(*std::max_element(late.begin(), late.end())) / 1000.0);
    std::printf(
        "resident memory per topology after %d min (with %zu run records in memory): %.2f KiB\n",
        minutes, late.size(),
        static_cast<double>(rss_after - rss_before) / static_cast<double>(topologies));
  }

  // ---- 2. burst ----
  {
    Engine e;
    const auto due =
        std::chrono::time_point_cast<std::chrono::seconds>(Clock::now()) + std::chrono::seconds(3);
    std::vector<epoch::Topology> specs;
    for (std::size_t i = 0; i < burst; ++i) {
      specs.push_back(topology(
          i, epoch::AtTrigger{std::chrono::time_point_cast<std::chrono::milliseconds>(due)}));
    }
    e.create_all(specs);
    while (e.executor.launches() < static_cast<long>(burst)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const double s = std::chrono::duration<double>(e.executor.last_launch() - due).count();
    std::printf("burst: %zu runs due at the same second, all launched %.3f s after it\n", burst, s);
  }
  // ---- 3. memory ----
  // N topologies that do not fire while measured (a cron of 2099), the
  // engine settled (the last answers and their batch freed): what each
  // topology costs the engine and the MemoryStore, in live heap bytes.
  {
    std::vector<epoch::Topology> specs;
    specs.reserve(topologies);
    for (std::size_t i = 0; i < topologies; ++i) {
      specs.push_back(topology(
          i, epoch::CronTrigger{std::to_string(i % 60) + " 0 0 1 1 ? 2099", std::nullopt}));
    }
    const double heap_before = live_heap_bytes();
    Engine e;
    e.create_all(specs);
    specs.clear();
    specs.shrink_to_fit();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::printf("live heap per topology (engine + MemoryStore, %zu idle topologies): %.2f KiB\n",
                topologies,
                (live_heap_bytes() - heap_before) / 1024.0 / static_cast<double>(topologies));
  }

  return 0;
}
