#include "zk_connection.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace epoch {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

bool transient(int rc) {
  return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONEXPIRED ||
         rc == ZINVALIDSTATE || rc == ZSESSIONMOVED;
}

// The C client's own log: ERROR lines only, at most one per 10 s (it
// repeats "connection refused" every few hundred ms while a server is
// down); the connection's state changes reach the application through the
// session listeners instead.
void client_log(const char* message) {
  static std::mutex mu;
  static Clock::time_point last{};
  static std::size_t dropped = 0;
  std::lock_guard lock(mu);
  const auto now = Clock::now();
  if (last != Clock::time_point{} && now - last < std::chrono::seconds(10)) {
    ++dropped;
    return;
  }
  last = now;
  if (dropped > 0) {
    std::fprintf(stderr, "%s (and %zu more ZooKeeper client messages)\n", message, dropped);
  } else {
    std::fprintf(stderr, "%s\n", message);
  }
  dropped = 0;
}

}  // namespace

ZkConnection::ZkConnection(ZkOptions options) : options_(std::move(options)) {
  root_ = options_.name_space.empty() ? std::string() : "/" + options_.name_space;
  static std::once_flag quiet;
  std::call_once(quiet, [] { zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR); });
  open_handle();
}

ZkConnection::~ZkConnection() {
  events_.stop();  // what is queued runs first
  std::unique_lock lock(handle_mu_);
  if (zh_ != nullptr) zookeeper_close(zh_);
  zh_ = nullptr;
}

void ZkConnection::open_handle() {
  std::unique_lock lock(handle_mu_);
  if (zh_ != nullptr) zookeeper_close(zh_);
  connected_ = false;
  zh_ = zookeeper_init2(options_.hosts.c_str(), &ZkConnection::on_watch,
                        static_cast<int>(options_.session_timeout.count()), nullptr, this, 0,
                        &client_log);
}

std::int64_t ZkConnection::session_id() const {
  std::shared_lock lock(handle_mu_);
  if (zh_ == nullptr || !connected_) return 0;
  const clientid_t* id = zoo_client_id(zh_);
  return id != nullptr ? id->client_id : 0;
}

bool ZkConnection::client_id(clientid_t& out) const {
  std::shared_lock lock(handle_mu_);
  if (zh_ == nullptr || !connected_) return false;
  const clientid_t* id = zoo_client_id(zh_);
  if (id == nullptr) return false;
  out = *id;
  return true;
}

int ZkConnection::add_listener(std::function<void(ZkSessionEvent)> listener) {
  std::lock_guard lock(listener_mu_);
  listeners_[++next_listener_] = std::move(listener);
  return next_listener_;
}

void ZkConnection::remove_listener(int id) {
  std::lock_guard lock(listener_mu_);
  listeners_.erase(id);
}

void ZkConnection::post(std::function<void()> f) {
  events_.push(std::move(f));
}

// ZooKeeper's completion thread: record the session state at once (callers
// waiting for a connection must not depend on the event thread), queue the
// rest.
void ZkConnection::on_watch(zhandle_t*, int type, int state, const char* path, void* ctx) {
  auto* self = static_cast<ZkConnection*>(ctx);
  if (type == ZOO_SESSION_EVENT) {
    {
      std::lock_guard lock(self->state_mu_);
      self->connected_ = state == ZOO_CONNECTED_STATE;
    }
    self->state_cv_.notify_all();
  }
  std::string p = path != nullptr ? path : "";
  self->post([self, type, state, p = std::move(p)]() mutable {
    self->handle_watch(type, state, std::move(p));
  });
}

