#include "epoch/webhook_sink.h"

#include <curl/curl.h>
#include <openssl/hmac.h>
#include <sys/socket.h>

#include <boost/json.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "notify_common.h"

namespace epoch {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Deliveries waiting for one URL beyond this are refused ("queue full").
constexpr std::size_t kMaxQueuedPerUrl = 10000;

// Ends every refusal of an address: what the operator can do about it.
constexpr std::string_view kAllowHint =
    "; the operator allows networks with --webhook-allow-networks (WebhookOptions::allow_networks)";

struct Delivery {
  std::string url, id, event, body;
  std::string topology_id;  // whose run: the key of a URL the topology chose
};

std::string hex_hmac(std::string_view key, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return notify::to_hex(mac, len);
}

size_t discard(char*, size_t size, size_t n, void*) {
  return size * n;
}

// `url` without its user name and password when it has any (then `had` is
// set); `url` itself when libcurl cannot parse it.
std::string without_credentials(const std::string& url, bool& had) {
  had = false;
  CURLU* u = curl_url();
  std::string out = url;
  if (u != nullptr && curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    for (const CURLUPart part : {CURLUPART_USER, CURLUPART_PASSWORD}) {
      char* value = nullptr;
      if (curl_url_get(u, part, &value, 0) == CURLUE_OK) had = true;
      curl_free(value);
      curl_url_set(u, part, nullptr, 0);
    }
    char* text = nullptr;
    if (had && curl_url_get(u, CURLUPART_URL, &text, 0) == CURLUE_OK) out = text;
    curl_free(text);
  }
  curl_url_cleanup(u);
  return out;
}

// The connections of one attempt at a URL a topology chose.
struct ConnectGuard {
  const std::vector<notify::IpNetwork>* allowed = nullptr;
  std::string refused;  // why the last address was refused ("" none was)
  int opened = 0;       // sockets opened to allowed addresses
};

// CURLOPT_OPENSOCKETFUNCTION for URLs a topology chose: libcurl calls it
// with each address it is about to connect to — resolved, so a host name is
// judged by its address, and the address judged is the one the connection
// uses. A refused address gets no socket (libcurl then tries the next one,
// or fails the transfer with CURLE_COULDNT_CONNECT).
curl_socket_t open_socket(void* data, curlsocktype purpose, curl_sockaddr* a) {
  auto& guard = *static_cast<ConnectGuard*>(data);
  const auto address = notify::from_sockaddr(&a->addr, a->addrlen);
  if (purpose != CURLSOCKTYPE_IPCXN || !address) {
    guard.refused = "not an IP connection";
    return CURL_SOCKET_BAD;
  }
  if (std::string why = notify::address_refusal(*address, *guard.allowed); !why.empty()) {
    guard.refused = std::move(why);
    return CURL_SOCKET_BAD;
  }
  ++guard.opened;
  return ::socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

// Every delivery goes through one thread driving libcurl's multi interface:
// each URL has a queue with at most one transfer in flight (so a URL sees
// events in the order they happened), all URLs proceed concurrently (a
// hanging receiver holds only its own queue), and retries wait on timers,
// not on a thread.
class Dispatcher {
 public:
  Dispatcher(const WebhookOptions& o, std::vector<notify::IpNetwork> allowed)
      : options_(o), allowed_(std::move(allowed)), multi_(curl_multi_init()) {
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, 256L);
    thread_ = std::thread([this] { loop(); });
  }
  ~Dispatcher() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    curl_multi_wakeup(multi_);
    thread_.join();
    curl_multi_cleanup(multi_);
  }

  void push(Delivery d) {
    {
      std::lock_guard lock(mu_);
      incoming_.push_back(std::move(d));
    }
    curl_multi_wakeup(multi_);
  }

 private:
  struct Queue {
    std::string url;
    bool topology_chosen = false;  // not one of options_.urls: checked, signed per topology
    std::string refusal;           // set: every delivery is refused with this
    std::string shown;             // the URL for on_result
    std::deque<Delivery> items;
    CURL* easy = nullptr;  // the transfer in flight, for items.front()
    curl_slist* headers = nullptr;
    int attempt = 0;
    Steady::time_point not_before{};
    ConnectGuard guard;  // of the transfer in flight (topology-chosen URLs)
  };

