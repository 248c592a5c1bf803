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
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "../../libepoch/support/work_queue.h"
#include "../support/remove_tree.h"
#include "epoch/clock.h"
#include "epoch/events.h"
#include "epoch/fake_executor.h"
#include "epoch/function_executor.h"
#include "epoch/job_scheduler.h"
#include "epoch/leader.h"
#include "epoch/local_executor.h"
#include "epoch/mail_sink.h"
#include "epoch/scheduler.h"
#include "epoch/sqlite_store.h"
#include "epoch/store.h"
#include "epoch/webhook_sink.h"

using namespace epoch;
namespace fs = std::filesystem;
namespace ip = boost::asio::ip;

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

TEST_CASE("WorkQueue: in order, on its own thread; drained at stop; then refused") {
  std::vector<int> seen;
  std::atomic<int> drained{0};
  std::thread::id worker;
  {
    WorkQueue<int> q({.drained = [&] { ++drained; }}, [&](int& i) {
      worker = std::this_thread::get_id();
      if (i == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the rest queue up
      seen.push_back(i);
    });
    for (int i = 0; i < 1000; ++i)
      CHECK(q.push(int{i}));
    q.stop();  // kDrain: all 1,000 are handled first
    CHECK_FALSE(q.push(1000));
    CHECK_FALSE(q.on_worker());
  }
  REQUIRE(seen.size() == 1000);
  for (int i = 0; i < 1000; ++i)
    CHECK(seen[static_cast<std::size_t>(i)] == i);
  CHECK(worker != std::this_thread::get_id());
  CHECK(drained >= 1);
}

TEST_CASE("WorkQueue: kDrop destroys what was not taken; capacity; sleep_for ends at stop") {
  std::promise<void> first_taken, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> handled{0};
  auto alive = std::make_shared<int>(0);  // every queued item holds a copy
  {
    WorkQueue<std::shared_ptr<int>> q({.on_stop = OnStop::kDrop, .capacity = 3},
                                      [&](std::shared_ptr<int>&) {
                                        if (handled++ == 0) {
                                          first_taken.set_value();
                                          released.wait();
                                        }
                                      });
    CHECK(q.push(alive));
    first_taken.get_future().wait();  // the worker holds item 1
    CHECK(q.push(alive));
    CHECK(q.push(alive));
    CHECK(q.push(alive));
    CHECK_FALSE(q.push(alive));  // capacity 3
    CHECK(q.size() == 3);
    std::thread stopper([&] { q.stop(); });
    while (!q.stopping())
      std::this_thread::yield();
    release.set_value();
    stopper.join();
    CHECK(handled == 1);            // the three queued were not handled…
    CHECK(alive.use_count() == 1);  // …and are gone
  }
  // A handler waiting out a back-off is cut short by stop().
  std::promise<void> sleeping;
  std::atomic<bool> slept_through{true};
  {
    WorkQueue<int> backoff({.on_stop = OnStop::kDrop}, [&](int&) {
      sleeping.set_value();
      slept_through = backoff.sleep_for(std::chrono::hours(1));
    });
    backoff.push(1);
    sleeping.get_future().wait();
    backoff.stop();  // would hang for an hour if sleep_for did not end
  }
  CHECK_FALSE(slept_through);
}

TEST_CASE("WorkQueue: a handler per thread, made on that thread; threads work concurrently") {
  constexpr int kThreads = 4;
  std::mutex mu;
  std::set<std::thread::id> made_on;
  std::atomic<int> inside{0}, most{0};
  std::promise<void> all_in;
  std::shared_future<void> go = all_in.get_future().share();
  {
    WorkQueue<int> q({.threads = kThreads}, [&]() -> WorkQueue<int>::Handler {
      {
        std::lock_guard lock(mu);
        made_on.insert(std::this_thread::get_id());
      }
      auto mine = std::make_shared<std::thread::id>(std::this_thread::get_id());
      return [&, mine](int&) {
        CHECK(*mine == std::this_thread::get_id());
        const int n = ++inside;
        int m = most;
        while (n > m && !most.compare_exchange_weak(m, n)) {
        }
        if (n == kThreads) all_in.set_value();
        go.wait();  // every item waits until all threads hold one
        --inside;
      };
    });
    for (int i = 0; i < kThreads; ++i)
      q.push(int{i});
  }
  CHECK(made_on.size() == kThreads);
  CHECK(most == kThreads);
}

TEST_CASE("WorkQueue made and destroyed 1,000 times with pushes in flight") {
  std::atomic<long> handled{0};
  for (int i = 0; i < 1000; ++i) {
    auto q = std::make_unique<WorkQueue<int>>(
        WorkQueue<int>::Options{.threads = 1 + i % 3,
                                .on_stop = i % 2 ? OnStop::kDrop : OnStop::kDrain},
        [&](int& n) { handled += n; });
    std::atomic<bool> go{true};
    std::thread pusher([&] {
      while (go)
        q->push(1);
    });
    std::this_thread::yield();
    q->stop();  // pushes race the stop; none is handled after it returns
    const long after = handled;
    go = false;
    pusher.join();
    q.reset();
    CHECK(handled == after);
  }
}

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

TEST_CASE("a local executor made and destroyed 1,000 times with launches and kills in flight") {
  const fs::path dir =
      fs::temp_directory_path() / ("epoch-lifecycle-x" + std::to_string(::getpid()));
  std::atomic<bool> destroyed{false};
  std::atomic<int> late{0};
  for (int i = 0; i < 1000; ++i) {
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
  // Tasks left running were killed or end on their own (within a second);
  // their directories go. One may still write its exit file while the
  // directories are removed.
  CHECK(epoch::test::remove_tree_eventually(dir));
  CHECK(late.load() == 0);
}

namespace {

// A peer on loopback that accepts connections and never says a word: what
// is sent to it is in flight until its sender gives up or goes.
class SilentPeer {
 public:
  explicit SilentPeer(boost::asio::io_context& ioc)
      : acceptor_(ioc, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted() const { return accepted_; }
  // Closes the connections held so far.
  void drop() {
    std::lock_guard lock(mu_);
    held_.clear();
  }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, ip::tcp::socket s) {
      if (ec) return;
      ++accepted_;
      {
        std::lock_guard lock(mu_);
        held_.push_back(std::make_shared<ip::tcp::socket>(std::move(s)));
      }
      accept();
    });
  }
  ip::tcp::acceptor acceptor_;
  std::mutex mu_;
  std::vector<std::shared_ptr<ip::tcp::socket>> held_;
  std::atomic<int> accepted_{0};
};

Event failed_run_event(int i) {
  Event e;
  e.type = Event::Type::kRunStateChanged;
  e.topology_id = "t";
  e.run_id = "EIR-" + std::to_string(i);
  e.run_state = RunState::kFailed;
  e.run_type = RunType::kInstant;
  auto topology = std::make_shared<Topology>();
  topology->name = "t";
  e.topology = std::move(topology);
  auto run = std::make_shared<RunInfo>();
  run->topology_id = "t";
  run->run_id = e.run_id;
  run->state = RunState::kFailed;
  e.run = std::move(run);
  return e;
}

}  // namespace

