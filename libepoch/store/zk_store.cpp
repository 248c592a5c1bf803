// ZkStore: the Store seam on ZooKeeper, in Epoch's layout (see
// epoch/zookeeper.h). Reads are pipelined async calls; each batch becomes
// fenced multis built on a writer thread.
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include "epoch/zookeeper.h"
#include "run_query.h"
#include "zk_connection.h"

namespace epoch {
namespace {

constexpr int kNone = -1;  // a path that does not exist (in version maps)

// The engine's metadata node: {"lastFire": <epoch ms>}.
std::string fire_json(Instant t) {
  return "{\"lastFire\":" + std::to_string(to_epoch_millis(t)) + "}";
}

std::optional<Instant> parse_fire_json(const std::string& s) {
  const auto colon = s.find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::size_t b = colon + 1;
  while (b < s.size() && s[b] == ' ')
    ++b;
  std::int64_t ms = 0;
  const auto [p, ec] = std::from_chars(s.data() + b, s.data() + s.size(), ms);
  if (ec != std::errc()) return std::nullopt;
  return from_epoch_millis(ms);
}

// A znode name must be one path element ZooKeeper accepts.
// (The C client frees memory it never allocated when a multi holds a path
// it rejects, so every path is checked here first.)
Status check_name(const std::string& what, const std::string& name) {
  const bool control = std::any_of(name.begin(), name.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      control) {
    return invalid_argument(what + " '" + name + "' cannot name a ZooKeeper node");
  }
  return ok_status();
}

// One operation of a multi, owning its strings.
struct ZkOp {
  enum class Type { kCheck, kCreate, kSet, kDelete } type;
  std::string path;
  std::string data;
  int version = -1;
  int flags = 0;  // kCreate: ZOO_SEQUENCE for audit entries
};

std::string audit_json(const AuditEntry& a) {
  return boost::json::serialize(boost::json::object{{"time", to_epoch_millis(a.time)},
                                                    {"user", a.user},
                                                    {"role", a.role},
                                                    {"method", a.method},
                                                    {"path", a.path},
                                                    {"topologyId", a.topology_id},
                                                    {"status", a.status},
                                                    {"before", a.before},
                                                    {"after", a.after}});
}

std::optional<AuditEntry> parse_audit(const std::string& text) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto str = [&](const char* k) -> std::string {
    const auto* f = o.if_contains(k);
    return f && f->is_string() ? std::string(f->as_string()) : std::string();
  };
  const auto num = [&](const char* k) -> std::int64_t {
    const auto* f = o.if_contains(k);
    return f && f->is_int64() ? f->as_int64() : 0;
  };
  AuditEntry a;
  a.time = from_epoch_millis(num("time"));
  a.user = str("user");
  a.role = str("role");
  a.method = str("method");
  a.path = str("path");
  a.topology_id = str("topologyId");
  a.status = static_cast<int>(num("status"));
  a.before = str("before");
  a.after = str("after");
  return a;
}

class ZkStore final : public Store {
 public:
  ZkStore(std::shared_ptr<ZkConnection> conn, ZkStoreOptions options)
      : conn_(std::move(conn)), options_(options), root_(conn_->root()) {
    writer_ = std::thread([this] { write_loop(); });
  }

  ~ZkStore() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    writer_.join();
  }

  std::string_view name() const noexcept override { return "zookeeper"; }

