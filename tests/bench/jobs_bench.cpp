// In-process jobs, fire -> handler: R jobs per second (default 10,000),
// spread evenly, for S seconds (default 5), each a one-shot topology of one
// FUNCTION task; handlers on a pool of T threads (default 4). Per store
// (MemoryStore, then a SQLite file with synchronous=FULL):
//   * latency from each job's nominal instant to its handler being called:
//     p50 / p99 / p99.9 / max;
//   * overhead per job run: heap allocations (every thread; from the first
//     fire to the last handler), store commits and records written, the
//     records' JSON bytes, and for SQLite the bytes the process wrote
//     (/proc/self/io wchar: WAL pages).
// Then the same workload on Quartz 2.3.2 (RAMJobStore, T worker threads),
// run here by java from Debian's libquartz2-java, with the ratio.
//
//   jobs_bench [--rate R] [--seconds S] [--threads T] [--store memory|sqlite|both]
//              [--sqlite-normal] [--no-quartz]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "epoch/function_executor.h"
#include "epoch/scheduler.h"
#include "epoch/sqlite_store.h"

// Allocation counting (all threads; the accounting itself excluded):
// jobs_bench_alloc.cpp replaces operator new.
extern std::atomic<long> g_allocations;
extern thread_local bool t_uncounted;

namespace {

using SysClock = std::chrono::system_clock;
bool g_sqlite_normal = false;  // --sqlite-normal: synchronous=NORMAL
using namespace std::chrono_literals;

// Counts what the engine writes: commits, records, their JSON bytes.
class CountingStore final : public epoch::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  void commit(epoch::Batch batch, epoch::CommitCallback done) override {
    if (counting_) {
      t_uncounted = true;
      std::size_t bytes = 0;
      for (const epoch::WriteOp& op : batch.ops) {
        if (op.run) bytes += epoch::to_json(*op.run).size();
        if (op.topology) bytes += epoch::to_json(op.topology->details).size();
      }
      t_uncounted = false;
      commits_.fetch_add(1);
      records_.fetch_add(static_cast<long>(batch.ops.size()));
      bytes_.fetch_add(static_cast<long>(bytes));
    }
    StoreWrapper::commit(std::move(batch), std::move(done));
  }
  void count(bool on) { counting_ = on; }
  std::atomic<long> commits_{0}, records_{0}, bytes_{0};

 private:
  std::atomic<bool> counting_{false};
};

long process_wchar() {
  std::ifstream in("/proc/self/io");
  std::string key;
  long value = 0;
  while (in >> key >> value)
    if (key == "wchar:") return value;
  return 0;
}

struct Figures {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;  // microseconds
  double allocations = 0, commits = 0, records = 0, json_bytes = 0, written_bytes = 0;
  long jobs = 0;
};

double percentile(std::vector<long long>& v, double q) {
  if (v.empty()) return 0;
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return static_cast<double>(v[i]);
}

