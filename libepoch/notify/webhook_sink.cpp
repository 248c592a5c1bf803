#include "epoch/webhook_sink.h"

#include <curl/curl.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace epoch {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Delivery {
  std::string id, event, body;
};

std::string hex_hmac(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

// One URL: a queue and the thread that empties it, in order.
class Target {
 public:
  Target(std::string url, const WebhookOptions& o) : url_(std::move(url)), options_(o) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Target() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      abort_ = true;  // a transfer in progress stops at its next progress call
    }
    cv_.notify_all();
    thread_.join();
  }
  void push(Delivery d) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(d));
    }
    cv_.notify_one();
  }

 private:
  // One attempt: "" when delivered, else why not.
  std::string post(CURL* curl, const Delivery& d) {
    curl_easy_reset(curl);
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, ("X-Epoch-Event: " + d.event).c_str());
    headers = curl_slist_append(headers, ("X-Epoch-Delivery: " + d.id).c_str());
    if (!options_.secret.empty()) {
      headers = curl_slist_append(
          headers, ("X-Epoch-Signature: sha256=" + hex_hmac(options_.secret, d.body)).c_str());
    }
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, d.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(d.body.size()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &discard);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION,
                     +[](void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
                       return static_cast<Target*>(self)->abort_.load() ? 1 : 0;
                     });
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
    if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
    const CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) return curl_easy_strerror(rc);
    if (status < 200 || status >= 300) return "HTTP " + std::to_string(status);
    return "";
  }

  void loop() {
    CURL* curl = curl_easy_init();
    while (true) {
      Delivery d;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) break;
        d = std::move(queue_.front());
        queue_.pop_front();
      }
      std::string why;
      milliseconds backoff = options_.initial_backoff;
      for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
        why = post(curl, d);
        if (why.empty() || attempt == options_.max_attempts) break;
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) break;
        backoff *= 2;
      }
      if (options_.on_result) options_.on_result(url_, why.empty(), why);
    }
    curl_easy_cleanup(curl);
  }

  std::string url_;
  const WebhookOptions& options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Delivery> queue_;
  bool stopping_ = false;
  std::atomic<bool> abort_{false};
  std::thread thread_;
};

class WebhookSink final : public EventSink {
 public:
  explicit WebhookSink(WebhookOptions options) : options_(std::move(options)) {
    for (const std::string& u : options_.urls)
      targets_.push_back(std::make_unique<Target>(u, options_));
    if (options_.running_longer_than.count() > 0) watcher_ = std::thread([this] { watch(); });
  }
  ~WebhookSink() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    targets_.clear();
  }

  void on_event(const Event& e) override {
    if (e.type != Event::Type::kRunStateChanged || !e.run_state) return;
    const std::string key = e.topology_id + "/" + e.run_id;
    std::string name;
    switch (*e.run_state) {
      case RunState::kRunning:
        if (options_.running_longer_than.count() > 0) {
          std::lock_guard lock(mu_);
          running_[key] = {Steady::now() + options_.running_longer_than, e};
          cv_.notify_all();
        }
        return;
      case RunState::kSuccessful:
      case RunState::kCompleted:
        name = "RUN_SUCCEEDED";
        break;
      case RunState::kFailed:
        name = e.message.find("timed out") != std::string::npos ? "RUN_TIMED_OUT" : "RUN_FAILED";
        break;
      case RunState::kMissed:
        name = "RUN_MISSED";
        break;
      case RunState::kSkipped:
        name = "RUN_SKIPPED";
        break;
    }
    {
      std::lock_guard lock(mu_);
      running_.erase(key);
    }
    send(name, e);
  }

 private:
  void send(const std::string& name, const Event& e) {
    if (!options_.events.count(name)) return;
    boost::json::object o;
    o["id"] = e.topology_id + "/" + e.run_id + "/" + name;
    o["event"] = name;
    o["topologyId"] = e.topology_id;
    o["runId"] = e.run_id;
    o["runType"] = e.run_type ? std::string(to_string(*e.run_type)) : "";
    o["state"] = e.run_state ? std::string(to_string(*e.run_state)) : "";
    o["message"] = e.message;
    if (e.scheduled_time) {
      o["scheduledTime"] = to_epoch_millis(*e.scheduled_time);
    } else {
      o["scheduledTime"] = nullptr;
    }
    o["time"] = to_epoch_millis(e.time);
    const Delivery d{std::string(o["id"].as_string()), name, boost::json::serialize(o)};
    for (auto& t : targets_)
      t->push(d);
  }

  // Sends RUN_RUNNING_LONG for runs still going at their deadline.
  void watch() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      auto next = Steady::now() + std::chrono::hours(1);
      std::vector<Event> due;
      for (auto it = running_.begin(); it != running_.end();) {
        if (it->second.first <= Steady::now()) {
          due.push_back(it->second.second);
          it = running_.erase(it);
        } else {
          next = std::min(next, it->second.first);
          ++it;
        }
      }
      if (!due.empty()) {
        lock.unlock();
        for (Event& e : due) {
          e.message = "still running after " +
                      std::to_string(options_.running_longer_than.count()) + " ms";
          send("RUN_RUNNING_LONG", e);
        }
        lock.lock();
        continue;
      }
      cv_.wait_until(lock, next);
    }
  }

  WebhookOptions options_;
  std::vector<std::unique_ptr<Target>> targets_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::pair<Steady::time_point, Event>> running_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace

StatusOr<std::unique_ptr<EventSink>> make_webhook_sink(WebhookOptions options) {
  static const std::set<std::string> known = {"RUN_SUCCEEDED", "RUN_FAILED",  "RUN_TIMED_OUT",
                                              "RUN_MISSED",    "RUN_SKIPPED", "RUN_RUNNING_LONG"};
  for (const std::string& e : options.events) {
    if (!known.count(e)) {
      return invalid_argument("webhook event '" + e +
                              "' is unknown (RUN_SUCCEEDED, RUN_FAILED, RUN_TIMED_OUT, "
                              "RUN_MISSED, RUN_SKIPPED, RUN_RUNNING_LONG)");
    }
  }
  for (const std::string& u : options.urls) {
    if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) {
      return invalid_argument("webhook URL '" + u + "' is not http:// or https://");
    }
  }
  if (options.max_attempts < 1) return invalid_argument("webhook attempts must be at least 1");
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return std::unique_ptr<EventSink>(std::make_unique<WebhookSink>(std::move(options)));
}

}  // namespace epoch