void ZkConnection::handle_watch(int type, int state, std::string path) {
  std::vector<std::function<void()>> fire;
  std::optional<ZkSessionEvent> event;
  if (type == ZOO_SESSION_EVENT) {
    if (state == ZOO_CONNECTED_STATE) {
      event = ZkSessionEvent::kConnected;
    } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
      event = ZkSessionEvent::kExpired;
    } else {
      event = ZkSessionEvent::kDisconnected;
    }
    if (event != ZkSessionEvent::kConnected) {
      // Watches may be lost with the session: let their owners look again.
      std::lock_guard lock(watch_mu_);
      for (auto& [p, f] : watches_)
        fire.push_back(std::move(f));
      watches_.clear();
    }
    if (event == ZkSessionEvent::kExpired) open_handle();  // a new session
  } else {
    std::lock_guard lock(watch_mu_);
    auto [b, e] = watches_.equal_range(path);
    for (auto it = b; it != e; ++it)
      fire.push_back(std::move(it->second));
    watches_.erase(b, e);
  }
  if (event) {
    std::vector<std::function<void(ZkSessionEvent)>> ls;
    {
      std::lock_guard lock(listener_mu_);
      for (auto& [id, l] : listeners_)
        ls.push_back(l);
    }
    for (auto& l : ls)
      l(*event);
  }
  for (auto& f : fire)
    f();
}

template <typename F>
int ZkConnection::with_handle(F&& f, bool retry) {
  const auto deadline = Clock::now() + options_.operation_timeout;
  milliseconds backoff(20);
  while (true) {
    {
      std::unique_lock lock(state_mu_);
      if (!state_cv_.wait_until(lock, deadline, [&] { return connected_.load(); })) {
        return ZCONNECTIONLOSS;
      }
    }
    int rc;
    {
      std::shared_lock lock(handle_mu_);
      rc = zh_ == nullptr ? ZINVALIDSTATE : f(zh_);
    }
    if (!retry || !transient(rc) || Clock::now() + backoff >= deadline) return rc;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, milliseconds(1000));
  }
}

int ZkConnection::get(const std::string& path, ZkNode& out) {
  return with_handle(
      [&](zhandle_t* zh) -> int {
        Stat stat{};
        std::string buf(16 * 1024, '\0');
        while (true) {
          int len = static_cast<int>(buf.size());
          const int rc = zoo_get(zh, path.c_str(), 0, buf.data(), &len, &stat);
          if (rc != ZOK) return rc;
          if (stat.dataLength <= static_cast<int>(buf.size())) {
            buf.resize(len < 0 ? 0 : static_cast<std::size_t>(len));
            out.data = std::move(buf);
            out.version = stat.version;
            return ZOK;
          }
          buf.assign(static_cast<std::size_t>(stat.dataLength), '\0');
        }
      },
      true);
}

int ZkConnection::children(const std::string& path, std::vector<std::string>& out) {
  return with_handle(
      [&](zhandle_t* zh) -> int {
        String_vector v{};
        const int rc = zoo_get_children(zh, path.c_str(), 0, &v);
        if (rc != ZOK) return rc;
        out.assign(v.data, v.data + v.count);
        deallocate_String_vector(&v);
        return ZOK;
      },
      true);
}

int ZkConnection::exists(const std::string& path, int* version, std::function<void()> watch) {
  return with_handle(
      [&](zhandle_t* zh) -> int {
        std::multimap<std::string, std::function<void()>>::iterator mine;
        if (watch) {
          std::lock_guard lock(watch_mu_);
          mine = watches_.emplace(path, watch);
        }
        Stat stat{};
        const int rc = zoo_exists(zh, path.c_str(), watch ? 1 : 0, &stat);
        if (watch && rc != ZOK && rc != ZNONODE) {
          std::lock_guard lock(watch_mu_);
          // Not registered with the server: forget it (unless it already fired).
          for (auto [b, e] = watches_.equal_range(path); b != e; ++b) {
            if (b == mine) {
              watches_.erase(b);
              break;
            }
          }
        }
        if (version != nullptr) *version = rc == ZOK ? stat.version : -1;
        return rc;
      },
      true);
}