  void report(const Queue& q, bool delivered, const std::string& why) {
    if (options_.on_result) options_.on_result(q.shown, delivered, why);
  }

  // A new queue: whose URL it is, and whether it can be sent to at all.
  void open_queue(Queue& q, const std::string& url) {
    q.url = url;
    q.topology_chosen = !notify::contains(options_.urls, url);
    bool credentials = false;
    q.shown = q.topology_chosen ? without_credentials(url, credentials) : url;
    if (credentials) q.refusal = "refused: a topology's webhook URL may not carry credentials";
  }

  void start(Queue& q) {
    const Delivery& d = q.items.front();
    ++q.attempt;
    q.easy = curl_easy_init();
    CURL* c = q.easy;
    q.headers = curl_slist_append(nullptr, "Content-Type: application/json");
    q.headers = curl_slist_append(q.headers, ("X-Epoch-Event: " + d.event).c_str());
    q.headers = curl_slist_append(q.headers, ("X-Epoch-Delivery: " + d.id).c_str());
    if (!options_.secret.empty()) {
      // Never the operator's key on a URL a topology chose.
      const std::string key = q.topology_chosen
                                  ? topology_webhook_key(options_.secret, d.topology_id)
                                  : options_.secret;
      q.headers = curl_slist_append(q.headers,
                                    ("X-Epoch-Signature: sha256=" + hex_hmac(key, d.body)).c_str());
    }
    curl_easy_setopt(c, CURLOPT_URL, q.url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, q.headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, d.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(d.body.size()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &discard);
    curl_easy_setopt(c, CURLOPT_PRIVATE, &q);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
    if (q.topology_chosen) {
      q.guard = ConnectGuard{&allowed_, "", 0};
      curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, &open_socket);
      curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &q.guard);
      // Only a connection open_socket() saw: no proxy (it would be connected
      // to instead, and reach what it likes), and no cached connection (one
      // opened for an operator's URL to the same host and port was never
      // checked); nor does another transfer reuse this one.
      curl_easy_setopt(c, CURLOPT_PROXY, "");
      curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
      curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    }
    curl_multi_add_handle(multi_, c);
  }

  void release(Queue& q) {
    curl_multi_remove_handle(multi_, q.easy);
    curl_easy_cleanup(q.easy);
    curl_slist_free_all(q.headers);
    q.easy = nullptr;
    q.headers = nullptr;
  }

  void finished(Queue& q, CURLcode rc) {
    long status = 0;
    curl_easy_getinfo(q.easy, CURLINFO_RESPONSE_CODE, &status);
    release(q);
    std::string why;
    bool refused = false;
    if (rc != CURLE_OK && !q.guard.refused.empty() && q.guard.opened == 0) {
      // Every address the URL led to was refused: trying again changes nothing.
      why = "refused: " + q.guard.refused + std::string(kAllowHint);
      refused = true;
    } else if (rc != CURLE_OK) {
      why = curl_easy_strerror(rc);
    } else if (status < 200 || status >= 300) {
      why = "HTTP " + std::to_string(status);
    }
    if (!why.empty() && !refused && q.attempt < options_.max_attempts) {
      q.not_before = Steady::now() + options_.initial_backoff * (1 << std::min(q.attempt - 1, 16));
      return;
    }
    q.items.pop_front();
    q.attempt = 0;
    report(q, why.empty(), why);
  }

  void loop() {
    while (true) {
      std::deque<Delivery> fresh;
      {
        std::lock_guard lock(mu_);
        if (stopping_) break;
        fresh.swap(incoming_);
      }
      for (Delivery& d : fresh) {
        Queue& q = queues_[d.url];
        if (q.url.empty()) open_queue(q, d.url);
        if (!q.refusal.empty()) {
          report(q, false, q.refusal);
          continue;
        }
        if (q.items.size() >= kMaxQueuedPerUrl) {
          report(q, false, "delivery queue full");
          continue;
        }
        q.items.push_back(std::move(d));
      }
      const auto now = Steady::now();
      auto wake = now + milliseconds(1000);
      for (auto it = queues_.begin(); it != queues_.end();) {
        Queue& q = it->second;
        if (q.easy == nullptr && q.items.empty()) {
          it = queues_.erase(it);
          continue;
        }
        if (q.easy == nullptr) {
          if (q.not_before <= now) {
            start(q);
          } else {
            wake = std::min(wake, q.not_before);
          }
        }
        ++it;
      }
      int running = 0;
      curl_multi_perform(multi_, &running);
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        Queue* q = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &q);
        finished(*q, m->data.result);
        wake = Steady::now();  // the next of that queue may go at once
      }
      const auto wait = std::chrono::duration_cast<milliseconds>(wake - Steady::now()).count();
      if (wait > 0) curl_multi_poll(multi_, nullptr, 0, static_cast<int>(wait), nullptr);
    }
    for (auto& [url, q] : queues_) {
      if (q.easy != nullptr) release(q);
    }
  }

  const WebhookOptions& options_;
  const std::vector<notify::IpNetwork> allowed_;
  CURLM* multi_;
  std::mutex mu_;
  std::deque<Delivery> incoming_;
  bool stopping_ = false;
  std::map<std::string, Queue> queues_;  // loop thread only; nodes are stable
  std::thread thread_;
};

