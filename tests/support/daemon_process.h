// Test support: epochd as a child process in a working directory of its
// own, on a free port it picks itself (--port 0; the port is read from its
// "epochd listening" log line).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace epoch::test {

// Calls `f` every `interval` until it returns true or `limit` has passed;
// returns its last answer.
bool eventually(const std::function<bool()>& f,
                std::chrono::milliseconds limit = std::chrono::seconds(15),
                std::chrono::milliseconds interval = std::chrono::milliseconds(50));

// A fresh empty directory under /tmp (removed by the caller if wanted).
std::string make_temp_dir(const std::string& prefix);

// Starts `binary` with `args` in `work_dir` (empty: here), standard input
// from /dev/null, standard output and error appended to `out` and `err`
// (which may be the same file). Returns the child's pid; throws
// std::runtime_error when fork fails.
pid_t spawn_process(const std::string& binary, const std::vector<std::string>& args,
                    const std::string& work_dir, const std::string& out, const std::string& err);

// Makes a test CA and a server certificate it signed, for localhost and
// 127.0.0.1, in `dir`: ca.pem, server.pem (the chain), server.key. Uses the
// openssl command. Throws std::runtime_error when it fails.
void make_test_certificates(const std::string& dir);

class DaemonProcess {
 public:
  // Starts `binary` with `args` (plus --port 0 unless args name a port) in
  // `work_dir`, with stdout/stderr in work_dir/epochd.{out,err}; waits until
  // it listens. Throws std::runtime_error when it does not within 20 s.
  DaemonProcess(std::string binary, std::string work_dir, std::vector<std::string> args = {});
  // Kills the process (SIGKILL) if it still runs.
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // SIGTERM, then waits; returns the exit status (128 + signal if killed).
  int terminate(std::chrono::milliseconds wait = std::chrono::seconds(20));
  // SIGKILL, then waits.
  void kill9();
  // What it wrote to stderr so far.
  std::string log() const;

 private:
  int wait_exit(std::chrono::milliseconds wait);

  std::string work_dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace epoch::test