int ZkConnection::create(const std::string& path, const std::string& data, int flags,
                         std::string* created) {
  return with_handle(
      [&](zhandle_t* zh) -> int {
        std::string buf(path.size() + 32, '\0');
        const int rc =
            zoo_create(zh, path.c_str(), data.data(), static_cast<int>(data.size()),
                       &ZOO_OPEN_ACL_UNSAFE, flags, buf.data(), static_cast<int>(buf.size()));
        if (rc == ZOK && created != nullptr) *created = buf.c_str();
        return rc;
      },
      false);
}

int ZkConnection::remove(const std::string& path, int version) {
  return with_handle([&](zhandle_t* zh) -> int { return zoo_delete(zh, path.c_str(), version); },
                     true);
}

int ZkConnection::ensure_path(const std::string& path) {
  std::size_t pos = 0;
  while (pos < path.size()) {
    pos = path.find('/', pos + 1);
    const std::string prefix = path.substr(0, pos);
    int rc = ZCONNECTIONLOSS;
    for (int attempt = 0; attempt < 3 && transient(rc); ++attempt)
      rc = create(prefix, "", 0);
    if (rc != ZOK && rc != ZNODEEXISTS) return rc;
    if (pos == std::string::npos) break;
  }
  return ZOK;
}

int ZkConnection::multi(std::vector<zoo_op_t>& ops, std::vector<zoo_op_result_t>& results) {
  results.assign(ops.size(), zoo_op_result_t{});
  return with_handle(
      [&](zhandle_t* zh) -> int {
        return zoo_multi(zh, static_cast<int>(ops.size()), ops.data(), results.data());
      },
      false);
}

namespace {

// Completion state shared by one pipelined call.
// Completions wake the issuing thread only once the count it waits for is
// reached (a wake-up per completion would cost more than the reads).
struct Pipeline {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t done = 0;
  std::size_t wake_at = 0;  // 0: nobody waits
  int error = ZOK;

  // Notifies under the lock: once the waiter can see the last completion
  // it may return and destroy this Pipeline (it lives on its stack), so
  // nothing of it may be touched after the lock is released. (Notifying
  // after unlocking was a use-after-scope that ThreadSanitizer found in
  // the chaos run, and the likely cause of a "double free" abort there.)
  void finish(int rc) {
    std::lock_guard lock(mu);
    if (rc != ZOK && rc != ZNONODE && error == ZOK) error = rc;
    ++done;
    if (wake_at != 0 && (done >= wake_at || error != ZOK)) {
      wake_at = 0;
      cv.notify_one();
    }
  }

  // Waits until `n` completions (or an error); the caller holds `lock`.
  void wait_for(std::unique_lock<std::mutex>& lock, std::size_t n) {
    while (done < n && error == ZOK) {
      wake_at = n;
      cv.wait(lock);
    }
  }
};

template <typename Out>
struct Slot {
  Pipeline* p;
  Out* out;
};

}  // namespace

// Issues start(i, zh, pipeline) for i in [0, n), at most a window in flight,
// and waits for every completion. Retries the whole call on connection loss.
template <typename Start>
int ZkConnection::pipelined(std::size_t n, Start start) {
  constexpr std::size_t kWindow = 2000;
  return with_handle(
      [&](zhandle_t* zh) -> int {
        Pipeline p;
        std::size_t issued = 0;
        int rc = ZOK;
        for (; issued < n; ++issued) {
          if (issued >= kWindow && issued % (kWindow / 2) == 0) {
            // Keep at most a window in flight: wait for the older half.
            std::unique_lock lock(p.mu);
            p.wait_for(lock, issued - kWindow / 2);
            if (p.error != ZOK) break;
          }
          rc = start(issued, zh, &p);
          if (rc != ZOK) break;
        }
        std::unique_lock lock(p.mu);
        while (p.done < issued) {  // every issued call completes, errors too
          p.wake_at = issued;
          p.cv.wait(lock);
        }
        return rc != ZOK ? rc : p.error;
      },
      true);
}