Figures run_epoch(const std::string& store_kind, int rate, int seconds, int threads) {
  const long n = static_cast<long>(rate) * seconds;
  std::vector<long long> latency_us(static_cast<std::size_t>(n));
  std::atomic<long> done{0};
  std::atomic<long> last_handler_ms{0};

  const std::string dir = "/tmp/jobs-bench-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::unique_ptr<epoch::Store> base;
  if (store_kind == "sqlite") {
    epoch::SqliteStoreOptions so{dir + "/jobs.db"};
    so.synchronous_full = !g_sqlite_normal;
    auto s = epoch::make_sqlite_store(so);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.status().message().c_str());
      std::exit(1);
    }
    base = std::move(*s);
  } else {
    base = epoch::make_memory_store();
  }
  CountingStore store(*base);

  epoch::FunctionExecutorOptions fo;
  fo.threads = static_cast<std::size_t>(threads);
  epoch::FunctionExecutor jobs(fo);
  const epoch::Status added = jobs.register_job("bench", [&](epoch::JobContext& c) {
    const auto now = std::chrono::time_point_cast<std::chrono::microseconds>(SysClock::now());
    const auto late =
        now - std::chrono::time_point_cast<std::chrono::microseconds>(c.scheduled_time());
    const long i = done.fetch_add(1);
    if (i < n) latency_us[static_cast<std::size_t>(i)] = late.count();
    last_handler_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  });
  if (!added.ok()) std::exit(1);

  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::vector<std::thread> io;
  for (int i = 0; i < 2; ++i)
    io.emplace_back([&] { ioc.run(); });
  auto elector = epoch::make_standalone_elector("bench");
  auto clock = epoch::make_system_clock();
  epoch::FanoutSink events;  // none
  epoch::SchedulerOptions so;
  so.retention_interval = 0ms;
  so.default_retention = epoch::RetentionPolicy{1000000, std::nullopt};
  auto scheduler =
      std::make_unique<epoch::Scheduler>(ioc, store, jobs, *elector, *clock, events, so);
  scheduler->start();

  // Fires spread evenly from t0, far enough ahead for every create.
  const auto t0 = std::chrono::ceil<std::chrono::seconds>(SysClock::now()) + 3s +
                  std::chrono::milliseconds(n / 8);  // creates run at > 8,000/s
  const auto step = std::chrono::microseconds(1000000 / rate);
  std::atomic<long> created{0}, failed{0};
  for (long i = 0; i < n; ++i) {
    epoch::FunctionTask f;
    f.task_name = "main";
    f.job = "bench";
    epoch::Topology t;
    t.name = "job-" + std::to_string(i);
    t.task.spec = f;
    t.trigger =
        epoch::AtTrigger{std::chrono::time_point_cast<std::chrono::milliseconds>(t0 + step * i)};
    scheduler->create(t, [&](epoch::StatusOr<epoch::TopologyDetails> d) {
      (d.ok() ? created : failed).fetch_add(1);
    });
    if (i % 1000 == 999) {
      while (created + failed < i - 5000)
        std::this_thread::sleep_for(1ms);
    }
  }
  while (created + failed < n)
    std::this_thread::sleep_for(1ms);
  if (failed > 0 || SysClock::now() > t0 - 500ms) {
    std::fprintf(stderr, "%s: %ld creates failed, or creating took past the first fire\n",
                 store_kind.c_str(), failed.load());
    std::exit(1);
  }
  std::this_thread::sleep_until(t0 - 200ms);

  // The measured window: the first fire to the last handler.
  const long alloc0 = g_allocations.load();
  const long wchar0 = process_wchar();
  store.count(true);
  while (done < n && SysClock::now() < t0 + std::chrono::seconds(seconds) + 30s)
    std::this_thread::sleep_for(1ms);
  // The runs' ends are written after their handlers: let them land.
  std::this_thread::sleep_for(300ms);
  store.count(false);
  const long allocs = g_allocations.load() - alloc0;
  const long wchar = process_wchar() - wchar0;

  scheduler.reset();
  work.reset();
  ioc.stop();
  for (auto& t : io)
    t.join();
  std::filesystem::remove_all(dir);

  Figures f;
  f.jobs = std::min(done.load(), n);
  latency_us.resize(static_cast<std::size_t>(f.jobs));
  f.max = latency_us.empty()
              ? 0
              : static_cast<double>(*std::max_element(latency_us.begin(), latency_us.end()));
  f.p50 = percentile(latency_us, 0.50);
  f.p99 = percentile(latency_us, 0.99);
  f.p999 = percentile(latency_us, 0.999);
  f.allocations = static_cast<double>(allocs) / static_cast<double>(n);
  f.commits = static_cast<double>(store.commits_) / static_cast<double>(n);
  f.records = static_cast<double>(store.records_) / static_cast<double>(n);
  f.json_bytes = static_cast<double>(store.bytes_) / static_cast<double>(n);
  f.written_bytes = static_cast<double>(wchar) / static_cast<double>(n);
  return f;
}

