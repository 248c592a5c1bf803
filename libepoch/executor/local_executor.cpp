// LocalExecutor: tasks as processes on this host, watched through files.
//
// Launch: a double fork leaves a supervisor process owned by init. The
// supervisor records its pid, starts the command in its own process group
// (stdout/stderr to the task's log files), records the command's pid, waits
// for it and writes the exit status to `exit` (via rename, so it appears
// whole). Only async-signal-safe calls happen between fork and exec.
//
// Watch: one monitor thread reads the task directories every poll interval
// and reports changes. Because all state is in files, a new executor (after
// a restart of the engine) attaches to a task by reading its directory.
#include "epoch/local_executor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace epoch {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---- async-signal-safe helpers (used between fork and exec) ----

void write_all(int fd, const char* s, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

// Writes "<prefix><n>\n" into buf; returns its length.
std::size_t format_number(char* buf, const char* prefix, long long n) {
  std::size_t len = 0;
  while (*prefix)
    buf[len++] = *prefix++;
  if (n < 0) {
    buf[len++] = '-';
    n = -n;
  }
  char digits[24];
  int d = 0;
  do {
    digits[d++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0);
  while (d > 0)
    buf[len++] = digits[--d];
  buf[len++] = '\n';
  return len;
}

void write_file_safe(const char* path, const char* tmp, const char* prefix, long long n) {
  char buf[64];
  const std::size_t len = format_number(buf, prefix, n);
  const int fd = ::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  write_all(fd, buf, len);
  ::close(fd);
  ::rename(tmp, path);
}

// Everything the forked processes need, prepared before fork.
struct Spawn {
  std::string sup_pid, sup_pid_tmp, child_pid, child_pid_tmp, exit, exit_tmp;
  std::string killed;  // present: killed before the command started
  std::string stdout_path, stderr_path, cwd;
  std::string program;  // resolved path
  std::vector<std::string> args, env;
  std::string exec_error;  // written to stderr when exec fails
};

[[noreturn]] void run_command(const Spawn& s, char* const* argv, char* const* envp) {
  ::setpgid(0, 0);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT, SIGCHLD})
    ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  const int in = ::open("/dev/null", O_RDONLY);
  const int out = ::open(s.stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int err = ::open(s.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (in < 0 || out < 0 || err < 0) ::_exit(126);
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  if (!s.cwd.empty() && ::chdir(s.cwd.c_str()) != 0) {
    static const char kMsg[] = "epoch: cannot change to the working directory\n";
    write_all(2, kMsg, sizeof kMsg - 1);
    ::_exit(126);
  }
  ::execve(s.program.c_str(), argv, envp);
  write_all(2, s.exec_error.data(), s.exec_error.size());
  ::_exit(127);
}

// Starts the supervisor; returns false when fork fails.
bool spawn(const Spawn& s) {
  std::vector<char*> argv, envp;
  for (const std::string& a : s.args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : s.env)
    envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const pid_t a = ::fork();
  if (a < 0) return false;
  if (a == 0) {
    ::setsid();
    const pid_t sup = ::fork();
    if (sup != 0) ::_exit(0);  // the supervisor is now init's child
    ::close_range(3, ~0U, 0);
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT})
      ::sigaction(sig, &ign, nullptr);
    write_file_safe(s.sup_pid.c_str(), s.sup_pid_tmp.c_str(), "", ::getpid());
    if (::access(s.killed.c_str(), F_OK) == 0) {  // a kill came first: never start
      write_file_safe(s.exit.c_str(), s.exit_tmp.c_str(), "signal ", SIGTERM);
      ::_exit(0);
    }
    const pid_t child = ::fork();
    if (child == 0) run_command(s, argv.data(), envp.data());
    if (child < 0) {
      write_file_safe(s.exit.c_str(), s.exit_tmp.c_str(), "exit ", 126);
      ::_exit(0);
    }
    write_file_safe(s.child_pid.c_str(), s.child_pid_tmp.c_str(), "", child);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
      write_file_safe(s.exit.c_str(), s.exit_tmp.c_str(), "signal ", WTERMSIG(status));
    } else {
      write_file_safe(s.exit.c_str(), s.exit_tmp.c_str(), "exit ", WEXITSTATUS(status));
    }
    ::_exit(0);
  }
  int st = 0;
  while (::waitpid(a, &st, 0) < 0 && errno == EINTR) {
  }
  return true;
}

