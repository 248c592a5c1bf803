// jobs_cluster: three copies of a service on one ZooKeeper, each registering
// the same job; one leads and schedules. The leader is killed (SIGKILL)
// twice, in the middle of a job; every nominal fire still runs, and each
// attempt's handler starts exactly once (the handlers append to one file).
//
//   jobs_cluster copy <zk-hosts> <namespace> <dir>   one copy; runs until SIGTERM
//   jobs_cluster demo <zk-hosts> <dir>               the demonstration (exit 1 if a
//                                                    fire is unaccounted for or an
//                                                    attempt started twice)
//
// The job "tick" fires every second and takes 0.6 s. Retries: an attempt
// LOST with its process is retried (3 attempts). Fires passed while no
// copy led (the dead leader's ZooKeeper session has to expire first) run
// when the next leader takes over (catch-up ALL); runs may overlap (up to 5).
#include <epoch/job_scheduler.h>
#include <epoch/zookeeper.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

std::atomic<bool> g_stop{false};

epoch::ZkOptions zk_options(const std::string& hosts, const std::string& name_space) {
  epoch::ZkOptions z;
  z.hosts = hosts;
  z.name_space = name_space;
  z.session_timeout = 2000ms;
  return z;
}

epoch::Topology tick_topology() {
  epoch::Topology t = epoch::function_topology("tick", "* * * * * ?", "tick");
  t.policies = epoch::Policies{};
  epoch::RetryPolicy retry;
  retry.max_attempts = 3;
  retry.initial_backoff = epoch::Duration{500, epoch::Duration::Unit::kMilliseconds};
  retry.jitter = 0;
  retry.on = {epoch::RetryOn::kLost};
  t.policies->retry = retry;
  t.policies->catch_up =
      epoch::CatchUpPolicy{epoch::CatchUpMode::kAll, epoch::Duration::minutes(1), 60};
  t.policies->overlap = epoch::OverlapPolicy{epoch::OverlapMode::kAllow, 5};
  return t;
}

// Appends one line whole (O_APPEND): the copies share the file.
void append(const std::string& file, const std::string& line) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  [[maybe_unused]] const auto n = ::write(fd, line.data(), line.size());
  ::close(fd);
}

int copy(const std::string& hosts, const std::string& name_space, const std::string& dir) {
  ::signal(SIGTERM, [](int) { g_stop = true; });
  const std::string starts = dir + "/starts.log";
  epoch::JobSchedulerOptions options;
  options.store = zk_options(hosts, name_space);
  options.jobs.threads = 8;
  options.register_job("tick", [starts](epoch::JobContext& job) -> epoch::Status {
    append(starts, job.task_id() + " " + std::to_string(job.attempt()) + " " +
                       std::to_string(::getpid()) + "\n");
    if (!job.sleep_for(600ms)) return epoch::cancelled("stopped");
    return epoch::Status();
  });
  auto service = epoch::JobScheduler::start(std::move(options));
  if (!service.ok()) {
    std::cerr << "copy " << ::getpid() << ": " << service.status().message() << "\n";
    return 1;
  }
  if (auto s = (*service)->declare(tick_topology()); !s.ok()) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  bool said = false;
  while (!g_stop) {
    if ((*service)->is_leader() && !said) {
      said = true;  // tell the demo who leads (written whole, then renamed)
      const std::string tmp = dir + "/leader." + std::to_string(::getpid());
      std::ofstream(tmp) << ::getpid() << "\n";
      std::filesystem::rename(tmp, dir + "/leader");
    }
    std::this_thread::sleep_for(20ms);
  }
  // The last copy ends the demonstration cleanly: no new fires, live runs
  // finish.
  if ((*service)->is_leader()) {
    (void)(*service)->pause("tick");
    for (int i = 0; i < 200; ++i) {
      auto v = (*service)->get("tick");
      if (!v.ok() || v->live_runs.empty()) break;
      std::this_thread::sleep_for(50ms);
    }
  }
  return 0;
}

pid_t spawn(const std::vector<std::string>& args) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  return pid;
}