class WebhookSink final : public EventSink {
 public:
  WebhookSink(WebhookOptions options, std::vector<notify::IpNetwork> allowed)
      : options_(std::move(options)), dispatcher_(options_, std::move(allowed)) {}

  void on_event(const Event& e) override {
    const std::string name = notify::event_name(e);
    if (!name.empty()) send(name, e);
  }

 private:
  void send(const std::string& name, const Event& e) {
    std::vector<std::string> urls;
    const bool operator_wants = notify::selects(options_.events, name);
    if (operator_wants) urls = options_.urls;
    if (e.topology && e.topology->notify) {
      const NotifyRouting& r = routing_of(*e.topology->notify);
      const bool wanted = r.events ? notify::selects(*r.events, name) : operator_wants;
      if (wanted) {
        for (const std::string& u : r.webhooks) {
          if (!notify::contains(urls, u)) urls.push_back(u);
        }
      }
    }
    if (urls.empty()) return;
    boost::json::object o;
    const std::string id = e.topology_id + "/" + e.run_id + "/" + name;
    o["id"] = id;
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
    // The run's real span (its tasks' start and end), not its preparation.
    const auto started = e.run ? run_started(*e.run) : std::nullopt;
    const auto finished = e.run ? run_finished(*e.run) : std::nullopt;
    o["started"] = started ? boost::json::value(to_epoch_millis(*started)) : nullptr;
    o["finished"] = finished ? boost::json::value(to_epoch_millis(*finished)) : nullptr;
    if (e.run) {
      boost::json::object tasks;
      for (const auto& [task, info] : e.run->tasks) {
        tasks[task] = {{"taskId", info.task_id},
                       {"state", to_string(info.state)},
                       {"errorMessage", info.error_message}};
      }
      o["tasks"] = std::move(tasks);
    }
    const std::string body = boost::json::serialize(o);
    for (std::string& u : urls)
      dispatcher_.push(Delivery{std::move(u), id, name, body, e.topology_id});
  }

  WebhookOptions options_;
  Dispatcher dispatcher_;
};

}  // namespace

StatusOr<std::unique_ptr<EventSink>> make_webhook_sink(WebhookOptions options) {
  for (const std::string& e : options.events) {
    if (!notify::contains(notify_event_names(), e)) {
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
  std::vector<notify::IpNetwork> allowed;
  for (const std::string& n : options.allow_networks) {
    const auto network = notify::parse_network(n);
    if (!network) {
      return invalid_argument("webhook allowed network '" + n +
                              "' is not an IP address or network (address/prefix, e.g. "
                              "10.0.0.0/8, 127.0.0.1/32, fd00::/8)");
    }
    allowed.push_back(*network);
  }
  if (options.max_attempts < 1) return invalid_argument("webhook attempts must be at least 1");
  notify::init_curl();
  return std::unique_ptr<EventSink>(
      std::make_unique<WebhookSink>(std::move(options), std::move(allowed)));
}

std::string topology_webhook_key(std::string_view secret, std::string_view topology_id) {
  if (secret.empty()) return "";
  return hex_hmac(secret, "epoch-topology-webhook:" + std::string(topology_id));
}

}  // namespace epoch