// Starts a fire-and-forget helper (docker stop/kill) with no supervision.
void spawn_detached(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t a = ::fork();
  if (a == 0) {
    if (::fork() != 0) ::_exit(0);
    ::close_range(3, ~0U, 0);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0), ::dup2(null, 1), ::dup2(null, 2);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  int st = 0;
  if (a > 0) {
    while (::waitpid(a, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

std::optional<std::string> read_text(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<long long> read_number(const fs::path& p) {
  auto text = read_text(p);
  if (!text || text->empty()) return std::nullopt;
  try {
    return std::stoll(*text);
  } catch (...) {
    return std::nullopt;
  }
}

// The process's start time in clock ticks since boot (field 22 of
// /proc/<pid>/stat), which tells a live process from a reused pid.
std::optional<long long> start_ticks(long long pid) {
  auto stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return std::nullopt;
  const auto close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(stat->substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && in >> field; ++i) {
    if (i == 22) return std::stoll(field);
  }
  return std::nullopt;
}

bool alive(long long pid) {
  if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) != 0) return false;
  // A zombie is not alive.
  auto stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  const auto close = stat->rfind(')');
  return close == std::string::npos || close + 2 >= stat->size() || (*stat)[close + 2] != 'Z';
}

std::string last_line(const fs::path& p) {
  auto text = read_text(p);
  if (!text) return {};
  std::size_t end = text->find_last_not_of("\r\n");
  if (end == std::string::npos) return {};
  std::size_t start = text->rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  std::string line = text->substr(start, end - start + 1);
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

std::optional<std::string> find_in_path(const std::string& cmd, const std::string& path) {
  if (cmd.find('/') != std::string::npos) return cmd;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    const std::string dir = end == start ? "." : path.substr(start, end - start);
    const std::string candidate = dir + "/" + cmd;
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

bool safe_id(const std::string& id) {
  return !id.empty() && id.size() <= 1024 &&
         id.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
             std::string::npos &&
         id != "." && id != "..";
}

class LocalExecutor final : public Executor {
 public:
  explicit LocalExecutor(LocalExecutorOptions o) : options_(std::move(o)) {
    std::error_code ec;
    fs::create_directories(options_.work_dir, ec);
    monitor_ = std::thread([this] { loop(); });
  }

  ~LocalExecutor() override {
    {
      std::lock_guard lock(in_mu_);
      stop_ = true;
    }
    in_cv_.notify_all();
    monitor_.join();
  }

  std::string_view name() const noexcept override { return "local"; }

  void launch(const TaskLaunch& launch, TaskObserver observer) override {
    // Only the intake lock: the engine never waits for a spawn or a poll.
    {
      std::lock_guard lock(in_mu_);
      queue_.push_back({launch, std::move(observer)});
    }
    in_cv_.notify_all();
  }

  void detach(const std::string& task_id) override {
    std::lock_guard lock(mu_);
    watches_.erase(task_id);
  }

  // A task still in the intake ends CANCELLED without starting; one whose
  // supervisor has not started the command yet never starts it; a running
  // one gets SIGTERM (docker stop), then SIGKILL after kill_grace. The
  // monitor thread sends the signals and answers `done`.
  void kill(const std::string& task_id, std::function<void(Status)> done) override {
    Status result;
    {
      std::lock_guard lock(mu_);
      std::optional<Launch> queued;
      {
        std::lock_guard intake(in_mu_);
        const auto it = std::find_if(queue_.begin(), queue_.end(),
                                     [&](const Launch& l) { return l.launch.task_id == task_id; });
        if (it != queue_.end()) {
          queued = std::move(*it);
          queue_.erase(it);
        }
      }
      const fs::path dir = task_dir(task_id);
      if (queued) {
        TaskUpdate u;
        u.state = TaskState::kCancelled;
        u.upstream_id = "UNKNOWN";
        u.error_message = "killed before it started";
        report_later(std::move(queued->observer), std::move(u));
      } else if (!safe_id(task_id) || !fs::exists(dir) || fs::exists(dir / "exit")) {
        result = not_found("no running task " + task_id);
      } else {
        std::ofstream(dir / "killed") << "1\n";
        const auto it = watches_.find(task_id);
        Watch& w = it != watches_.end() ? it->second : orphan_kills_[task_id];
        if (!w.kill_at) w.kill_at = Clock::now();
      }
      completions_.emplace_back(std::move(done), std::move(result));
    }
    wake();
  }

  void cleanup(const std::string& task_id, std::function<void(Status)> done) override {
    Status result;
    {
      std::lock_guard lock(mu_);
      const fs::path dir = task_dir(task_id);
      if (!safe_id(task_id) || !fs::exists(dir)) {
        result = not_found("no task " + task_id);
      } else if (!fs::exists(dir / "exit") && fs::exists(dir / "supervisor.pid")) {
        result = failed_precondition("task " + task_id + " is still running");
      } else {
        std::error_code ec;
        fs::remove_all(dir, ec);
        watches_.erase(task_id);
        if (ec) result = internal_error("cannot remove " + dir.string() + ": " + ec.message());
      }
      completions_.emplace_back(std::move(done), std::move(result));
    }
    wake();
  }

  StatusOr<TaskLogs> logs(const std::string& task_id) override {
    const fs::path dir = task_dir(task_id);
    if (!safe_id(task_id) || !fs::exists(dir)) return not_found("no task " + task_id);
    TaskLogs logs;
    logs.readable = true;
    return logs;
  }

  // Reads <work_dir>/<taskId>/stdout.log or stderr.log. What a task may put
  // in their place is not followed: not a symbolic link (O_NOFOLLOW), not a
  // FIFO (O_NONBLOCK opens it at once; only a regular file is read).
  StatusOr<OutputChunk> read_output(const std::string& task_id, OutputStream stream,
                                    std::int64_t offset, std::size_t limit) override {
    if (offset < 0) return invalid_argument("output offset " + std::to_string(offset) + " < 0");
    if (!safe_id(task_id)) return not_found("no task " + task_id);
    const fs::path file =
        task_dir(task_id) / (stream == OutputStream::kStdout ? "stdout.log" : "stderr.log");
    const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return not_found("no output of task " + task_id);
      return internal_error("cannot read " + file.string() + ": " + std::strerror(errno));
    }
    struct stat st {};
    OutputChunk chunk;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      chunk.size = static_cast<std::int64_t>(st.st_size);
      const std::int64_t from = std::min(offset, chunk.size);
      chunk.data.resize(static_cast<std::size_t>(
          std::min<std::int64_t>(static_cast<std::int64_t>(limit), chunk.size - from)));
      std::size_t got = 0;
      while (got < chunk.data.size()) {
        const ssize_t n = ::pread(fd, chunk.data.data() + got, chunk.data.size() - got,
                                  static_cast<off_t>(from) + static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
      }
      chunk.data.resize(got);
    }
    ::close(fd);
    return chunk;
  }

 private:
  struct Launch {
    TaskLaunch launch;
    TaskObserver observer;
  };
  struct Watch {
    explicit Watch(TaskObserver o = nullptr) : observer(std::move(o)) {}
    TaskObserver observer;
    TaskState reported = TaskState::kPending;
    std::string upstream;
    std::optional<Clock::time_point> kill_at;
    bool termed = false;  // SIGTERM (docker stop) sent
    bool sigkilled = false;
    Clock::time_point since = Clock::now();
  };

  fs::path task_dir(const std::string& id) const { return fs::path(options_.work_dir) / id; }

  // What every task starts from: PATH, HOME, LANG, TZ and the pass-through
  // names, taken from this process's environment when set.
  std::map<std::string, std::string> base_environment() const {
    std::map<std::string, std::string> env{{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
    const auto take = [&](const std::string& name) {
      if (const char* v = std::getenv(name.c_str())) env[name] = v;
    };
    for (const char* name : {"PATH", "HOME", "LANG", "TZ"})
      take(name);
    for (const std::string& name : options_.env_passthrough)
      take(name);
    return env;
  }

  void wake() {
    {
      std::lock_guard lock(in_mu_);
      wake_ = true;
    }
    in_cv_.notify_all();
  }

  void loop() {
    while (true) {
      std::deque<Launch> batch;
      bool stopping = false;
      std::vector<std::pair<TaskObserver, TaskUpdate>> reports;
      std::vector<std::pair<std::function<void(Status)>, Status>> completions;
      {
        // mu_ before in_mu_: a kill sees a launch either queued or started.
        std::lock_guard lock(mu_);
        {
          std::lock_guard intake(in_mu_);
          batch.swap(queue_);
          stopping = stop_;
          wake_ = false;
        }
        // Launches accepted before the executor is destroyed are still started.
        for (Launch& l : batch)
          start(l);
        if (stopping) break;
        reports = std::move(early_);
        early_.clear();
        completions.swap(completions_);
        for (auto it = watches_.begin(); it != watches_.end();) {
          std::optional<TaskUpdate> u = check(it->first, it->second);
          if (u) {
            reports.emplace_back(it->second.observer, *u);
            if (is_terminal(u->state)) {
              it = watches_.erase(it);
              continue;
            }
          }
          ++it;
        }
        escalate_orphans();
      }
      if (!reports.empty() || !completions.empty()) {
        for (auto& [observer, update] : reports) {
          if (observer) observer(update);
        }
        for (auto& [done, status] : completions) {
          if (done) done(std::move(status));
        }
        continue;
      }
      std::unique_lock intake(in_mu_);
      in_cv_.wait_for(intake, options_.poll_interval,
                      [this] { return stop_ || wake_ || !queue_.empty(); });
    }
  }

  // REQUIRES: mu_ held. Starts or attaches.
  void start(Launch& l) {
    const std::string& id = l.launch.task_id;
    if (!safe_id(id)) {
      report_later(l.observer, failed("invalid task id '" + id + "'"));
      return;
    }
    if (const auto* f = std::get_if<FunctionTask>(&l.launch.task.spec)) {
      report_later(l.observer, failed("job '" + f->job +
                                      "' is a FUNCTION task: it runs only in a program that "
                                      "registers it (epoch/function_executor.h), not as a "
                                      "process or container"));
      return;
    }
    const fs::path dir = task_dir(id);
    std::error_code ec;
    const bool begun = fs::exists(dir / "supervisor.pid") || fs::exists(dir / "exit");
    if (begun) {
      watches_[id] = Watch(l.observer);  // attach: the next check reports its state
      return;
    }
    if (fs::exists(dir / "launched")) {
      // A launch was interrupted before its supervisor wrote its pid: if it
      // is recent, the supervisor may still be about to; else start afresh.
      const auto age = fs::file_time_type::clock::now() - fs::last_write_time(dir / "launched", ec);
      if (!ec && age < std::chrono::seconds(5)) {
        watches_[id] = Watch(l.observer);
        return;
      }
      fs::remove_all(dir, ec);
    }
    fs::create_directories(dir, ec);
    const int marker =
        ::open((dir / "launched").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (marker < 0) {
      report_later(l.observer,
                   failed("cannot create " + dir.string() + ": " + std::strerror(errno)));
      return;
    }
    ::close(marker);
    Spawn s;
    const std::string d = fs::absolute(dir).string();
    s.sup_pid = d + "/supervisor.pid";
    s.sup_pid_tmp = d + "/.supervisor.pid";
    s.child_pid = d + "/child.pid";
    s.child_pid_tmp = d + "/.child.pid";
    s.exit = d + "/exit";
    s.exit_tmp = d + "/.exit";
    s.killed = d + "/killed";
    s.stdout_path = d + "/stdout.log";
    s.stderr_path = d + "/stderr.log";
    std::map<std::string, std::string> env = base_environment();
    std::string command;
    if (const auto* p = std::get_if<ProcessTask>(&l.launch.task.spec)) {
      for (const auto& [k, v] : p->env)
        env[k] = v;
      for (const auto& [k, v] : epoch_task_env(l.launch))
        env[k] = v;
      command = p->command;
      s.args.push_back(p->command);
      s.args.insert(s.args.end(), p->args.begin(), p->args.end());
      s.cwd = p->working_directory.empty() ? d : p->working_directory;
    } else if (const auto* c = std::get_if<ContainerTask>(&l.launch.task.spec)) {
      std::ofstream(dir / "container") << "1\n";
      command = options_.docker_cli;
      if (Status bad = check_image_reference(c->executable.url); !bad.ok()) {
        // validate() refuses such a topology; this guards other callers.
        report_later(l.observer, failed("image " + bad.message()));
        return;
      }
      // Every value in a --flag=value word: none can be read as an option.
      s.args = {options_.docker_cli, "run", "--rm", "--name=" + id};
      for (const Resource& r : c->resources) {
        if (r.type == Resource::Type::kCpu) {
          s.args.push_back("--cpus=" + std::to_string(r.amount));
        } else {
          s.args.push_back("--memory=" + std::to_string(r.amount) + "m");
        }
      }
      std::map<std::string, std::string> task_env;
      if (c->env) task_env = *c->env;
      for (const auto& [k, v] : epoch_task_env(l.launch))
        task_env[k] = v;
      for (const auto& [k, v] : task_env)
        s.args.push_back("--env=" + k + "=" + v);
      if (c->volumes) {
        for (const Volume& v : *c->volumes) {
          s.args.push_back("--volume=" + v.path_on_host + ":" + v.path_in_container +
                           (v.mode == Volume::Mode::kReadOnly ? ":ro" : ""));
        }
      }
      s.args.push_back(c->executable.url);
      if (c->args) s.args.insert(s.args.end(), c->args->begin(), c->args->end());
      s.cwd = d;
    } else {
      report_later(l.observer, failed("a composite task cannot be launched"));
      return;
    }
    const auto program = find_in_path(command, env.count("PATH") ? env["PATH"] : "/usr/bin:/bin");
    if (!program) {
      std::ofstream(dir / "stderr.log") << "epoch: cannot run '" << command << "': not found\n";
      std::ofstream(dir / "exit") << "exit 127\n";
      watches_[id] = Watch(l.observer);
      return;
    }
    s.program = *program;
    s.exec_error = "epoch: cannot run '" + command + "'\n";
    for (const auto& [k, v] : env)
      s.env.push_back(k + "=" + v);
    if (!spawn(s)) {
      fs::remove_all(dir, ec);
      report_later(l.observer, failed(std::string("fork failed: ") + std::strerror(errno)));
      return;
    }
    watches_[id] = Watch(l.observer);
    watches_[id].reported = TaskState::kStarting;
    TaskUpdate starting;
    starting.state = TaskState::kStarting;
    starting.upstream_id = id;
    watches_[id].upstream = id;
    report_later(l.observer, starting);
  }

  static TaskUpdate failed(std::string why) {
    TaskUpdate u;
    u.state = TaskState::kFailed;
    u.upstream_id = "UNKNOWN";
    u.error_message = std::move(why);
    return u;
  }

  // REQUIRES: mu_ held. Queues a report for a launch that never got a watch.
  void report_later(TaskObserver observer, TaskUpdate u) {
    early_.emplace_back(std::move(observer), std::move(u));
  }

  // REQUIRES: mu_ held. The change to report, if any.
  std::optional<TaskUpdate> check(const std::string& id, Watch& w) {
    const fs::path dir = task_dir(id);
    TaskUpdate u;
    const auto child = read_number(dir / "child.pid");
    u.upstream_id = child ? "pid " + std::to_string(*child) : id;
    if (auto exit = read_text(dir / "exit")) {
      std::istringstream in(*exit);
      std::string kind;
      int code = 0;
      in >> kind >> code;
      const bool killed = fs::exists(dir / "killed");
      const std::string err = last_line(dir / "stderr.log");
      if (kind == "signal") {
        u.exit_code = 128 + code;
        u.state = killed ? TaskState::kCancelled : TaskState::kFailed;
        u.error_message = killed ? "killed" : "killed by signal " + std::to_string(code);
      } else if (code == 0 && !killed) {
        u.exit_code = 0;
        u.state = TaskState::kCompleted;
      } else {
        u.exit_code = code;
        u.state = killed ? TaskState::kCancelled : TaskState::kFailed;
        u.error_message = killed ? "killed" : "exit code " + std::to_string(code);
      }
      if (u.state == TaskState::kFailed && !err.empty()) u.error_message += ": " + err;
      return u;
    }
    escalate(id, w, child);
    const auto sup = read_number(dir / "supervisor.pid");
    if (sup) {
      auto recorded = read_number(dir / "supervisor.start");
      if (!recorded) {
        if (auto ticks = start_ticks(*sup)) {
          std::ofstream(dir / "supervisor.start") << *ticks << "\n";
          recorded = ticks;
        }
      }
      const bool same = recorded && start_ticks(*sup) == recorded;
      if (!alive(*sup) || !same) {
        if (fs::exists(dir / "exit")) return std::nullopt;  // it just finished
        TaskUpdate lost = failed("the task's supervisor process " + std::to_string(*sup) +
                                 " vanished without recording an exit (lost)");
        lost.upstream_id = u.upstream_id;
        return lost;
      }
    }
    u.state = child ? TaskState::kRunning : TaskState::kStarting;
    if (u.state == w.reported && u.upstream_id == w.upstream) return std::nullopt;
    w.reported = u.state;
    w.upstream = u.upstream_id;
    return u;
  }

  // REQUIRES: mu_ held. A killed task's command gets SIGTERM once it has
  // a pid, SIGKILL after the grace time.
  void escalate(const std::string& id, Watch& w, std::optional<long long> child) {
    if (!w.kill_at || w.sigkilled || !child) return;
    if (!w.termed) {
      w.termed = true;
      if (fs::exists(task_dir(id) / "container")) {
        const std::string grace =
            std::to_string(std::max<long long>(1, options_.kill_grace.count() / 1000));
        spawn_detached({options_.docker_cli, "stop", "-t", grace, id});
      }
      ::kill(static_cast<pid_t>(-*child), SIGTERM);
    }
    if (Clock::now() - *w.kill_at < options_.kill_grace) return;
    w.sigkilled = true;
    if (fs::exists(task_dir(id) / "container")) spawn_detached({options_.docker_cli, "kill", id});
    ::kill(static_cast<pid_t>(-*child), SIGKILL);
  }

  void escalate_orphans() {
    for (auto it = orphan_kills_.begin(); it != orphan_kills_.end();) {
      Watch& w = it->second;
      const auto child = read_number(task_dir(it->first) / "child.pid");
      if (fs::exists(task_dir(it->first) / "exit")) {
        it = orphan_kills_.erase(it);
        continue;
      }
      escalate(it->first, w, child);
      it = w.sigkilled ? orphan_kills_.erase(it) : std::next(it);
    }
  }

  const LocalExecutorOptions options_;
  std::mutex mu_;  // the task directories, watches_, orphan_kills_, early_
  // The intake: launches wait here for the monitor thread, which is woken
  // by a launch, a kill or the destructor.
  std::mutex in_mu_;
  std::condition_variable in_cv_;
  bool stop_ = false;
  bool wake_ = false;
  std::deque<Launch> queue_;
  std::map<std::string, Watch> watches_;
  std::map<std::string, Watch> orphan_kills_;  // killed tasks no observer watches
  std::vector<std::pair<TaskObserver, TaskUpdate>> early_;
  std::vector<std::pair<std::function<void(Status)>, Status>> completions_;  // kill, cleanup
  std::thread monitor_;
};

}  // namespace

std::unique_ptr<Executor> make_local_executor(LocalExecutorOptions options) {
  return std::make_unique<LocalExecutor>(std::move(options));
}

}  // namespace epoch