pid_t read_leader(const std::string& dir) {
  std::ifstream in(dir + "/leader");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

// Waits for a leader other than `not_this` (0: any).
pid_t wait_leader(const std::string& dir, pid_t not_this) {
  for (int i = 0; i < 600; ++i) {
    const pid_t p = read_leader(dir);
    if (p > 0 && p != not_this) return p;
    std::this_thread::sleep_for(50ms);
  }
  return 0;
}

// 0.3 s past the next whole second: a tick (0.6 s) is running then.
void sleep_to_mid_job() {
  const auto now = Clock::now();
  const auto next = std::chrono::ceil<std::chrono::seconds>(now);
  std::this_thread::sleep_until(next + 300ms);
}

int demo(const std::string& self, const std::string& hosts, const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string ns = "jobs-cluster-" + std::to_string(::getpid());
  std::set<pid_t> copies;
  for (int i = 0; i < 3; ++i)
    copies.insert(spawn({self, "copy", hosts, ns, dir}));
  const auto stop_all = [&] {
    for (pid_t p : copies) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
  };

  pid_t leader = wait_leader(dir, 0);
  if (leader == 0) return std::cerr << "no copy became the leader\n", stop_all(), 1;
  std::cout << "3 copies; copy " << leader << " leads\n";
  std::this_thread::sleep_for(3s);
  for (int kill = 1; kill <= 2; ++kill) {
    sleep_to_mid_job();
    ::kill(leader, SIGKILL);
    ::waitpid(leader, nullptr, 0);
    copies.erase(leader);
    const auto killed_at = std::chrono::steady_clock::now();
    const pid_t next = wait_leader(dir, leader);
    if (next == 0) return std::cerr << "no copy took over\n", stop_all(), 1;
    std::cout << "killed the leader " << leader << " (SIGKILL) mid-job; copy " << next
              << " took over after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - killed_at)
                     .count()
              << " ms\n";
    leader = next;
    std::this_thread::sleep_for(3s);
  }
  // The last copy ends cleanly.
  ::kill(leader, SIGTERM);
  int status = 0;
  ::waitpid(leader, &status, 0);
  copies.erase(leader);
  stop_all();

  // Every nominal fire from the topology's creation to the last one
  // handled has a run; each attempt started once.
  auto conn = epoch::connect_zookeeper(zk_options(hosts, ns));
  if (!conn.ok()) return std::cerr << conn.status().message() << "\n", 1;
  auto store = epoch::make_zk_store(*conn);
  auto rec = store->load_topology("tick");
  auto runs = store->load_runs("tick");
  if (!rec.ok() || !rec->has_value() || !runs.ok()) return std::cerr << "cannot read\n", 1;
  std::map<epoch::Instant, const epoch::RunInfo*> by_nominal;
  for (const auto& r : *runs) {
    if (r.run.scheduled_time) by_nominal[*r.run.scheduled_time] = &r.run;
  }
  std::map<std::string, int> starts;  // task id -> starts
  std::map<std::string, std::set<pid_t>> pids;
  {
    std::ifstream in(dir + "/starts.log");
    for (std::string line; std::getline(in, line);) {
      std::istringstream words(line);
      std::string id;
      int attempt = 0;
      pid_t pid = 0;
      words >> id >> attempt >> pid;
      ++starts[id];
      pids[id.substr(0, id.find("-main"))].insert(pid);
    }
  }
  std::map<std::string, int> states;
  int unaccounted = 0, retried = 0, fires = 0;
  const epoch::Instant last = (*rec)->last_fire.value_or((*rec)->details.created);
  // Every second strictly after the creation instant.
  for (auto f = std::chrono::floor<std::chrono::seconds>((*rec)->details.created) + 1s; f <= last;
       f += 1s) {
    ++fires;
    const auto it = by_nominal.find(f);
    if (it == by_nominal.end()) {
      ++unaccounted;
      std::cout << "no run for the fire at " << epoch::format_utc(f) << "\n";
      continue;
    }
    const epoch::RunInfo& run = *it->second;
    ++states[std::string(epoch::to_string(run.state))];
    if (run.state == epoch::RunState::kRunning) ++unaccounted;
    const int attempts = run.tasks.at("main").attempt;
    if (attempts > 1) {
      ++retried;
      std::cout << "  " << run.run_id << ": " << attempts - 1
                << " attempt(s) LOST with a killed leader, then " << epoch::to_string(run.state)
                << " (started by " << pids["tick-" + run.run_id].size() << " copies)\n";
    }
  }
  int twice = 0;
  for (const auto& [id, n] : starts) {
    if (n != 1) {
      ++twice;
      std::cout << "attempt " << id << " started " << n << " times\n";
    }
  }
  std::cout << fires << " nominal fires:";
  for (const auto& [state, n] : states)
    std::cout << " " << n << " " << state;
  std::cout << "; " << retried << " retried after a LOST attempt; " << starts.size()
            << " handler starts, each attempt exactly once: " << (twice == 0 ? "yes" : "NO") << "; "
            << unaccounted << " unaccounted for\n";
  return unaccounted == 0 && twice == 0 && retried > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "copy" && argc == 5) return copy(argv[2], argv[3], argv[4]);
  if (mode == "demo" && argc == 4) {
    return demo(std::filesystem::canonical("/proc/self/exe").string(), argv[2], argv[3]);
  }
  std::cerr << "usage: jobs_cluster copy <zk-hosts> <namespace> <dir> | "
               "jobs_cluster demo <zk-hosts> <dir>\n";
  return 2;
}
