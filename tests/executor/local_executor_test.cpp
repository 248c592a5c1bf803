// LocalExecutor with real child processes and a stand-in docker CLI.
#include "epoch/local_executor.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

using namespace epoch;
namespace fs = std::filesystem;

namespace {

// Collects what an observer saw.
struct Seen {
  std::mutex mu;
  std::vector<TaskUpdate> updates;
  TaskObserver observer() {
    return [this](const TaskUpdate& u) {
      std::lock_guard lock(mu);
      updates.push_back(u);
    };
  }
  std::optional<TaskUpdate> last() {
    std::lock_guard lock(mu);
    if (updates.empty()) return std::nullopt;
    return updates.back();
  }
  std::vector<TaskState> states() {
    std::lock_guard lock(mu);
    std::vector<TaskState> out;
    for (const auto& u : updates)
      out.push_back(u.state);
    return out;
  }
};

// Waits (up to 20 s of real time) until the observer reports a terminal state.
TaskUpdate wait_terminal(Seen& seen) {
  for (int i = 0; i < 2000; ++i) {
    if (auto u = seen.last(); u && is_terminal(u->state)) return *u;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL("no terminal state within 20 s");
  return {};
}

// What a kill or cleanup answered, and on which thread.
struct Answer {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Status> status;
  std::thread::id thread;
  std::function<void(Status)> callback() {
    return [this](Status s) {
      std::lock_guard lock(mu);
      status = std::move(s);
      thread = std::this_thread::get_id();
      cv.notify_all();
    };
  }
  // The answer (up to 20 s), which never comes on the caller's thread.
  Status wait() {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return status.has_value(); }));
    CHECK(thread != std::this_thread::get_id());
    return *status;
  }
};