int ZkConnection::get_many(const std::vector<std::string>& paths,
                           std::vector<std::optional<ZkNode>>& out) {
  out.assign(paths.size(), std::nullopt);
  std::vector<Slot<std::optional<ZkNode>>> slots(paths.size());
  return pipelined(paths.size(), [&](std::size_t i, zhandle_t* zh, Pipeline* p) -> int {
    slots[i] = {p, &out[i]};
    return zoo_aget(
        zh, paths[i].c_str(), 0,
        [](int rc, const char* value, int len, const Stat* stat, const void* data) {
          auto* s = static_cast<const Slot<std::optional<ZkNode>>*>(data);
          if (rc == ZOK) {
            ZkNode n;
            if (value != nullptr && len > 0) n.data.assign(value, static_cast<std::size_t>(len));
            n.version = stat != nullptr ? stat->version : 0;
            *s->out = std::move(n);
          }
          s->p->finish(rc);
        },
        &slots[i]);
  });
}

int ZkConnection::children_many(const std::vector<std::string>& paths,
                                std::vector<std::vector<std::string>>& out) {
  out.assign(paths.size(), {});
  std::vector<Slot<std::vector<std::string>>> slots(paths.size());
  return pipelined(paths.size(), [&](std::size_t i, zhandle_t* zh, Pipeline* p) -> int {
    slots[i] = {p, &out[i]};
    return zoo_aget_children(
        zh, paths[i].c_str(), 0,
        [](int rc, const String_vector* v, const void* data) {
          auto* s = static_cast<const Slot<std::vector<std::string>>*>(data);
          if (rc == ZOK && v != nullptr) s->out->assign(v->data, v->data + v->count);
          s->p->finish(rc);
        },
        &slots[i]);
  });
}

int ZkConnection::exists_many(const std::vector<std::string>& paths, std::vector<int>& versions) {
  versions.assign(paths.size(), -1);
  std::vector<Slot<int>> slots(paths.size());
  return pipelined(paths.size(), [&](std::size_t i, zhandle_t* zh, Pipeline* p) -> int {
    slots[i] = {p, &versions[i]};
    return zoo_aexists(
        zh, paths[i].c_str(), 0,
        [](int rc, const Stat* stat, const void* data) {
          auto* s = static_cast<const Slot<int>*>(data);
          *s->out = rc == ZOK && stat != nullptr ? stat->version : -1;
          s->p->finish(rc);
        },
        &slots[i]);
  });
}

Status ZkConnection::to_status(int rc, const std::string& what) {
  if (rc == ZOK) return ok_status();
  const std::string msg = what + ": " + zerror(rc);
  switch (rc) {
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
    case ZSESSIONMOVED:
    case ZCLOSING:
      return unavailable("ZooKeeper unavailable: " + msg);
    case ZBADVERSION:
    case ZNODEEXISTS:
    case ZNONODE:
    case ZNOTEMPTY:
      return aborted(msg);
    default:
      return internal_error("ZooKeeper error: " + msg);
  }
}

// ---- the public functions ----------------------------------------------------------

StatusOr<std::shared_ptr<ZkConnection>> connect_zookeeper(const ZkOptions& options) {
  if (options.hosts.empty()) return invalid_argument("zookeeper: empty host list");
  if (options.name_space.find_first_of("/ ") != std::string::npos) {
    return invalid_argument("zookeeper: namespace '" + options.name_space +
                            "' must be one path element (no '/' or spaces)");
  }
  if (options.session_timeout.count() <= 0 || options.operation_timeout.count() <= 0) {
    return invalid_argument("zookeeper: timeouts must be positive");
  }
  return std::make_shared<ZkConnection>(options);
}

bool zk_connected(const ZkConnection& connection) {
  return connection.connected();
}

std::int64_t zk_session_id(const ZkConnection& connection) {
  return connection.session_id();
}

}  // namespace epoch
