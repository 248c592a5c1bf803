// The ZooKeeper session shared by ZkStore and ZkElector (internal).
//
// Owns the zhandle_t and replaces it after session expiry. ZooKeeper's
// completion thread only queues events; the connection's event thread runs
// session listeners and node watches, so they may call the blocking methods.
#pragma once

#include <zookeeper/zookeeper.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "../support/work_queue.h"
#include "epoch/status.h"
#include "epoch/zookeeper.h"

namespace epoch {

// A znode's data and data version.
struct ZkNode {
  std::string data;
  int version = 0;
};

enum class ZkSessionEvent { kConnected, kDisconnected, kExpired };

class ZkConnection {
 public:
  explicit ZkConnection(ZkOptions options);
  ~ZkConnection();
  ZkConnection(const ZkConnection&) = delete;
  ZkConnection& operator=(const ZkConnection&) = delete;

  const ZkOptions& options() const { return options_; }
  // "/<namespace>" (empty namespace: "").
  const std::string& root() const { return root_; }
  bool connected() const { return connected_.load(); }
  std::int64_t session_id() const;
  // The session's id and password (tests expire a session by opening it
  // from a second client and closing that one). False when not connected.
  bool client_id(clientid_t& out) const;

  // Listeners run on the event thread, in registration order. Returns an id
  // for remove_listener().
  int add_listener(std::function<void(ZkSessionEvent)> listener);
  void remove_listener(int id);

  // Runs `f` on the event thread.
  void post(std::function<void()> f);
  bool on_event_thread() const { return events_.on_worker(); }

  // Blocking calls. Each waits for a connection (up to operation_timeout)
  // and retries connection loss with backoff. Return a ZooKeeper error code
  // (ZOK, ZNONODE, ...).
  int get(const std::string& path, ZkNode& out);
  int children(const std::string& path, std::vector<std::string>& out);
  // `watch`: one-shot, runs on the event thread when the node is created,
  // changed or deleted (or the session is lost).
  int exists(const std::string& path, int* version, std::function<void()> watch = {});
  int create(const std::string& path, const std::string& data, int flags,
             std::string* created = nullptr);
  int remove(const std::string& path, int version = -1);
  // Creates `path` and its missing parents as persistent nodes.
  int ensure_path(const std::string& path);
  // One multi; `results` gets one entry per op. No retry (the outcome of a
  // multi cut by connection loss is unknown): ZCONNECTIONLOSS is returned.
  int multi(std::vector<zoo_op_t>& ops, std::vector<zoo_op_result_t>& results);

  // Pipelined reads: every path at once, up to a window in flight. Missing
  // nodes give nullopt / empty. The first error other than ZNONODE wins.
  int get_many(const std::vector<std::string>& paths, std::vector<std::optional<ZkNode>>& out);
  int children_many(const std::vector<std::string>& paths,
                    std::vector<std::vector<std::string>>& out);
  int exists_many(const std::vector<std::string>& paths, std::vector<int>& versions);  // -1: none

  // A Status for a ZooKeeper error code (`what` says which call and path).
  static Status to_status(int rc, const std::string& what);

 private:
  static void on_watch(zhandle_t* zh, int type, int state, const char* path, void* ctx);
  void handle_watch(int type, int state, std::string path);
  void open_handle();
  // Waits until connected or the deadline; the handle under a shared lock.
  template <typename F>
  int with_handle(F&& f, bool retry);
  template <typename Start>
  int pipelined(std::size_t n, Start start);

  ZkOptions options_;
  std::string root_;
  mutable std::shared_mutex handle_mu_;  // shared: calls; unique: replacing the handle
  zhandle_t* zh_ = nullptr;
  std::atomic<bool> connected_{false};
  std::mutex state_mu_;
  std::condition_variable state_cv_;
  std::mutex watch_mu_;
  std::multimap<std::string, std::function<void()>> watches_;
  std::mutex listener_mu_;
  std::map<int, std::function<void(ZkSessionEvent)>> listeners_;
  int next_listener_ = 0;
  // The event thread: watches and session events, in order.
  WorkQueue<std::function<void()>> events_{[](std::function<void()>& f) { f(); }};
};

}  // namespace epoch