template <typename F>
void wait_until(F condition) {
  for (int i = 0; i < 2000 && !condition(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(condition());
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Dir {
  fs::path path;
  Dir() {
    char tmpl[] = "/tmp/epoch-local-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~Dir() { fs::remove_all(path); }
};

TaskLaunch shell(const std::string& id, const std::string& script) {
  ProcessTask p;
  p.task_name = "main";
  p.command = "/bin/sh";
  p.args = {"-c", script};
  p.env = {{"GREETING", "hello"}};
  TaskLaunch l;
  l.task_id = id;
  l.topology_id = "topo";
  l.run_id = "ESR-2026-01-01-00-00-00-000";
  l.task_name = "main";
  l.scheduled_time = from_epoch_millis(1767225600000);
  l.task.spec = p;
  return l;
}

// All of a task's stream, through read_output.
std::string output(Executor& ex, const std::string& task_id,
                   OutputStream stream = OutputStream::kStdout) {
  auto c = ex.read_output(task_id, stream, 0, 1 << 20);
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  return c->data;
}

LocalExecutorOptions options(const Dir& d) {
  LocalExecutorOptions o;
  o.work_dir = d.path.string();
  o.docker_cli = EPOCH_FAKE_DOCKER;
  o.poll_interval = std::chrono::milliseconds(10);
  o.kill_grace = std::chrono::milliseconds(300);
  return o;
}

}  // namespace

TEST_CASE("a process task: output captured, environment set, exit 0 COMPLETED") {
  Dir d;
  auto ex = make_local_executor(options(d));
  Seen seen;
  ex->launch(
      shell("t1", "echo \"$GREETING $EPOCH_RUN_ID $EPOCH_SCHEDULED_TIME_MS\"; echo warn >&2"),
      seen.observer());
  const TaskUpdate u = wait_terminal(seen);
  CHECK(u.state == TaskState::kCompleted);
  CHECK(u.exit_code == 0);
  CHECK(seen.states().front() == TaskState::kStarting);
  auto logs = ex->logs("t1");
  REQUIRE(logs.ok());
  CHECK(logs->readable);
  CHECK(output(*ex, "t1") == "hello ESR-2026-01-01-00-00-00-000 1767225600000\n");
  CHECK(output(*ex, "t1", OutputStream::kStderr) == "warn\n");
  Answer cleaned;
  ex->cleanup("t1", cleaned.callback());
  CHECK(cleaned.wait().ok());
  CHECK_FALSE(fs::exists(d.path / "t1"));
  CHECK(ex->logs("t1").status().code() == StatusCode::kNotFound);
  CHECK(ex->read_output("t1", OutputStream::kStdout, 0, 10).status().code() ==
        StatusCode::kNotFound);
}

TEST_CASE("read_output: pieces by offset and limit; no path out of the task's directory") {
  Dir d;
  auto ex = make_local_executor(options(d));
  Seen seen;
  ex->launch(shell("t2", "printf 0123456789"), seen.observer());
  CHECK(wait_terminal(seen).state == TaskState::kCompleted);
  auto c = ex->read_output("t2", OutputStream::kStdout, 3, 4);
  REQUIRE(c.ok());
  CHECK(c->data == "3456");
  CHECK(c->size == 10);
  c = ex->read_output("t2", OutputStream::kStdout, 8, 100);
  CHECK(c->data == "89");
  c = ex->read_output("t2", OutputStream::kStdout, 50, 100);  // past the end: nothing
  CHECK(c->data.empty());
  CHECK(c->size == 10);
  CHECK(ex->read_output("t2", OutputStream::kStdout, -1, 4).status().code() ==
        StatusCode::kInvalidArgument);
  for (const char* id : {"../t2", "t2/../t2", "", ".", "..", "/etc/passwd"})
    CHECK_MESSAGE(
        ex->read_output(id, OutputStream::kStdout, 0, 4).status().code() == StatusCode::kNotFound,
        id);

  // What a task may leave in place of its output files is not followed.
  std::ofstream(d.path / "secret") << "not for readers";
  fs::remove(d.path / "t2" / "stdout.log");
  fs::create_symlink(d.path / "secret", d.path / "t2" / "stdout.log");
  CHECK_FALSE(ex->read_output("t2", OutputStream::kStdout, 0, 100).ok());
  fs::remove(d.path / "t2" / "stderr.log");
  REQUIRE(::mkfifo((d.path / "t2" / "stderr.log").c_str(), 0600) == 0);
  c = ex->read_output("t2", OutputStream::kStderr, 0, 100);  // at once, not blocked on the FIFO
  REQUIRE(c.ok());
  CHECK(c->data.empty());
}

TEST_CASE("a task starts from a minimal environment, not the executor's process's") {
  Dir d;
  ::setenv("EPOCH_TEST_SECRET", "do-not-leak", 1);
  ::setenv("EPOCH_TEST_SHARED", "shared-value", 1);
  LocalExecutorOptions o = options(d);
  o.env_passthrough = {"EPOCH_TEST_SHARED"};
  auto ex = make_local_executor(o);
  Seen seen;
  ex->launch(shell("env", "env | sort"), seen.observer());
  CHECK(wait_terminal(seen).state == TaskState::kCompleted);
  ::unsetenv("EPOCH_TEST_SECRET");
  ::unsetenv("EPOCH_TEST_SHARED");
  const std::string env = output(*ex, "env");
  CHECK(env.find("do-not-leak") == std::string::npos);
  CHECK(env.find("EPOCH_TEST_SHARED=shared-value\n") != std::string::npos);
  CHECK(env.find("GREETING=hello\n") != std::string::npos);
  CHECK(env.find("EPOCH_RUN_ID=ESR-2026-01-01-00-00-00-000\n") != std::string::npos);
  CHECK(env.find("PATH=") != std::string::npos);
  // Nothing but the base, the pass-through, the task's own and EPOCH_* run variables.
  std::istringstream lines(env);
  for (std::string line; std::getline(lines, line);) {
    const std::string name = line.substr(0, line.find('='));
    INFO(line);
    CHECK((name == "PATH" || name == "HOME" || name == "LANG" || name == "TZ" ||
           name == "EPOCH_TEST_SHARED" || name == "GREETING" || name.rfind("EPOCH_", 0) == 0 ||
           name == "PWD" || name == "SHLVL" || name == "_"));  // (the last three: sh's own)
  }
}

TEST_CASE("failures: an exit code, a program that does not exist") {
  Dir d;
  auto ex = make_local_executor(options(d));
  Seen a, b;
  ex->launch(shell("fail", "echo 'disk full' >&2; exit 3"), a.observer());
  TaskLaunch missing = shell("missing", "");
  std::get<ProcessTask>(missing.task.spec).command = "no-such-program-epoch";
  ex->launch(missing, b.observer());
  const TaskUpdate ua = wait_terminal(a);
  CHECK(ua.state == TaskState::kFailed);
  CHECK(ua.exit_code == 3);
  CHECK(ua.error_message == "exit code 3: disk full");
  const TaskUpdate ub = wait_terminal(b);
  CHECK(ub.state == TaskState::kFailed);
  CHECK(ub.exit_code == 127);
  CHECK(ub.error_message == "exit code 127: epoch: cannot run 'no-such-program-epoch': not found");
}

// Children of this process that have ended and not been reaped.
std::vector<std::string> zombie_children() {
  std::vector<std::string> out;
  for (const auto& t : fs::directory_iterator("/proc/self/task")) {
    std::istringstream pids(slurp(t.path() / "children"));
    for (std::string pid; pids >> pid;) {
      const std::string stat = slurp(fs::path("/proc") / pid / "stat");
      const auto paren = stat.rfind(')');
      if (paren != std::string::npos && stat.compare(paren + 2, 1, "Z") == 0) out.push_back(pid);
    }
  }
  return out;
}

TEST_CASE("a command that cannot start: not executable, no working directory; nothing is left") {
  Dir d;
  auto ex = make_local_executor(options(d));
  const fs::path garbage = d.path / "garbage";
  std::ofstream(garbage) << "\x7f not a program\n";
  fs::permissions(garbage, fs::perms::owner_all);
  TaskLaunch bad = shell("bad", "");
  std::get<ProcessTask>(bad.task.spec).command = garbage.string();
  std::get<ProcessTask>(bad.task.spec).args = {};
  TaskLaunch nowhere = shell("nowhere", "echo never");
  std::get<ProcessTask>(nowhere.task.spec).working_directory = (d.path / "no-such-dir").string();
  Seen a, b;
  ex->launch(bad, a.observer());
  ex->launch(nowhere, b.observer());
  const TaskUpdate ua = wait_terminal(a);
  CHECK(ua.state == TaskState::kFailed);
  CHECK(ua.exit_code == 127);
  CHECK(ua.error_message == "exit code 127: epoch: cannot run '" + garbage.string() + "'");
  const TaskUpdate ub = wait_terminal(b);
  CHECK(ub.state == TaskState::kFailed);
  CHECK(ub.exit_code == 126);
  CHECK(ub.error_message == "exit code 126: epoch: cannot change to the working directory");
  // The supervisors are this process's children while they run; the
  // executor reaps them.
  std::vector<Seen> many(20);
  for (std::size_t i = 0; i < many.size(); ++i)
    ex->launch(shell("quick" + std::to_string(i), "exit 0"), many[i].observer());
  for (Seen& s : many)
    CHECK(wait_terminal(s).state == TaskState::kCompleted);
  wait_until([] { return zombie_children().empty(); });
}

TEST_CASE("kill: SIGTERM, then SIGKILL after the grace time; the task is CANCELLED") {
  Dir d;
  auto ex = make_local_executor(options(d));
  Seen polite, stubborn;
  ex->launch(shell("polite", "sleep 30"), polite.observer());
  ex->launch(shell("stubborn", "trap '' TERM; while true; do sleep 0.05; done"),
             stubborn.observer());
  wait_until([&] { return polite.last() && polite.last()->state == TaskState::kRunning; });
  wait_until([&] { return stubborn.last() && stubborn.last()->state == TaskState::kRunning; });
  Answer k1, k2;
  ex->kill("polite", k1.callback());
  ex->kill("stubborn", k2.callback());
  CHECK(k1.wait().ok());
  CHECK(k2.wait().ok());
  CHECK(wait_terminal(polite).state == TaskState::kCancelled);
  const TaskUpdate u = wait_terminal(stubborn);
  CHECK(u.state == TaskState::kCancelled);
  Answer again;
  ex->kill("polite", again.callback());
  CHECK(again.wait().code() == StatusCode::kNotFound);
}

TEST_CASE("a kill while the launch is in flight: the command never starts; CANCELLED") {
  Dir d;
  LocalExecutorOptions o = options(d);
  o.poll_interval = std::chrono::milliseconds(200);
  const fs::path ran = d.path / "ran";
  int from_intake = 0;
  // Many times over, so the kill lands in each window: in the intake,
  // between the supervisor's start and the command's, and running.
  for (int i = 0; i < 30; ++i) {
    Seen seen;
    auto ex = make_local_executor(o);
    const std::string id = "early-" + std::to_string(i);
    ex->launch(shell(id, "touch '" + ran.string() + "-" + id + "'; sleep 30"), seen.observer());
    if (i % 3 != 0) std::this_thread::sleep_for(std::chrono::microseconds(200 * i));
    Answer k;
    ex->kill(id, k.callback());
    INFO("kill ", i, ": ", k.wait().message());
    CHECK(k.wait().ok());
    const TaskUpdate u = wait_terminal(seen);
    CHECK(u.state == TaskState::kCancelled);
    // Taken from the intake (the kill came first, as it mostly does
    // straight after launch()): nothing of it ever started.
    if (u.error_message == "killed before it started") {
      ++from_intake;
      CHECK_FALSE(fs::exists(d.path / id));
      CHECK_FALSE(fs::exists(ran.string() + "-" + id));
    }
  }
  MESSAGE(from_intake << " of 30 kills took the launch from the intake");
}

TEST_CASE("a task survives the executor: a new executor attaches instead of starting it again") {
  Dir d;
  const fs::path marker = d.path / "ran";
  const std::string script = "echo once >> " + marker.string() + "; sleep 0.5";
  {
    Seen seen;  // outlives the executor, which may still report while it goes
    auto first = make_local_executor(options(d));
    first->launch(shell("survivor", script), seen.observer());
    wait_until([&] { return seen.last() && seen.last()->state == TaskState::kRunning; });
  }  // the engine goes away while the task runs
  auto second = make_local_executor(options(d));
  Seen seen;
  second->launch(shell("survivor", script), seen.observer());
  CHECK(wait_terminal(seen).state == TaskState::kCompleted);
  CHECK(slurp(marker) == "once\n");

  // An exit recorded while no executor was watching is reported on attach.
  {
    Seen s3;
    auto third = make_local_executor(options(d));
    third->launch(shell("quick", "exit 4"), s3.observer());
  }
  wait_until([&] { return fs::exists(d.path / "quick" / "exit"); });
  auto fourth = make_local_executor(options(d));
  Seen s4;
  fourth->launch(shell("quick", "exit 4"), s4.observer());
  CHECK(wait_terminal(s4).exit_code == 4);
}

TEST_CASE("container tasks go through the docker CLI") {
  Dir d;
  const std::string log = (d.path / "docker.log").string();
  ::setenv("FAKE_DOCKER_LOG", log.c_str(), 1);
  LocalExecutorOptions o = options(d);
  o.env_passthrough = {"FAKE_DOCKER_LOG"};  // tasks get no other variable of ours
  auto ex = make_local_executor(o);
  ContainerTask c;
  c.task_name = "box";
  c.executable.url = "busybox:1.36";
  c.resources = {{Resource::Type::kCpu, 2}, {Resource::Type::kMemory, 512}};
  c.env = std::map<std::string, std::string>{{"MODE", "daily"}};
  c.volumes = std::vector<Volume>{{"/data", "/mnt/data", Volume::Mode::kReadOnly}};
  c.args = std::vector<std::string>{"--verbose"};
  TaskLaunch l = shell("box-1", "");
  l.task_name = "box";
  l.task.spec = c;
  Seen seen;
  ex->launch(l, seen.observer());
  CHECK(wait_terminal(seen).state == TaskState::kCompleted);
  const std::string args = slurp(log);
  // Every value in a --flag=value word, so none can be read as an option.
  CHECK(args.find("run --rm --name=box-1 --cpus=2 --memory=512m") == 0);
  CHECK(args.find("--env=EPOCH_RUN_ID=ESR-2026-01-01-00-00-00-000") != std::string::npos);
  CHECK(args.find("--env=MODE=daily") != std::string::npos);
  CHECK(args.find("--volume=/mnt/data:/data:ro busybox:1.36 --verbose") != std::string::npos);
  CHECK(output(*ex, "box-1") == "hello from busybox:1.36 --verbose\n");

  SUBCASE("an image that is a docker option never reaches the CLI") {
    std::get<ContainerTask>(l.task.spec).executable.url = "--privileged";
    l.task_id = "box-0";
    Seen s0;
    ex->launch(l, s0.observer());
    const TaskUpdate u = wait_terminal(s0);
    CHECK(u.state == TaskState::kFailed);
    CHECK(u.error_message.find("would be read as a docker option") != std::string::npos);
    CHECK(slurp(log).find("--privileged") == std::string::npos);
  }
  SUBCASE("an image that cannot be pulled is a failure") {
    std::get<ContainerTask>(l.task.spec).executable.url = "pull-fail";
    l.task_id = "box-2";
    Seen s2;
    ex->launch(l, s2.observer());
    const TaskUpdate u = wait_terminal(s2);
    CHECK(u.state == TaskState::kFailed);
    CHECK(u.error_message == "exit code 125: Unable to find image 'pull-fail:latest' locally");
  }
  SUBCASE("kill stops the container") {
    std::get<ContainerTask>(l.task.spec).executable.url = "sleeper";
    l.task_id = "box-3";
    Seen s3;
    ex->launch(l, s3.observer());
    wait_until([&] { return fs::exists(log + ".box-3.pid"); });
    Answer k;
    ex->kill("box-3", k.callback());
    CHECK(k.wait().ok());
    CHECK(wait_terminal(s3).state == TaskState::kCancelled);
    wait_until([&] { return slurp(log).find("stop -t 1 box-3") != std::string::npos; });
  }
}
