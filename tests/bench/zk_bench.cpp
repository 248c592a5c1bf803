// Cluster-mode figures against a real ZooKeeper (Debian's, started here on
// a free loopback port):
//   1. run-record writes per second through ZkStore: batches of 500 in one
//      fenced multi each, vs one write per commit;
//   2. a new leader recovering 10,000 topologies and 100,000 runs (10,000 of
//      them live): from elect() until the engine has loaded everything,
//      re-attached the live tasks and armed its timers;
//   3. failover: two epochd processes, a topology firing every second; the
//      leader is killed with SIGKILL; time until the other node leads, and
//      until its first launch.
//
//   zk_bench [--topologies N] [--runs-per-topology R] [--epochd PATH]
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "daemon_process.h"
#include "epoch/fake_executor.h"
#include "epoch/scheduler.h"
#include "epoch/zookeeper.h"
#include "http_client.h"
#include "zk_server.h"

using namespace epoch;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {

double seconds_since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

CommitResult commit(Store& s, Batch b) {
  std::promise<CommitResult> p;
  auto f = p.get_future();
  s.commit(std::move(b), [&](CommitResult r) { p.set_value(std::move(r)); });
  return f.get();
}

std::shared_ptr<ZkConnection> connect(const test::ZkServer& zk) {
  ZkOptions o;
  o.hosts = zk.hosts();
  o.session_timeout = 10s;
  o.operation_timeout = 10s;
  auto c = connect_zookeeper(o);
  if (!c.ok()) std::abort();
  test::eventually([&] { return zk_connected(**c); });
  return *c;
}

RunInfo make_run(const std::string& tid, int i, RunState state) {
  char id[40];
  std::snprintf(id, sizeof id, "ESR-2026-01-01-%02d-%02d-%02d-000", (i / 3600) % 24, (i / 60) % 60,
                i % 60);
  RunInfo r;
  r.topology_id = tid;
  r.run_id = id;
  r.state = state;
  r.message = state == RunState::kRunning ? "Job started" : "Task successful";
  r.created = r.updated = from_epoch_millis(1767225600000 + i * 1000LL);
  r.scheduled_time = r.created;
  TaskRunInfo t;
  t.task_id = tid + "-" + r.run_id + "-main";
  t.state = state == RunState::kRunning ? TaskState::kRunning : TaskState::kCompleted;
  t.upstream_id = t.task_id;
  r.tasks["main"] = t;
  return r;
}

TopologyRecord make_topology(const std::string& id) {
  ProcessTask p;
  p.task_name = "main";
  p.command = "/bin/true";
  TopologyRecord t;
  t.details.id = id;
  t.details.topology.name = id;
  t.details.topology.task.spec = p;
  t.details.topology.trigger = CronTrigger{"0 0 0 1 1 ? 2099", std::nullopt};
  t.details.created = t.details.updated = from_epoch_millis(1767225600000);
  return t;
}

void writes(const test::ZkServer& zk) {
  auto conn = connect(zk);
  auto store = make_zk_store(conn);
  Batch setup;
  setup.put_topology(make_topology("w"), kMustNotExist);
  if (!commit(*store, std::move(setup)).ok()) std::abort();
  constexpr int kBatched = 20000, kBatch = 500, kSingle = 2000;
  auto t0 = Steady::now();
  for (int b = 0; b < kBatched / kBatch; ++b) {
    Batch batch;
    for (int i = 0; i < kBatch; ++i)
      batch.put_run(make_run("w", b * kBatch + i, RunState::kSuccessful), kMustNotExist);
    if (!commit(*store, std::move(batch)).ok()) std::abort();
  }
  const double batched = kBatched / seconds_since(t0);
  t0 = Steady::now();
  for (int i = 0; i < kSingle; ++i) {
    Batch batch;
    batch.put_run(make_run("w", kBatched + i, RunState::kSuccessful), kMustNotExist);
    if (!commit(*store, std::move(batch)).ok()) std::abort();
  }
  const double single = kSingle / seconds_since(t0);
  std::printf("ZkStore run writes: %.0f/s batched (%d per multi), %.0f/s one per commit\n",
              batched, kBatch, single);
}

void recovery(const test::ZkServer& zk, int topologies, int runs_per) {
  auto conn = connect(zk);
  auto store = make_zk_store(conn);
  auto t0 = Steady::now();
  for (int t = 0; t < topologies;) {
    Batch batch;
    for (int k = 0; k < 50 && t < topologies; ++k, ++t) {
      const std::string id = "topology-" + std::to_string(t);
      batch.put_topology(make_topology(id), kMustNotExist);
      for (int r = 0; r < runs_per; ++r)
        batch.put_run(make_run(id, r, r == runs_per - 1 ? RunState::kRunning
                                                          : RunState::kSuccessful),
                      kMustNotExist);
    }
    if (auto c = commit(*store, std::move(batch)); !c.ok()) {
      std::fprintf(stderr, "setup failed: %s\n", c.status().message().c_str());
      std::abort();
    }
  }
  std::printf("setup: %d topologies, %d runs (%d live) written in %.1f s\n", topologies,
              topologies * runs_per, topologies, seconds_since(t0));

  // A fresh node: its own session and store.
  auto conn2 = connect(zk);
  auto store2 = make_zk_store(conn2);
  t0 = Steady::now();
  const auto loaded = store2->load_topologies();
  const auto live = store2->load_live_runs();
  std::printf("store reads: %zu topologies + %zu live runs (of %d) in %.2f s\n", loaded->size(),
              live->size(), topologies * runs_per, seconds_since(t0));

  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::thread io([&] { ioc.run(); });
  FakeExecutor executor(FakeExecutor::Mode::kManual);
  auto elector = make_zk_elector(conn2, "http://bench:1");
  FanoutSink events;  // with no sinks: events go nowhere
  auto clock = make_system_clock();
  Scheduler scheduler(ioc, *store2, executor, *elector, *clock, events);
  t0 = Steady::now();
  scheduler.start();  // elected at once: nobody else runs
  // stats() is answered on the strand, after the recovery has run there.
  SchedulerStats s;
  while (!s.leader) {
    std::promise<SchedulerStats> p;
    scheduler.stats([&](StatusOr<SchedulerStats> r) { p.set_value(*r); });
    s = p.get_future().get();
    if (!s.leader) std::this_thread::sleep_for(1ms);
  }
  std::printf("new leader recovered %zu topologies and %zu live runs (store holds %d runs) in "
              "%.2f s\n",
              s.topologies_active + s.topologies_paused, s.runs_live, topologies * runs_per,
              seconds_since(t0));
  scheduler.stop();
  work.reset();
  io.join();
}

void failover(const test::ZkServer& zk, const std::string& epochd) {
  const std::string dir = test::make_temp_dir("epoch-zk-bench");
  const std::vector<std::string> args = {"--store", "zookeeper", "--zk-connect", zk.hosts(),
                                         "--zk-namespace", "failover", "--zk-session-timeout",
                                         "2 seconds", "--work-dir", dir + "/tasks"};
  std::filesystem::create_directories(dir + "/a");
  std::filesystem::create_directories(dir + "/b");
  auto a = std::make_unique<test::DaemonProcess>(epochd, dir + "/a", args);
  test::eventually([&] {
    return test::http_call(a->port(), "GET", "/apis/housekeeping/v1/leader").status == 200;
  });
  test::DaemonProcess b(epochd, dir + "/b", args);
  const std::string log = dir + "/launches.txt";
  const std::string body =
      R"({"name":"tick","task":{"type":"PROCESS","taskName":"main","command":"/bin/sh","args":["-c","date +%s%N >> )" +
      log + R"("]},"trigger":{"type":"CRON","timeSpec":"* * * ? * *"}})";
  test::http_call(a->port(), "POST", "/apis/v1/topologies", body,
                  {{"Content-Type", "application/json"}});
  std::this_thread::sleep_for(3500ms);
  const auto count = [&] {
    std::ifstream in(log);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);)
      ++n;
    return n;
  };
  const std::size_t before = count();
  const auto wall = std::chrono::system_clock::now();
  const auto t0 = Steady::now();
  a->kill9();
  const std::string b_url = "http://127.0.0.1:" + std::to_string(b.port());
  test::eventually(
      [&] {
        const auto r = test::http_call(b.port(), "GET", "/apis/housekeeping/v1/leader");
        return r.status == 200 && r.body.find(b_url) != std::string::npos &&
               test::http_call(b.port(), "GET", "/apis/v1/topologies/tick").status == 200;
      },
      30s, 5ms);
  const double elected = seconds_since(t0);
  test::eventually([&] { return count() > before; }, 30s, 5ms);
  // The first launch by the new leader, from the task's own timestamp.
  std::ifstream in(log);
  std::string line, last;
  std::size_t n = 0;
  while (std::getline(in, line))
    if (++n == before + 1) last = line;
  const double first_launch =
      (std::stoll(last) / 1e9) -
      std::chrono::duration<double>(wall.time_since_epoch()).count();
  std::printf("failover (session timeout 2 s, cron every second): new leader serving %.2f s after "
              "kill -9, its first launch %.2f s after\n",
              elected, first_launch);
  b.terminate();
  std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int topologies = 10000, runs_per = 10;
  std::string epochd;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--topologies")) topologies = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs-per-topology")) runs_per = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--epochd")) epochd = std::filesystem::absolute(argv[i + 1]);
  }
  test::ZkServer zk;
  writes(zk);
  recovery(zk, topologies, runs_per);
  if (!epochd.empty()) failover(zk, epochd);
  return 0;
}
