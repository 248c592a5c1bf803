// Shared by the notifiers (webhooks, mail): which notification a run event
// is, whether a topology wants it, and the watcher that raises
// RUN_RUNNING_LONG for runs still going after a threshold.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "epoch/events.h"

namespace epoch::notify {

// RUN_SUCCEEDED, RUN_FAILED, RUN_TIMED_OUT, RUN_MISSED, RUN_SKIPPED for a
// final run state; "" for anything else (a RUNNING run, non-run events).
std::string event_name(const Event& e);

// The topology's own selection (notify.events), or null when it has none.
const std::vector<std::string>* topology_events(const Event& e);

bool contains(const std::vector<std::string>& v, const std::string& s);

// Lower-case hex of `n` bytes (signatures, message ids).
std::string to_hex(const unsigned char* data, std::size_t n);

// libcurl's global initialisation, once per process.
void init_curl();

// Calls `due` (on its own thread) with a copy of the RUNNING event of every
// run that has not finished `after` it started. A zero `after` disables it.
class LongRunWatcher {
 public:
  LongRunWatcher(std::chrono::milliseconds after, std::function<void(Event)> due);
  ~LongRunWatcher();
  LongRunWatcher(const LongRunWatcher&) = delete;
  LongRunWatcher& operator=(const LongRunWatcher&) = delete;

  // Feed every run event: RUNNING starts the clock, a final state stops it.
  void on_event(const Event& e);

 private:
  void loop();

  using Steady = std::chrono::steady_clock;
  const std::chrono::milliseconds after_;
  const std::function<void(Event)> due_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::pair<Steady::time_point, Event>> running_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace epoch::notify