TEST_CASE("a webhook sink made and destroyed 1,000 times with deliveries in flight") {
  // Every delivery is in flight when its sink goes.
  Threads threads;
  SilentPeer peer(threads.ioc);
  const std::string url = "http://127.0.0.1:" + std::to_string(peer.port()) + "/hook";
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
      const Event e = failed_run_event(i);
      for (int n = 0; n < 3; ++n)
        (*sink)->on_event(e);
      if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    destroyed = true;
    if (i % 100 == 99) peer.drop();
  }
  threads.stop();  // before the acceptor and its handler's captures go
  MESSAGE(peer.accepted() << " deliveries reached the peer");
  CHECK(peer.accepted() > 0);
  CHECK(late.load() == 0);
}

TEST_CASE("a mail sink made and destroyed 1,000 times with mails in flight") {
  // An SMTP server that never greets: every mail is in flight (or queued
  // behind one) when its sink goes.
  Threads threads;
  SilentPeer peer(threads.ioc);
  std::atomic<bool> destroyed{false};
  std::atomic<int> late{0};
  for (int i = 0; i < 1000; ++i) {
    destroyed = false;
    {
      MailOptions o;
      o.server = "127.0.0.1";
      o.port = peer.port();
      o.security = MailOptions::Security::kNone;
      o.from_address = "epoch@example.com";
      o.default_recipients = {"oncall@example.com"};
      o.timeout = std::chrono::milliseconds(2000);
      o.on_result = [&](const std::string&, bool, const std::string&) {
        if (destroyed) ++late;
      };
      auto sink = make_mail_sink(o);
      REQUIRE(sink.ok());
      for (int n = 0; n < 2; ++n)
        (*sink)->on_event(failed_run_event(i));
      if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    destroyed = true;
    if (i % 100 == 99) peer.drop();
  }
  threads.stop();
  MESSAGE(peer.accepted() << " mails reached the server");
  CHECK(peer.accepted() > 0);
  CHECK(late.load() == 0);
}

TEST_CASE("a function executor made and destroyed 1,000 times with jobs running and killed") {
  std::atomic<bool> destroyed{false};
  std::atomic<int> late{0}, started{0};
  for (int i = 0; i < 1000; ++i) {
    destroyed = false;
    {
      FunctionExecutorOptions o;
      o.threads = 2;
      o.kill_grace = std::chrono::milliseconds(100);
      FunctionExecutor jobs(o);
      REQUIRE(jobs.register_job("nap",
                                [&](JobContext& ctx) {
                                  ++started;
                                  ctx.log("napping");
                                  ctx.sleep_for(
                                      std::chrono::milliseconds(ctx.data_int("ms").value_or(0)));
                                })
                  .ok());
      for (int n = 0; n < 3; ++n) {
        TaskLaunch l;
        l.task_id = "t-" + std::to_string(i) + "-" + std::to_string(n);
        l.topology_id = "t";
        l.run_id = "EIR-" + std::to_string(i);
        l.task_name = "main";
        FunctionTask f;
        f.task_name = "main";
        f.job = "nap";
        f.data = RawJson{R"({"ms":)" + std::to_string(n * 20) + "}"};
        l.task.spec = f;
        jobs.launch(l, [&](const TaskUpdate&) {
          if (destroyed) ++late;
        });
        if (n == 2 && i % 2 == 0) {
          jobs.kill(l.task_id, [&](Status) {
            if (destroyed) ++late;
          });
        }
      }
      if (i % 4 == 0) std::this_thread::sleep_for(std::chrono::microseconds(100 * (i % 20)));
    }
    destroyed = true;
  }
  MESSAGE(started.load() << " handlers started before their executor was destroyed");
  CHECK(started.load() > 0);
  CHECK(late.load() == 0);
}

TEST_CASE("a JobScheduler started and destroyed 1,000 times with jobs, calls and listeners") {
  std::atomic<bool> destroyed{false};
  std::atomic<int> late{0}, handled{0};
  for (int i = 0; i < 1000; ++i) {
    destroyed = false;
    {
      JobSchedulerOptions o;
      o.other_tasks = JobSchedulerOptions::Tasks::kNone;
      o.io_threads = 1;
      o.jobs.threads = 1;
      o.jobs.kill_grace = std::chrono::milliseconds(100);
      o.register_job("nap", [&](JobContext& ctx) {
        ++handled;
        ctx.sleep_for(std::chrono::milliseconds(5));
      });
      auto started = JobScheduler::start(std::move(o));
      REQUIRE(started.ok());
      JobScheduler& s = **started;
      s.on_run([&](const RunEvent&) {
        if (destroyed) ++late;
      });
      s.on_task([&](const TaskEvent&) {
        if (destroyed) ++late;
      });
      // Answers through futures nobody waits for; a run now whenever this
      // copy already leads (else it is refused).
      auto created = s.create_async(function_topology("t", "* * * ? * *", "nap"));
      auto ran = s.run_now_async("t");
      auto listed = s.list_async();
      if (i % 4 == 0) {
        s.wait_until_leader(std::chrono::seconds(5));
        (void)created.get();
        (void)s.run_now("t");
        std::this_thread::sleep_for(std::chrono::microseconds(200 * (i % 20)));
      }
    }
    destroyed = true;
  }
  MESSAGE(handled.load() << " jobs started before their JobScheduler was destroyed");
  CHECK(handled.load() > 0);
  CHECK(late.load() == 0);
}
