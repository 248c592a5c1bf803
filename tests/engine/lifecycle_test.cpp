// Create and destroy: components made and torn down a thousand times with
// work in flight, on real threads (the io_context runs on two), so that the
// sanitizers see every teardown race. The rule under test: no callback
// runs after its object's destructor returns.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "epoch/clock.h"
#include "epoch/events.h"
#include "epoch/fake_executor.h"
#include "epoch/leader.h"
#include "epoch/local_executor.h"
#include "epoch/scheduler.h"
#include "epoch/sqlite_store.h"
#include "epoch/store.h"
#include "epoch/webhook_sink.h"

using namespace epoch;
namespace fs = std::filesystem;

namespace {

// An io_context run by two threads for the whole test.
struct Threads {
  boost::asio::io_context ioc;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(ioc);
  std::vector<std::thread> threads;
  Threads() {
    for (int i = 0; i < 2; ++i)
      threads.emplace_back([this] { ioc.run(); });
  }
  ~Threads() { stop(); }
  void stop() {
    work.reset();
    ioc.stop();
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }
};

Topology every_second(const std::string& name) {
  ProcessTask p;
  p.task_name = "main";
  p.command = "/bin/true";
  Topology t;
  t.name = name;
  t.task.spec = p;
  t.trigger = CronTrigger{"* * * ? * *", std::nullopt};
  return t;
}

// Counts callbacks, and those that come after the destructor returned.
struct Tally {
  std::atomic<bool> destroyed{false};
  std::atomic<int> calls{0}, late{0};
  template <typename T>
  std::function<void(StatusOr<T>)> callback() {
    return [this](StatusOr<T>) {
      ++calls;
      if (destroyed) ++late;
    };
  }
};

}  // namespace

TEST_CASE("a scheduler made and destroyed 1,000 times with calls in flight") {
  Threads threads;
  std::mt19937 rng(7);
  const fs::path dir =
      fs::temp_directory_path() / ("epoch-lifecycle-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  int late = 0, calls = 0;
  for (int i = 0; i < 1000; ++i) {
    // A SQLite file every tenth time (its commits complete on its thread);
    // otherwise memory.
    std::unique_ptr<Store> store;
    if (i % 10 == 0) {
      SqliteStoreOptions o;
      o.path = (dir / ("s" + std::to_string(i) + ".db")).string();
      o.synchronous_full = false;
      store = std::move(*make_sqlite_store(o));
    } else {
      store = make_memory_store();
    }
    FakeExecutor executor(FakeExecutor::Mode::kAutoComplete);
    auto elector = make_standalone_elector("http://localhost:0");
    auto clock = make_system_clock();
    RecordingSink events;
    Tally tally;
    {
      Scheduler scheduler(threads.ioc, *store, executor, *elector, *clock, events);
      scheduler.start();
      const std::string name = "t" + std::to_string(i);
      scheduler.create(every_second(name), tally.callback<TopologyDetails>());
      scheduler.run_now(name, tally.callback<std::string>());
      scheduler.get_topology(name, tally.callback<TopologyView>());
      scheduler.list_runs(name, RunQuery{}, tally.callback<std::vector<RunInfo>>());
      scheduler.get_run(name, "EIR-none", tally.callback<RunInfo>());
      scheduler.pause(name, tally.callback<TopologyDetails>());
      scheduler.stats(tally.callback<SchedulerStats>());
      // Destroyed at once, or once some of the answers are in.
      const int wait_for = static_cast<int>(rng() % 8);
      for (int spin = 0; spin < 2000 && tally.calls < wait_for; ++spin)
        std::this_thread::yield();
    }
    tally.destroyed = true;
    // Anything still queued on the io_context would run now.
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    late += tally.late;
    calls += tally.calls;
  }
  fs::remove_all(dir);
  MESSAGE(calls << " callbacks ran before their scheduler was destroyed");
  CHECK(late == 0);
}

TEST_CASE("a local executor made and destroyed 200 times with launches and kills in flight") {
  const fs::path dir =
      fs::temp_directory_path() / ("epoch-lifecycle-x" + std::to_string(::getpid()));
  std::atomic<bool> destroyed{false};
  std::atomic<int> late{0};
  for (int i = 0; i < 200; ++i) {
    LocalExecutorOptions o;
    o.work_dir = (dir / std::to_string(i)).string();
    o.poll_interval = std::chrono::milliseconds(5);
    o.kill_grace = std::chrono::milliseconds(50);
    destroyed = false;
    {
      auto ex = make_local_executor(o);
      TaskLaunch l;
      l.task_id = "t" + std::to_string(i);
      l.topology_id = "topo";
      l.run_id = "ESR-2026-01-01-00-00-00-000";
      l.task_name = "main";
      ProcessTask p;
      p.task_name = "main";
      p.command = "/bin/sh";
      p.args = {"-c", i % 2 == 0 ? "exit 0" : "sleep 1"};
      l.task.spec = p;
      ex->launch(l, [&](const TaskUpdate&) {
        if (destroyed) ++late;
      });
      if (i % 3 == 0) {
        ex->kill(l.task_id, [&](Status) {
          if (destroyed) ++late;
        });
      }
      if (i % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(i % 20));
    }
    destroyed = true;
  }
  // Tasks left running were killed or end on their own; their directories go.
  fs::remove_all(dir);
  CHECK(late.load() == 0);
}

TEST_CASE("a webhook sink made and destroyed 1,000 times with deliveries in flight") {
  // A peer that accepts connections and never answers: every delivery is
  // in flight when its sink goes.
  Threads threads;
  namespace ip = boost::asio::ip;
  ip::tcp::acceptor acceptor(threads.ioc, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
  std::vector<std::shared_ptr<ip::tcp::socket>> held;
  std::mutex held_mu;
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](boost::system::error_code ec, ip::tcp::socket s) {
      if (ec) return;
      {
        std::lock_guard lock(held_mu);
        held.push_back(std::make_shared<ip::tcp::socket>(std::move(s)));
      }
      accept();
    });
  };
  accept();
  const std::string url =
      "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/hook";
  std::atomic<bool> destroyed{false};
  std::atomic<int> late{0};
  for (int i = 0; i < 1000; ++i) {
    destroyed = false;
    {
      WebhookOptions o;
      o.urls = {url};
      o.timeout = std::chrono::milliseconds(2000);
      o.on_result = [&](const std::string&, bool, const std::string&) {
        if (destroyed) ++late;
      };
      auto sink = make_webhook_sink(o);
      REQUIRE(sink.ok());
      Event e;
      e.type = Event::Type::kRunStateChanged;
      e.topology_id = "t";
      e.run_id = "EIR-" + std::to_string(i);
      e.run_state = RunState::kFailed;
      e.run_type = RunType::kInstant;
      e.topology = std::make_shared<Topology>();
      for (int n = 0; n < 3; ++n)
        (*sink)->on_event(e);
      if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    destroyed = true;
    if (i % 100 == 99) {
      std::lock_guard lock(held_mu);
      held.clear();
    }
  }
  threads.stop();  // before the acceptor and its handler's captures go
  CHECK(late.load() == 0);
}
