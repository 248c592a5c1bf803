#include "notify_common.h"

#include <curl/curl.h>

#include <algorithm>
#include <vector>

namespace epoch::notify {

std::string event_name(const Event& e) {
  if (e.type != Event::Type::kRunStateChanged || !e.run_state) return "";
  switch (*e.run_state) {
    case RunState::kRunning:
      return "";
    case RunState::kSuccessful:
    case RunState::kCompleted:
      return "RUN_SUCCEEDED";
    case RunState::kFailed:
      return e.message.find("timed out") != std::string::npos ? "RUN_TIMED_OUT" : "RUN_FAILED";
    case RunState::kMissed:
      return "RUN_MISSED";
    case RunState::kSkipped:
      return "RUN_SKIPPED";
  }
  return "";
}

const std::vector<std::string>* topology_events(const Event& e) {
  if (!e.topology || !e.topology->notify) return nullptr;
  const NotifyRouting& r = routing_of(*e.topology->notify);
  return r.events ? &*r.events : nullptr;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

LongRunWatcher::LongRunWatcher(std::chrono::milliseconds after, std::function<void(Event)> due)
    : after_(after), due_(std::move(due)) {
  if (after_.count() > 0) thread_ = std::thread([this] { loop(); });
}

LongRunWatcher::~LongRunWatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LongRunWatcher::on_event(const Event& e) {
  if (after_.count() <= 0 || e.type != Event::Type::kRunStateChanged || !e.run_state) return;
  const std::string key = e.topology_id + "/" + e.run_id;
  std::lock_guard lock(mu_);
  if (*e.run_state == RunState::kRunning) {
    running_[key] = {Steady::now() + after_, e};
    cv_.notify_all();
  } else {
    running_.erase(key);
  }
}

void LongRunWatcher::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto next = Steady::now() + std::chrono::hours(1);
    std::vector<Event> due;
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second.first <= Steady::now()) {
        due.push_back(std::move(it->second.second));
        it = running_.erase(it);
      } else {
        next = std::min(next, it->second.first);
        ++it;
      }
    }
    if (!due.empty()) {
      lock.unlock();
      for (Event& e : due) {
        e.message = "still running after " + std::to_string(after_.count()) + " ms";
        due_(std::move(e));
      }
      lock.lock();
      continue;
    }
    cv_.wait_until(lock, next);
  }
}

}  // namespace epoch::notify
