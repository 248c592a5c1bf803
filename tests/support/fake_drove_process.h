// Test support: the fake Drove controller (tests/fakes/fake_drove) as a
// child process, with N controller ports sharing one task database.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "epoch/executor.h"

namespace epoch::test {

// The launch of a container task "main" of topology "t", run `run_id`
// (task id "t-<run_id>-main"), for tests that drive a DroveExecutor
// directly.
epoch::TaskLaunch busybox_launch(const std::string& run_id);

class FakeDroveProcess {
 public:
  // Starts `binary` with `args` (plus --ports `controllers`); waits until it
  // listens (throws std::runtime_error after 10 s).
  FakeDroveProcess(const std::string& binary, int controllers = 1,
                   std::vector<std::string> args = {});
  ~FakeDroveProcess();
  FakeDroveProcess(const FakeDroveProcess&) = delete;
  FakeDroveProcess& operator=(const FakeDroveProcess&) = delete;

  const std::vector<std::uint16_t>& ports() const { return ports_; }
  // "http://127.0.0.1:p1,http://127.0.0.1:p2", for --drove-endpoints.
  std::string endpoints() const;
  // Accepted CREATEs per task id (from /fake/launches).
  std::map<std::string, int> accepted() const;
  // A counter from /fake/launches: "apiCalls", "statusCalls", "deletes".
  std::int64_t count(const std::string& name) const;
  // Makes controller `i` the leader.
  void set_leader(int i) const;
  // POST /fake/faults?<query>, e.g. "status500=3" or "drop=2".
  void fault(const std::string& query) const;

 private:
  std::string dir_;
  pid_t pid_ = -1;
  std::vector<std::uint16_t> ports_;
};

}  // namespace epoch::test
