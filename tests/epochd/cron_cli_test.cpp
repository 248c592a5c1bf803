// `epochd cron ...` as a user runs it: a child process, its output and exit code.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "daemon_process.h"
#include "run_process.h"

using epoch::test::run_process;

TEST_CASE("cron next prints UTC and local times, one per line") {
  const auto r = run_process({EPOCHD_BINARY, "cron", "next", "0 30 2 * * ?", "--tz",
                              "America/New_York", "--after", "2026-03-07T00:00:00Z", "-n", "3"});
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "2026-03-07T07:30:00.000Z  2026-03-07T02:30:00-05:00\n"
        "2026-03-09T06:30:00.000Z  2026-03-09T02:30:00-04:00\n"
        "2026-03-10T06:30:00.000Z  2026-03-10T02:30:00-04:00\n");
  CHECK(r.err.empty());
}

TEST_CASE("cron next says when the schedule ends") {
  const auto r = run_process({EPOCHD_BINARY, "cron", "next", "0 0 12 1 1 ? 2027", "--after",
                              "2026-06-01T00:00:00Z", "-n", "3"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "2027-01-01T12:00:00.000Z  2027-01-01T12:00:00Z\n");
  CHECK(r.err == "no further fire time up to the end of 2126\n");
}

TEST_CASE("bad input: error on stderr, exit code 2, nothing on stdout") {
  struct Case {
    std::vector<std::string> args;
    const char* err_part;
  };
  for (const Case& c : std::vector<Case>{
           {{"cron", "next", "0 0 25 * * ?"}, "hours must be 0-23"},
           {{"cron", "next", "0 0 1 * * ?", "--tz", "Mars/Base"}, "unknown time zone 'Mars/Base'"},
           {{"cron", "next", "0 0 1 * * ?", "--after", "tomorrow"}, "invalid instant 'tomorrow'"},
           {{"cron", "next", "0 0 1 * * ?", "-n", "0"}, "-n must be 1-10000"},
           {{"cron", "next", "0 0 1 * * ?", "--bogus"}, "unrecognised option"},
           {{"cron", "next"}, "'--expr' is required"},
           {{"cron", "frobnicate"}, "unknown command 'frobnicate'"},
           {{"cron"}, "usage: epochd cron"},
       }) {
    std::vector<std::string> argv{EPOCHD_BINARY};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto r = run_process(argv);
    INFO(c.args.back() << " -> " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find(c.err_part) != std::string::npos);
  }
}

TEST_CASE("cron describe") {
  const auto r = run_process({EPOCHD_BINARY, "cron", "describe", "0 15 10 ? * 6L"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "at 10:15:00, on the last Friday of the month\n");
}

TEST_CASE("cron check reads vector lines and writes one result line each") {
  const std::string input =
      R"({"id":"a","expr":"0 0 12 * * ?","tz":"UTC","start_ms":1767225600000,"n":2})"
      "\n"
      R"({"id":"b","expr":"0 0 12 * * * *","tz":"UTC","start_ms":0,"n":2})"
      "\n"
      "not json\n"
      R"({"id":"c","expr":"0 0 12 1 1 ? 2026","tz":"UTC","start_ms":1767225600000,"n":3})"
      "\n";
  const auto r = run_process({EPOCHD_BINARY, "cron", "check"}, input);
  CHECK(r.exit_code == 0);
  CHECK(
      r.out ==
      R"({"id":"a","valid":true,"error":null,"next_ms":[1767268800000,1767355200000],"exhausted":false})"
      "\n"
      R"x({"id":"b","valid":false,"error":"cron expression, characters 8-12 '* * *': one of day-of-month and day-of-week must be '?' (Quartz cannot combine a day of the month with a day of the week)","next_ms":[],"exhausted":false})x"
      "\n"
      R"({"id":null,"valid":false,"error":"input line: malformed JSON: syntax error","next_ms":[],"exhausted":false})"
      "\n"
      R"({"id":"c","valid":true,"error":null,"next_ms":[1767268800000],"exhausted":true})"
      "\n");
}

TEST_CASE("epochd itself: help, version, unknown command") {
  CHECK(run_process({EPOCHD_BINARY, "--help"}).out.find("usage: epochd") == 0);
  CHECK(run_process({EPOCHD_BINARY, "--version"}).out == "epochd 0.1.0\n");
  const auto r = run_process({EPOCHD_BINARY, "serve-the-moon"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("unknown command") != std::string::npos);
}

TEST_CASE("a process a test starts dies with the test, even when the test aborts") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t test = ::fork();
  REQUIRE(test >= 0);
  if (test == 0) {  // the "test": starts a long-lived process, then crashes
    ::close(fds[0]);
    const std::string dir = epoch::test::make_temp_dir("spawn-dies");
    const pid_t child =
        epoch::test::spawn_process("sleep", {"600"}, dir, dir + "/out", dir + "/out");
    (void)!::write(fds[1], &child, sizeof child);
    ::kill(::getpid(), SIGKILL);  // a crash no handler sees
    ::_exit(1);
  }
  ::close(fds[1]);
  pid_t child = -1;
  REQUIRE(::read(fds[0], &child, sizeof child) == static_cast<ssize_t>(sizeof child));
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(test, &status, 0) == test);
  CHECK(WIFSIGNALED(status));
  // The orphan got SIGKILL when its parent died: gone, or a zombie its new
  // parent has not reaped yet.
  const auto dead = [&] {
    if (::kill(child, 0) != 0) return true;
    std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
  };
  const bool gone = epoch::test::eventually(dead, std::chrono::seconds(10));
  if (!gone) ::kill(child, SIGKILL);
  CHECK(gone);
}
