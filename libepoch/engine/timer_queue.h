// Private: the engine's timers — entries (instant, kind, key) in time
// order. The shell (scheduler.cpp) arms one Clock timer for the earliest
// entry and, when it rings, takes out what is due. Entries are never
// removed early: each carries the generation of what it is about, and a
// stale one is ignored when it comes due. Not thread-safe: the strand owns it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace epoch::engine {

enum class DueKind : std::uint8_t {
  kFire,            // key: a topology handle; nominal: the fire it stands for
  kRetry,           // key: a run handle; task: the task to launch again
  kTaskTimeout,     // key: a run handle; task: the task that ran too long
  kUnknownTimeout,  // key: a run handle; task: the task the executor does not know
  kRetention,       // prune finished runs
  kRunningLong,     // key: a run handle
  kWaitExpiry,      // key: a run handle queued behind live runs
};

struct Due {
  std::int64_t at = 0;  // epoch ms
  DueKind kind = DueKind::kFire;
  std::uint64_t key = 0;
  std::uint64_t gen = 0;
  std::string task;
  std::int64_t nominal = 0;  // kFire: the nominal fire instant (epoch ms)
};

class TimerQueue {
 public:
  // Queues `d`; returns true when it is now the earliest entry.
  bool push(Due d) {
    const std::int64_t at = d.at;
    due_[at].push_back(std::move(d));
    return due_.begin()->first == at;
  }

  // The earliest instant queued (epoch ms), if any.
  std::optional<std::int64_t> earliest() const {
    if (due_.empty()) return std::nullopt;
    return due_.begin()->first;
  }

  // Calls `f` for every entry due at or before `now_ms`: in time order, and
  // entries of one instant in the order they were queued. Entries queued by
  // `f` that are due already are handled in this call too (after the
  // instant being handled).
  void take_due(std::int64_t now_ms, const std::function<void(Due&)>& f) {
    while (!due_.empty() && due_.begin()->first <= now_ms) {
      auto bucket = due_.extract(due_.begin());
      for (Due& d : bucket.mapped())
        f(d);
    }
  }

  void clear() { due_.clear(); }
  std::size_t size() const {
    std::size_t n = 0;
    for (const auto& [at, entries] : due_)
      n += entries.size();
    return n;
  }

 private:
  std::map<std::int64_t, std::vector<Due>> due_;
};

}  // namespace epoch::engine
