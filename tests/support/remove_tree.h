// Test support: removes a directory that processes a test started may still
// write to for a moment (a task ending after its executor or daemon went).
#pragma once

#include <chrono>
#include <filesystem>
#include <system_error>
#include <thread>

namespace epoch::test {

// Tries for up to three seconds; returns whether `dir` is gone.
inline bool remove_tree_eventually(const std::filesystem::path& dir) {
  std::error_code ec;
  for (int tries = 0; tries < 30; ++tries) {
    std::filesystem::remove_all(dir, ec);
    if (!ec && !std::filesystem::exists(dir)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace epoch::test
