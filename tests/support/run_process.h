// Test support: run a program as a child process and capture what it does.
#pragma once

#include <string>
#include <vector>

namespace epoch::test {

struct ProcessResult {
  int exit_code = -1;  // exit status, or 128 + signal
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] is a path) with `input` on its standard input and
// waits for it. Output goes through temporary files, so no pipe can fill up.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = "");

}  // namespace epoch::test
