// ZkElector: leader election on ZooKeeper with ephemeral sequential nodes
// under /<namespace>/leader-selection, named like Curator's
// ("_c_<uuid>-lock-<seq>") and holding the advertised URL, as Epoch's. The
// lowest sequence leads; every other candidate watches only its
// predecessor (and the leader's node, to keep leader() current).
#include <algorithm>
#include <chrono>
#include <fstream>
#include <mutex>
#include <random>

#include "../store/zk_connection.h"
#include "../support/lifeline.h"
#include "epoch/zookeeper.h"

namespace epoch {
namespace {

std::string random_uuid() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  const std::uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

// The sequence number ZooKeeper appended (the trailing digits).
std::int64_t sequence_of(const std::string& name) {
  std::size_t i = name.size();
  while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
    --i;
  if (i == name.size()) return -1;
  return std::stoll(name.substr(i, 18));
}

class ZkElector final : public LeaderElector {
 public:
  ZkElector(std::shared_ptr<ZkConnection> conn, std::string url)
      : conn_(std::move(conn)),
        url_(std::move(url)),
        dir_(conn_->root() + "/leader-selection"),
        prefix_("_c_" + random_uuid() + "-lock-") {}

  ~ZkElector() override { stop(); }

  void start(std::function<void()> on_elected, std::function<void()> on_revoked) override {
    {
      std::lock_guard lock(mu_);
      if (started_) return;
      started_ = true;
      stopped_ = false;
      on_elected_ = std::move(on_elected);
      on_revoked_ = std::move(on_revoked);
    }
    listener_ = conn_->add_listener(lifeline_.guard([this](ZkSessionEvent e) { on_session(e); }));
    conn_->post(lifeline_.guard([this] { check(); }));
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      if (!started_) return;
      started_ = false;
      stopped_ = true;
    }
    conn_->remove_listener(listener_);
    // Our watches and posted checks stay queued in the connection: from now
    // on they do nothing, and this waits for the one running, if any.
    lifeline_.renew();
    std::string node;
    {
      std::lock_guard lock(mu_);
      node = std::move(node_);
      node_.clear();
      leader_ = false;
      leader_url_.reset();
    }
    // Leave the election at once, so that the next candidate takes over
    // without waiting for the session to expire.
    if (!node.empty()) conn_->remove(dir_ + "/" + node);
  }

  bool is_leader() const override {
    std::lock_guard lock(mu_);
    return leader_;
  }

  std::optional<std::string> leader() const override {
    std::lock_guard lock(mu_);
    return leader_url_;
  }

  std::optional<FencingToken> fencing_token() const override {
    std::lock_guard lock(mu_);
    if (!leader_ || node_.empty()) return std::nullopt;
    return FencingToken{dir_ + "/" + node_, 0};
  }

 private:
  // Event thread.
  void on_session(ZkSessionEvent e) {
    if (e == ZkSessionEvent::kConnected) {
      check();
      return;
    }
    // Disconnected: another node may be elected while we cannot see it, so
    // stop at once. Expired: our node is gone with the session.
    std::function<void()> revoke;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      if (e == ZkSessionEvent::kExpired) node_.clear();
      leader_url_.reset();
      if (leader_) {
        leader_ = false;
        revoke = on_revoked_;
      }
    }
    if (revoke) revoke();
  }

  // Event thread: joins if needed, then decides who leads.
  void check() {
    for (int round = 0; round < 10; ++round) {
      {
        std::lock_guard lock(mu_);
        if (stopped_) return;
      }
      if (!conn_->connected()) return;  // again on kConnected
      const int rc = try_check();
      if (rc == ZOK) return;
      if (rc != ZNONODE) {
        // ZooKeeper trouble: look again shortly (the session listener also
        // calls check() on reconnection).
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
    conn_->post(lifeline_.guard([this] { check(); }));
  }

  int try_check() {
    if (int rc = conn_->ensure_path(dir_); rc != ZOK) return rc;
    std::vector<std::string> children;
    if (int rc = conn_->children(dir_, children); rc != ZOK) return rc;
    std::string mine;
    {
      std::lock_guard lock(mu_);
      mine = node_;
    }
    if (mine.empty()) {
      // A create cut by connection loss may have succeeded: look for ours.
      for (const std::string& c : children) {
        if (c.compare(0, prefix_.size(), prefix_) == 0) mine = c;
      }
      if (mine.empty()) {
        std::string created;
        const int rc =
            conn_->create(dir_ + "/" + prefix_, url_, ZOO_EPHEMERAL_SEQUENTIAL, &created);
        if (rc != ZOK) return rc == ZNONODE ? ZCONNECTIONLOSS : rc;
        mine = created.substr(dir_.size() + 1);
        // Others may have joined since the listing: list again.
        if (int r = conn_->children(dir_, children); r != ZOK) {
          std::lock_guard lock(mu_);
          node_ = mine;
          return r;
        }
      }
      std::lock_guard lock(mu_);
      node_ = mine;
    }
    std::sort(children.begin(), children.end(), [](const std::string& a, const std::string& b) {
      return sequence_of(a) < sequence_of(b);
    });
    const auto me = std::find(children.begin(), children.end(), mine);
    if (me == children.end()) {
      // Our node is gone (deleted, or the session was replaced): join again.
      std::lock_guard lock(mu_);
      node_.clear();
      return ZNONODE;
    }
    const std::string& first = children.front();
    std::optional<std::string> leader_url;
    if (first == mine) {
      leader_url = url_;
    } else {
      ZkNode data;
      const int rc = conn_->get(dir_ + "/" + first, data);
      if (rc != ZOK) return rc;  // ZNONODE: it just went; look again
      leader_url = data.data;
    }
    std::function<void()> call;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return ZOK;
      leader_url_ = leader_url;
      const bool lead = first == mine;
      if (lead != leader_) {
        leader_ = lead;
        call = lead ? on_elected_ : on_revoked_;
      }
    }
    if (call) call();
    if (first == mine) return ZOK;
    // Watch the predecessor (for the election) and the leader (for leader()).
    const std::string predecessor = *(me - 1);
    const std::function<void()> recheck = lifeline_.guard([this] { check(); });
    int version = 0;
    if (int rc = conn_->exists(dir_ + "/" + predecessor, &version, recheck); rc != ZOK) return rc;
    if (predecessor != first) {
      if (int rc = conn_->exists(dir_ + "/" + first, &version, recheck); rc != ZOK) return rc;
    }
    return ZOK;
  }

  std::shared_ptr<ZkConnection> conn_;
  const std::string url_;
  const std::string dir_;
  const std::string prefix_;
  int listener_ = 0;
  mutable std::mutex mu_;
  bool started_ = false;
  bool stopped_ = false;
  bool leader_ = false;
  std::string node_;  // our election node's name, once created
  std::optional<std::string> leader_url_;
  std::function<void()> on_elected_, on_revoked_;
  // Guards every callback given to the connection (its listeners, posts and
  // one-shot watches, which outlive us); declared last, so closed first.
  Lifeline lifeline_;
};

}  // namespace

std::unique_ptr<LeaderElector> make_zk_elector(std::shared_ptr<ZkConnection> connection,
                                               std::string advertised_url) {
  return std::make_unique<ZkElector>(std::move(connection), std::move(advertised_url));
}

}  // namespace epoch