  StatusOr<std::vector<TopologyRecord>> load_topologies() override {
    std::vector<std::string> ids;
    const int rc = conn_->children(root_ + "/topologies", ids);
    if (rc == ZNONODE) return std::vector<TopologyRecord>{};
    if (rc != ZOK) return ZkConnection::to_status(rc, "list " + root_ + "/topologies");
    std::vector<std::string> paths, fires;
    for (const std::string& id : ids) {
      paths.push_back(topology_path(id));
      fires.push_back(fire_path(id));
    }
    std::vector<std::optional<ZkNode>> nodes, fire_nodes;
    if (int r = conn_->get_many(paths, nodes); r != ZOK) {
      return ZkConnection::to_status(r, "read " + root_ + "/topologies");
    }
    if (int r = conn_->get_many(fires, fire_nodes); r != ZOK) {
      return ZkConnection::to_status(r, "read " + root_ + "/fires");
    }
    std::vector<TopologyRecord> out;
    out.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (!nodes[i]) continue;  // deleted meanwhile
      EPOCH_ASSIGN_OR_RETURN(auto rec, decode_topology(paths[i], *nodes[i], fire_nodes[i]));
      out.push_back(std::move(rec));
    }
    return out;
  }

  StatusOr<std::optional<TopologyRecord>> load_topology(std::string_view id) override {
    const std::string path = topology_path(std::string(id));
    std::vector<std::optional<ZkNode>> nodes;
    if (int r = conn_->get_many({path, fire_path(std::string(id))}, nodes); r != ZOK) {
      return ZkConnection::to_status(r, "read " + path);
    }
    if (!nodes[0]) return std::optional<TopologyRecord>();
    EPOCH_ASSIGN_OR_RETURN(auto rec, decode_topology(path, *nodes[0], nodes[1]));
    return std::optional<TopologyRecord>(std::move(rec));
  }

  StatusOr<std::vector<RunRecord>> load_runs(std::string_view topology_id,
                                             const RunQuery& query) override {
    const std::string dir = runs_dir(std::string(topology_id));
    std::vector<std::string> ids;
    const int rc = conn_->children(dir, ids);
    if (rc == ZNONODE) return std::vector<RunRecord>{};
    if (rc != ZOK) return ZkConnection::to_status(rc, "list " + dir);
    std::vector<std::string> paths;
    paths.reserve(ids.size());
    for (const std::string& id : ids)
      paths.push_back(dir + "/" + id);
    EPOCH_ASSIGN_OR_RETURN(auto runs, read_runs(paths, [&](const RunInfo& r) {
                             return store::matches(r, query);
                           }));
    store::order_and_limit(runs, query);
    return runs;
  }

  StatusOr<std::optional<RunRecord>> load_run(std::string_view topology_id,
                                              std::string_view run_id) override {
    const std::string path = run_path(std::string(topology_id), std::string(run_id));
    ZkNode node;
    const int rc = conn_->get(path, node);
    if (rc == ZNONODE) return std::optional<RunRecord>();
    if (rc != ZOK) return ZkConnection::to_status(rc, "read " + path);
    EPOCH_ASSIGN_OR_RETURN(auto rec, decode_run(path, node));
    return std::optional<RunRecord>(std::move(rec));
  }

  // Through the live-run index when the tree has one (one listing and a
  // read per live run); a tree written by Epoch-Java has none: then every
  // run is read, and the runs found live are indexed by the next commit.
  StatusOr<std::vector<RunRecord>> load_live_runs() override {
    std::vector<std::string> names;
    const int lrc = conn_->children(live_dir(), names);
    if (lrc == ZOK) {
      std::vector<std::string> paths;
      paths.reserve(names.size());
      for (const std::string& n : names) {
        const auto sep = n.rfind('~');
        if (sep == std::string::npos) continue;
        paths.push_back(run_path(n.substr(0, sep), n.substr(sep + 1)));
      }
      return read_runs(paths, [](const RunInfo& r) { return !is_terminal(r.state); });
    }
    if (lrc != ZNONODE) return ZkConnection::to_status(lrc, "list " + live_dir());
    std::vector<std::string> topologies;
    const int rc = conn_->children(root_ + "/runs", topologies);
    if (rc != ZOK && rc != ZNONODE) {
      return ZkConnection::to_status(rc, "list " + root_ + "/runs");
    }
    std::vector<std::string> dirs;
    for (const std::string& t : topologies)
      dirs.push_back(runs_dir(t));
    std::vector<std::vector<std::string>> children;
    if (int r = conn_->children_many(dirs, children); r != ZOK) {
      return ZkConnection::to_status(r, "list " + root_ + "/runs/*");
    }
    std::vector<std::string> paths;
    for (std::size_t i = 0; i < dirs.size(); ++i) {
      for (const std::string& id : children[i])
        paths.push_back(dirs[i] + "/" + id);
    }
    EPOCH_ASSIGN_OR_RETURN(auto live, read_runs(paths, [](const RunInfo& r) {
                             return !is_terminal(r.state);
                           }));
    std::lock_guard lock(mu_);
    unindexed_.clear();
    for (const RunRecord& r : live)
      unindexed_.push_back(live_path(r.run.topology_id, r.run.run_id));
    return live;
  }

  // Entries are sequential nodes /audit/a-<seq>; the sequence is the id.
  StatusOr<std::vector<AuditEntry>> load_audit(const AuditQuery& q) override {
    std::vector<std::string> names;
    const int rc = conn_->children(root_ + "/audit", names);
    if (rc == ZNONODE) return std::vector<AuditEntry>{};
    if (rc != ZOK) return ZkConnection::to_status(rc, "list " + root_ + "/audit");
    std::vector<std::pair<std::int64_t, std::string>> ids;
    for (const std::string& n : names) {
      std::int64_t id = 0;
      const auto [p, ec] = std::from_chars(n.data() + std::min<std::size_t>(2, n.size()),
                                           n.data() + n.size(), id);
      if (ec != std::errc() || n.rfind("a-", 0) != 0) continue;
      if (q.before_id && id >= *q.before_id) continue;
      ids.emplace_back(id, n);
    }
    std::sort(ids.begin(), ids.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<AuditEntry> out;
    for (std::size_t at = 0; at < ids.size() && out.size() < q.limit; at += 200) {
      std::vector<std::string> paths;
      for (std::size_t i = at; i < std::min(ids.size(), at + 200); ++i)
        paths.push_back(root_ + "/audit/" + ids[i].second);
      std::vector<std::optional<ZkNode>> nodes;
      if (int r = conn_->get_many(paths, nodes); r != ZOK) {
        return ZkConnection::to_status(r, "read " + root_ + "/audit");
      }
      for (std::size_t i = 0; i < nodes.size() && out.size() < q.limit; ++i) {
        if (!nodes[i]) continue;
        auto a = parse_audit(nodes[i]->data);
        if (!a) return internal_error("cannot decode " + paths[i]);
        if (!q.topology_id.empty() && a->topology_id != q.topology_id) continue;
        a->id = ids[at + i].first;
        out.push_back(std::move(*a));
      }
    }
    return out;
  }

  void commit(Batch batch, CommitCallback done) override {
    {
      std::lock_guard lock(mu_);
      queue_.emplace_back(std::move(batch), std::move(done));
    }
    cv_.notify_one();
  }

  Status ping() override {
    // Never wait for a connection here: health checks must answer at once.
    if (!conn_->connected()) return unavailable("ZooKeeper is not connected");
    int version = 0;
    const int rc = conn_->exists("/", &version);
    return ZkConnection::to_status(rc, "ping");
  }

 private:
  std::string topology_path(const std::string& id) const { return root_ + "/topologies/" + id; }
  std::string fire_path(const std::string& id) const { return root_ + "/fires/" + id; }
  std::string runs_dir(const std::string& tid) const { return root_ + "/runs/" + tid; }
  std::string run_path(const std::string& tid, const std::string& rid) const {
    return runs_dir(tid) + "/" + rid;
  }
  std::string live_dir() const { return root_ + "/live"; }
  // The live-run index: an empty node per run that is not finished, named
  // "{topologyId}~{runId}" (run ids never hold '~').
  std::string live_path(const std::string& tid, const std::string& rid) const {
    return live_dir() + "/" + tid + "~" + rid;
  }

  static StatusOr<TopologyRecord> decode_topology(const std::string& path, const ZkNode& node,
                                                  const std::optional<ZkNode>& fire) {
    auto details = topology_details_from_json(node.data);
    if (!details.ok()) {
      return internal_error("cannot decode " + path + ": " + details.status().message());
    }
    TopologyRecord rec;
    rec.details = std::move(*details);
    rec.version = node.version + 1;
    if (fire) rec.last_fire = parse_fire_json(fire->data);
    return rec;
  }

  static StatusOr<RunRecord> decode_run(const std::string& path, const ZkNode& node) {
    auto run = run_info_from_json(node.data);
    if (!run.ok()) return internal_error("cannot decode " + path + ": " + run.status().message());
    return RunRecord{std::move(*run), node.version + 1};
  }

  template <typename Keep>
  StatusOr<std::vector<RunRecord>> read_runs(const std::vector<std::string>& paths, Keep keep) {
    std::vector<std::optional<ZkNode>> nodes;
    if (int r = conn_->get_many(paths, nodes); r != ZOK) {
      return ZkConnection::to_status(r, "read runs");
    }
    std::vector<RunRecord> out;
    for (std::size_t i = 0; i < paths.size(); ++i) {
      if (!nodes[i]) continue;
      EPOCH_ASSIGN_OR_RETURN(auto rec, decode_run(paths[i], *nodes[i]));
      if (keep(rec.run)) out.push_back(std::move(rec));
    }
    return out;
  }

  // ---- writes ------------------------------------------------------------------

  void write_loop() {
    while (true) {
      std::pair<Batch, CommitCallback> item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      CommitResult r = apply(item.first);
      if (!r.ok() && r.status().code() == StatusCode::kAborted) {
        // A cached parent may have vanished (Epoch's parents are container
        // nodes, which ZooKeeper removes once empty): look again, once.
        known_.clear();
        r = apply(item.first);
      }
      if (!r.ok()) known_.clear();
      item.second(std::move(r));
    }
  }

  // Plans the batch against what ZooKeeper holds, then sends it.
  CommitResult apply(const Batch& batch) {
    if (!roots_ready_) {
      for (const char* dir : {"/topologies", "/runs", "/fires", "/audit"}) {
        if (int rc = conn_->ensure_path(root_ + dir); rc != ZOK) {
          return ZkConnection::to_status(rc, "create " + root_ + dir);
        }
      }
      roots_ready_ = true;
    }
    std::vector<ZkOp> ops;
    std::vector<std::pair<std::string, bool>> known_after;  // parents, fire and live nodes
    std::vector<std::string> indexed_now;
    if (!index_ready_) {
      // The first commit creates the live-run index, with the live runs a
      // full scan found (it exists from then on, so it is complete).
      int version = 0;
      const int rc = conn_->exists(live_dir(), &version);
      if (rc != ZOK && rc != ZNONODE) return ZkConnection::to_status(rc, "look up " + live_dir());
      if (rc == ZNONODE) {
        ops.push_back({ZkOp::Type::kCreate, live_dir(), {}, 0});
        std::lock_guard lock(mu_);
        for (const std::string& p : unindexed_) {
          ops.push_back({ZkOp::Type::kCreate, p, {}, 0});
          known_after.emplace_back(p, true);
          indexed_now.push_back(p);
        }
      }
    }
    // What must be looked up: existence of paths the ops do not pin a
    // version for, and the runs of topologies whose runs are all deleted.
    if (batch.fence && !batch.fence->path.empty() && batch.fence->path.front() != '/') {
      return invalid_argument("fencing token '" + batch.fence->path +
                              "' is not a ZooKeeper path (use the ZooKeeper elector with "
                              "the ZooKeeper store)");
    }
    std::set<std::string> lookup;
    std::vector<std::string> list_dirs;
    bool list_live = false;  // the index entries of deleted topologies
    for (const WriteOp& op : batch.ops) {
      if (op.kind == WriteOp::Kind::kAppendAudit) continue;  // no path of its own
      EPOCH_RETURN_IF_ERROR(check_name("topology id", op.topology_id));
      const std::string tp = topology_path(op.topology_id);
      switch (op.kind) {
        case WriteOp::Kind::kPutTopology:
        case WriteOp::Kind::kDeleteTopology:
          if (op.expected_version == kAnyVersion) lookup.insert(tp);
          if (op.kind == WriteOp::Kind::kDeleteTopology) lookup.insert(fire_path(op.topology_id));
          break;
        case WriteOp::Kind::kSetLastFire:
          if (!known_.count(fire_path(op.topology_id))) lookup.insert(fire_path(op.topology_id));
          break;
        case WriteOp::Kind::kPutRun:
        case WriteOp::Kind::kDeleteRun: {
          EPOCH_RETURN_IF_ERROR(check_name("run id", op.run_id));
          if (op.run_id.find('~') != std::string::npos) {
            return invalid_argument("run id '" + op.run_id + "' holds '~'");
          }
          if (!known_.count(runs_dir(op.topology_id))) lookup.insert(runs_dir(op.topology_id));
          if (op.expected_version == kAnyVersion) {
            lookup.insert(run_path(op.topology_id, op.run_id));
          }
          // A new run has no index entry yet; otherwise ask unless known.
          const std::string lp = live_path(op.topology_id, op.run_id);
          const bool fresh = op.kind == WriteOp::Kind::kPutRun && op.expected_version == kMustNotExist;
          if (!fresh && !known_.count(lp)) lookup.insert(lp);
          break;
        }
        case WriteOp::Kind::kAppendAudit:
          break;
        case WriteOp::Kind::kDeleteAllRuns:
          lookup.insert(runs_dir(op.topology_id));
          list_dirs.push_back(runs_dir(op.topology_id));
          list_live = true;
          break;
      }
    }
    std::map<std::string, int> have;  // path -> data version, kNone when absent
    {
      const std::vector<std::string> paths(lookup.begin(), lookup.end());
      std::vector<int> versions;
      if (int rc = conn_->exists_many(paths, versions); rc != ZOK) {
        return ZkConnection::to_status(rc, "commit: look up " + std::to_string(paths.size()) +
                                               " nodes");
      }
      for (std::size_t i = 0; i < paths.size(); ++i)
        have[paths[i]] = versions[i];
      std::vector<std::vector<std::string>> children;
      if (int rc = conn_->children_many(list_dirs, children); rc != ZOK) {
        return ZkConnection::to_status(rc, "commit: list runs");
      }
      for (std::size_t i = 0; i < list_dirs.size(); ++i) {
        for (const std::string& c : children[i])
          have[list_dirs[i] + "/" + c] = 0;  // deleted unconditionally
      }
      if (list_live) {
        std::vector<std::string> names;
        const int rc = conn_->children(live_dir(), names);
        if (rc != ZOK && rc != ZNONODE) return ZkConnection::to_status(rc, "list " + live_dir());
        for (const std::string& n : names)
          have[live_dir() + "/" + n] = 0;
      }
    }
    for (const std::string& p : indexed_now)
      have[p] = 0;  // created by this batch, ahead of its ops
    // A path's data version as the earlier ops of the batch leave it. Cached
    // parents and fire nodes exist (their version is never checked).
    const auto current = [&](const std::string& path) {
      const auto it = have.find(path);
      if (it != have.end()) return it->second;
      return known_.count(path) ? 0 : kNone;
    };

    std::vector<std::int64_t> versions;
    versions.reserve(batch.ops.size());
    // Writes `data` at `path` with the record version `expected`.
    const auto put = [&](const std::string& path, std::string data, std::int64_t expected) {
      if (data.size() > options_.max_record_bytes) {
        return invalid_argument(path + " would be " + std::to_string(data.size()) +
                                " bytes; the ZooKeeper store keeps records under " +
                                std::to_string(options_.max_record_bytes) + " bytes");
      }
      int zk_expected = 0;
      if (expected == kAnyVersion) {
        zk_expected = current(path);
      } else {
        zk_expected = static_cast<int>(expected) - 1;  // kMustNotExist -> kNone
      }
      if (zk_expected == kNone) {
        ops.push_back({ZkOp::Type::kCreate, path, std::move(data), 0});
        have[path] = 0;
      } else {
        ops.push_back({ZkOp::Type::kSet, path, std::move(data), zk_expected});
        have[path] = zk_expected + 1;
      }
      versions.push_back(have[path] + 1);
      return ok_status();
    };
    const auto remove = [&](const std::string& path, int zk_version) {
      ops.push_back({ZkOp::Type::kDelete, path, {}, zk_version});
      have[path] = kNone;
    };
    const auto ensure_dir = [&](const std::string& dir) {
      known_after.emplace_back(dir, true);
      if (current(dir) != kNone) return;
      ops.push_back({ZkOp::Type::kCreate, dir, {}, 0});
      have[dir] = 0;
    };

    for (const WriteOp& op : batch.ops) {
      const std::string tp = topology_path(op.topology_id);
      switch (op.kind) {
        case WriteOp::Kind::kPutTopology:
          EPOCH_RETURN_IF_ERROR(put(tp, to_json(op.topology->details), op.expected_version));
          break;
        case WriteOp::Kind::kDeleteTopology: {
          const std::string fp = fire_path(op.topology_id);
          known_after.emplace_back(fp, false);
          if (current(fp) != kNone) remove(fp, -1);
          if (op.expected_version == kAnyVersion) {
            if (current(tp) != kNone) remove(tp, -1);
          } else {
            remove(tp, static_cast<int>(op.expected_version) - 1);
          }
          versions.push_back(0);
          break;
        }
        case WriteOp::Kind::kSetLastFire: {
          ops.push_back({ZkOp::Type::kCheck, tp, {}, -1});  // the topology exists
          const std::string fp = fire_path(op.topology_id);
          known_after.emplace_back(fp, true);
          if (current(fp) == kNone) {
            ops.push_back({ZkOp::Type::kCreate, fp, fire_json(op.last_fire), 0});
            have[fp] = 0;
          } else {
            ops.push_back({ZkOp::Type::kSet, fp, fire_json(op.last_fire), -1});
          }
          versions.push_back(0);
          break;
        }
        case WriteOp::Kind::kPutRun: {
          ensure_dir(runs_dir(op.topology_id));
          EPOCH_RETURN_IF_ERROR(
              put(run_path(op.topology_id, op.run_id), to_json(*op.run), op.expected_version));
          const std::string lp = live_path(op.topology_id, op.run_id);
          const bool live = !is_terminal(op.run->state);
          if (live && current(lp) == kNone) {
            ops.push_back({ZkOp::Type::kCreate, lp, {}, 0});
            have[lp] = 0;
          } else if (!live && current(lp) != kNone) {
            remove(lp, -1);
          }
          known_after.emplace_back(lp, live);
          break;
        }
        case WriteOp::Kind::kDeleteRun: {
          const std::string rp = run_path(op.topology_id, op.run_id);
          if (op.expected_version == kAnyVersion) {
            if (current(rp) != kNone) remove(rp, -1);
          } else {
            remove(rp, static_cast<int>(op.expected_version) - 1);
          }
          const std::string lp = live_path(op.topology_id, op.run_id);
          if (current(lp) != kNone) remove(lp, -1);
          known_after.emplace_back(lp, false);
          versions.push_back(0);
          break;
        }
        case WriteOp::Kind::kAppendAudit: {
          std::string data = audit_json(*op.audit);
          if (data.size() > options_.max_record_bytes) {
            return invalid_argument("an audit entry would be " + std::to_string(data.size()) +
                                    " bytes; the ZooKeeper store keeps records under " +
                                    std::to_string(options_.max_record_bytes) + " bytes");
          }
          ops.push_back({ZkOp::Type::kCreate, root_ + "/audit/a-", std::move(data), 0, ZOO_SEQUENCE});
          if (op.audit_keep > 0) audit_keep_ = op.audit_keep;
          versions.push_back(0);
          break;
        }
        case WriteOp::Kind::kDeleteAllRuns: {
          const std::string dir = runs_dir(op.topology_id);
          const std::string prefix = dir + "/";
          std::vector<std::string> doomed;
          for (auto it = have.lower_bound(prefix);
               it != have.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
            if (it->second != kNone) doomed.push_back(it->first);
          }
          for (const std::string& p : doomed)
            remove(p, -1);
          if (current(dir) != kNone) remove(dir, -1);
          known_after.emplace_back(dir, false);
          const std::string live_prefix = live_dir() + "/" + op.topology_id + "~";
          std::vector<std::string> entries;
          for (auto it = have.lower_bound(live_prefix);
               it != have.end() && it->first.compare(0, live_prefix.size(), live_prefix) == 0;
               ++it) {
            if (it->second != kNone) entries.push_back(it->first);
          }
          for (const std::string& p : entries) {
            remove(p, -1);
            known_after.emplace_back(p, false);
          }
          versions.push_back(0);
          break;
        }
      }
    }
    std::vector<std::string> created;
    EPOCH_RETURN_IF_ERROR(send(ops, batch.fence, &created));
    prune_audit(created);
    if (!index_ready_) {
      index_ready_ = true;
      std::lock_guard lock(mu_);
      unindexed_.clear();
    }
    for (auto& [path, exists] : known_after) {
      if (exists) {
        known_.insert(std::move(path));
      } else {
        known_.erase(path);
      }
    }
    return versions;
  }

  // Sends the ops as multis of at most max_multi_bytes, each starting with
  // the fence check.
  // Deletes the audit entries that fell out of the newest audit_keep_ (best
  // effort: the sequence numbers are consecutive per parent, so the entry
  // `keep` places back is known without listing).
  void prune_audit(const std::vector<std::string>& created) {
    if (audit_keep_ <= 0) return;
    const std::string prefix = root_ + "/audit/a-";
    for (const std::string& path : created) {
      if (path.compare(0, prefix.size(), prefix) != 0) continue;
      std::int64_t seq = 0;
      const auto [p, ec] = std::from_chars(path.data() + prefix.size(), path.data() + path.size(), seq);
      if (ec != std::errc() || seq < audit_keep_) continue;
      if (!audit_swept_) {
        // The first time: everything older than the newest audit_keep_.
        std::vector<std::string> names;
        if (conn_->children(root_ + "/audit", names) != ZOK) continue;
        for (const std::string& n : names) {
          std::int64_t s = -1;
          std::from_chars(n.data() + std::min<std::size_t>(2, n.size()), n.data() + n.size(), s);
          if (n.rfind("a-", 0) == 0 && s >= 0 && s <= seq - audit_keep_)
            conn_->remove(root_ + "/audit/" + n);
        }
        audit_swept_ = true;
        continue;
      }
      char name[24];
      std::snprintf(name, sizeof name, "%010lld", static_cast<long long>(seq - audit_keep_));
      conn_->remove(prefix + name);  // ZNONODE: already gone
    }
  }

  Status send(const std::vector<ZkOp>& ops, const std::optional<FencingToken>& fence,
              std::vector<std::string>* created_paths = nullptr) {
    std::size_t begin = 0;
    std::size_t part = 0;
    while (begin < ops.size()) {
      std::size_t end = begin;
      std::size_t bytes = 0;
      while (end < ops.size() &&
             (end == begin || bytes + ops[end].path.size() + ops[end].data.size() + 64 <=
                                  options_.max_multi_bytes)) {
        bytes += ops[end].path.size() + ops[end].data.size() + 64;
        ++end;
      }
      std::vector<zoo_op_t> zops;
      std::vector<std::string> created(end - begin + 1);
      std::vector<Stat> stats(end - begin + 1);
      const bool fenced = fence && !fence->path.empty();
      if (fenced) {
        zops.emplace_back();
        zoo_check_op_init(&zops.back(), fence->path.c_str(), static_cast<int>(fence->version));
      }
      for (std::size_t i = begin; i < end; ++i) {
        const ZkOp& op = ops[i];
        zops.emplace_back();
        zoo_op_t* z = &zops.back();
        switch (op.type) {
          case ZkOp::Type::kCheck:
            zoo_check_op_init(z, op.path.c_str(), op.version);
            break;
          case ZkOp::Type::kCreate: {
            std::string& buf = created[i - begin];
            buf.assign(op.path.size() + 16, '\0');
            zoo_create_op_init(z, op.path.c_str(), op.data.data(), static_cast<int>(op.data.size()),
                               &ZOO_OPEN_ACL_UNSAFE, op.flags, buf.data(),
                               static_cast<int>(buf.size()));
            break;
          }
          case ZkOp::Type::kSet:
            zoo_set_op_init(z, op.path.c_str(), op.data.data(), static_cast<int>(op.data.size()),
                            op.version, &stats[i - begin]);
            break;
          case ZkOp::Type::kDelete:
            zoo_delete_op_init(z, op.path.c_str(), op.version);
            break;
        }
      }
      std::vector<zoo_op_result_t> results;
      const int rc = conn_->multi(zops, results);
      if (rc != ZOK) {
        const std::string where =
            part == 0 ? std::string() : " (" + std::to_string(part) + " earlier parts applied)";
        for (std::size_t i = 0; i < results.size(); ++i) {
          const int err = results[i].err;
          if (err == ZOK || err == ZRUNTIMEINCONSISTENCY) continue;
          if (fenced && i == 0) {
            return failed_precondition("fenced write refused: election node " + fence->path +
                                       " is gone or changed (this node is no longer the leader)" +
                                       where);
          }
          const ZkOp& op = ops[begin + i - (fenced ? 1 : 0)];
          return ZkConnection::to_status(err, "version conflict at " + op.path + where);
        }
        if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT) {
          return unavailable("ZooKeeper connection lost during a commit of " +
                             std::to_string(zops.size()) + " ops; its outcome is unknown" + where);
        }
        return ZkConnection::to_status(rc, "commit" + where);
      }
      if (created_paths != nullptr) {
        for (std::size_t i = begin; i < end; ++i) {
          if (ops[i].type == ZkOp::Type::kCreate && ops[i].flags != 0)
            created_paths->push_back(created[i - begin].c_str());
        }
      }
      begin = end;
      ++part;
    }
    return ok_status();
  }

  std::shared_ptr<ZkConnection> conn_;
  ZkStoreOptions options_;
  std::string root_;
  // Writer thread only: run directories and fire nodes known to exist.
  std::unordered_set<std::string> known_;
  bool roots_ready_ = false;
  bool index_ready_ = false;  // the live-run index exists
  std::int64_t audit_keep_ = 0;  // the newest audit entries kept (0: all)
  bool audit_swept_ = false;     // older entries were swept once
  // Guarded by mu_: live runs a full scan found, to be indexed.
  std::vector<std::string> unindexed_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Batch, CommitCallback>> queue_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace

std::unique_ptr<Store> make_zk_store(std::shared_ptr<ZkConnection> connection,
                                     ZkStoreOptions options) {
  return std::make_unique<ZkStore>(std::move(connection), options);
}

}  // namespace epoch