void print(const char* who, const Figures& f, long n, bool store_figures) {
  std::printf("%-28s %7ld/%-7ld  p50 %8.3f  p99 %8.3f  p99.9 %8.3f  max %8.3f ms\n", who, f.jobs, n,
              f.p50 / 1000, f.p99 / 1000, f.p999 / 1000, f.max / 1000);
  if (store_figures) {
    std::printf(
        "%-28s per job run: %.1f allocations, %.3f commits, %.2f records, %.0f JSON "
        "bytes, %.0f bytes written by the process\n",
        "", f.allocations, f.commits, f.records, f.json_bytes, f.written_bytes);
  }
}

// Runs tests/bench/QuartzBench.java (single-file source) and reads its
// "p50 p99 p999 max jobs" line (microseconds).
std::optional<Figures> run_quartz(int rate, int seconds, int threads) {
  const std::string jars =
      "/usr/share/java/quartz2.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar";
  if (!std::filesystem::exists("/usr/share/java/quartz2.jar")) return std::nullopt;
  const std::string cmd = "java -Xmx2g -cp " + jars + " " + EPOCH_SOURCE_DIR +
                          "/tests/bench/QuartzBench.java " + std::to_string(rate) + " " +
                          std::to_string(seconds) + " " + std::to_string(threads);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return std::nullopt;
  Figures f;
  char line[512];
  bool got = false;
  while (std::fgets(line, sizeof line, p) != nullptr) {
    if (std::sscanf(line, "RESULT %lf %lf %lf %lf %ld", &f.p50, &f.p99, &f.p999, &f.max, &f.jobs) ==
        5) {
      got = true;
    } else {
      std::fputs(line, stderr);
    }
  }
  ::pclose(p);
  if (!got) return std::nullopt;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int rate = 10000, seconds = 5, threads = 4;
  std::string stores = "both";
  bool quartz = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--rate") {
      rate = std::atoi(next().c_str());
    } else if (a == "--seconds") {
      seconds = std::atoi(next().c_str());
    } else if (a == "--threads") {
      threads = std::atoi(next().c_str());
    } else if (a == "--store") {
      stores = next();
    } else if (a == "--no-quartz") {
      quartz = false;
    } else if (a == "--sqlite-normal") {
      g_sqlite_normal = true;
    } else {
      std::fprintf(stderr,
                   "usage: jobs_bench [--rate R] [--seconds S] [--threads T] "
                   "[--store memory|sqlite|both] [--sqlite-normal] [--no-quartz]\n");
      return 2;
    }
  }
  if (rate <= 0 || rate > 1000000 || seconds <= 0 || threads <= 0) return 2;
  const long n = static_cast<long>(rate) * seconds;
  std::printf(
      "fire -> handler: %d jobs/s spread evenly for %d s (%ld one-shot jobs), %d handler "
      "threads, %u cores\n",
      rate, seconds, n, threads, std::thread::hardware_concurrency());
  std::optional<Figures> memory;
  if (stores == "memory" || stores == "both") {
    memory = run_epoch("memory", rate, seconds, threads);
    print("libepoch, MemoryStore", *memory, n, true);
  }
  if (stores == "sqlite" || stores == "both") {
    print(g_sqlite_normal ? "libepoch, SQLite (NORMAL sync)" : "libepoch, SQLite (FULL sync)",
          run_epoch("sqlite", rate, seconds, threads), n, true);
  }
  if (quartz) {
    const auto q = run_quartz(rate, seconds, threads);
    if (!q) {
      std::printf("Quartz 2.3.2: not run (apt-get install libquartz2-java; needs a JDK)\n");
    } else {
      print("Quartz 2.3.2, RAMJobStore", *q, n, false);
      if (memory && memory->p99 > 0) {
        // p50 is no ratio: Quartz fires a little early (its p50 is below 0).
        std::printf("ratio (Quartz / libepoch MemoryStore): p99 %.1fx, p99.9 %.1fx, max %.1fx\n",
                    q->p99 / memory->p99, q->p999 / std::max(1.0, memory->p999),
                    q->max / std::max(1.0, memory->max));
      }
    }
  }
  return 0;
}
