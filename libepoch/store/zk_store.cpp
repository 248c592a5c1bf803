// ZkStore: the Store seam on ZooKeeper, in Epoch's layout (see
// epoch/zookeeper.h). Reads are pipelined async calls; each batch becomes
// fenced multis built on a writer thread.
//
// Journals (store.h; docs/zookeeper-audit.md) are bucketed so that no reply
// ZooKeeper sends for one can pass jute.maxbuffer (1 MiB by default; Java
// clients such as zkCli, Curator and Epoch-Java drop the connection on a
// larger packet, and a flat parent passed it near 65,000 entries). The
// journal "audit" (epochd's audit log) lives at /audit, where the audit log
// always was; any other journal J at /journals/J:
//   <dir>                          {"layout":"buckets","last":L,"floor":F,"pruned":P}
//   <dir>/b-<id/1000, 7 digits>    a bucket: the entries whose id / 1000 is its number
//   <dir>/b-.../a-<id, 10 digits>[-<key> | ~]   the entry's data, as given
// `last` is the newest id given; ids are consecutive, and each multi that
// creates entries also sets the directory's data at the version it was read
// with, so two writers cannot give the same id. Entries with id <= `floor`
// are out of retention (never returned), those <= `pruned` are deleted.
// ("~" marks an entry whose key could not be in a name: only entries the
// audit log wrote before it was a journal.)
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <unordered_set>

#include "../support/work_queue.h"
#include "epoch/zookeeper.h"
#include "journal.h"
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
  // The journal's counter (its directory's data) once this op is applied;
  // empty: the op leaves it alone. send() ends each multi holding such ops
  // with a version-checked write of the last one.
  std::string mark = {};
  bool with_next = false;  // never sent in another multi than the next op
};

// ---- the journals' layout -----------------------------------------------------------

// Entries per bucket node.
constexpr std::int64_t kBucketEntries = 1000;
// ZooKeeper's default jute.maxbuffer: the largest packet a server accepts
// and a Java client reads (a larger reply drops the connection).
constexpr std::size_t kZkMaxPacket = 0xfffff;
// The longest entry name: "a-", an id (at most 19 digits), "-", a topology id.
constexpr std::size_t kEntryNameMax = 2 + 19 + 1 + limits::kName;
// A bucket's getChildren reply: a 4-byte length and the name per child.
static_assert(kBucketEntries * (4 + kEntryNameMax) + 1024 < kZkMaxPacket / 2,
              "a full journal bucket must list well under jute.maxbuffer");
// The largest entry stored (store.h; every store checks it, journal_of());
// a getData reply adds < 1 KiB.
static_assert(kJournalDataMax + 1024 < kZkMaxPacket);
// Retention's work per commit (the rest is left for the next commits; the
// entries stay out of retention meanwhile).
constexpr std::size_t kPruneOpsPerCommit = 4000;
constexpr int kPruneListsPerCommit = 8;
// Before its first append the store lists a journal's directory to find
// entries in the old flat layout;
// past this many buckets (65 million entries kept) it does not (the reply
// would pass kZkMaxPacket).
constexpr std::int64_t kMaxBucketsListed = 50'000;

// A journal directory's data: the counter and the retention marks.
struct JournalMark {
  std::int64_t last = 0;    // the newest id given (0: none)
  std::int64_t floor = 0;   // ids <= floor are out of retention
  std::int64_t pruned = 0;  // ids <= pruned are deleted, with their buckets
};

std::string mark_json(const JournalMark& m) {
  return boost::json::serialize(boost::json::object{
      {"layout", "buckets"}, {"last", m.last}, {"floor", m.floor}, {"pruned", m.pruned}});
}

// nullopt: not the bucketed layout's counter (a tree in the flat layout, or new).
std::optional<JournalMark> parse_mark(const std::string& text) {
  if (text.empty()) return std::nullopt;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto* layout = o.if_contains("layout");
  if (layout == nullptr || !layout->is_string() || layout->as_string() != "buckets") {
    return std::nullopt;
  }
  JournalMark m;
  const std::pair<const char*, std::int64_t*> fields[] = {
      {"last", &m.last}, {"floor", &m.floor}, {"pruned", &m.pruned}};
  for (const auto& [key, field] : fields) {
    const auto* f = o.if_contains(key);
    if (f == nullptr || !f->is_int64()) return std::nullopt;
    *field = f->as_int64();
  }
  return m;
}

std::string zero_padded(std::int64_t n, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(n));
  return buf;
}

std::int64_t bucket_of(std::int64_t id) {
  return id / kBucketEntries;
}

std::string bucket_name(std::int64_t bucket) {
  return "b-" + zero_padded(bucket, 7);
}

// A key goes into the entry's name (check_journal_key: 1-255 of
// [0-9a-zA-Z_-]), so that the key filter reads names only. "~" marks an
// entry moved from the flat layout whose key is not a valid one.
std::string entry_name(std::int64_t id, const std::string& key) {
  std::string name = "a-" + zero_padded(id, 10);
  if (key.empty()) return name;
  return check_journal_key(key).ok() ? name + "-" + key : name + "~";
}

// An entry's name, parsed.
struct EntryName {
  std::int64_t id = 0;
  enum class Key { kEmpty, kNamed, kUnknown } kind = Key::kEmpty;
  std::string_view key;  // kNamed
  std::string_view name;

  // Whether the entry is one the filter `key` ("": any) returns.
  bool matches(const std::string& filter) const {
    return filter.empty() || (kind == Key::kNamed && key == filter);
  }
};

// "a-<digits>[-<key>|~]"; nullopt for any other name.
std::optional<EntryName> parse_entry_name(std::string_view name) {
  if (name.size() < 3 || name.substr(0, 2) != "a-") return std::nullopt;
  EntryName n;
  n.name = name;
  const char* end = name.data() + name.size();
  const auto [p, ec] = std::from_chars(name.data() + 2, end, n.id);
  if (ec != std::errc() || n.id < 0) return std::nullopt;
  const std::string_view rest(p, static_cast<std::size_t>(end - p));
  if (rest.empty()) return n;
  if (rest == "~") {
    n.kind = EntryName::Key::kUnknown;
  } else if (rest.size() > 1 && rest.front() == '-') {
    n.kind = EntryName::Key::kNamed;
    n.key = rest.substr(1);
  } else {
    return std::nullopt;
  }
  return n;
}

// One bucket's entries, newest first, restricted to ids in [lowest, highest].
std::vector<EntryName> entry_names(const std::vector<std::string>& children, std::int64_t lowest,
                                   std::int64_t highest) {
  std::vector<EntryName> out;
  out.reserve(children.size());
  for (const std::string& c : children) {
    const auto n = parse_entry_name(c);
    if (n && n->id >= lowest && n->id <= highest) out.push_back(*n);
  }
  std::sort(out.begin(), out.end(),
            [](const EntryName& a, const EntryName& b) { return a.id > b.id; });
  return out;
}

void log_journal(const std::string& dir, const std::string& message) {
  std::fprintf(stderr, "epoch zookeeper store: journal %s: %s\n", dir.c_str(), message.c_str());
}

// The key of an entry in the flat layout, which only the audit log had (its
// JSON, as epochd wrote it, names the topology in `topologyId`): that id
// when it can be a key, "~" (unknown) when it cannot, "" when none.
std::string flat_entry_key(const std::string& data) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(data, ec);
  const auto* o = !ec && v.is_object() ? &v.as_object() : nullptr;
  const auto* t = o != nullptr ? o->if_contains("topologyId") : nullptr;
  if (t == nullptr || !t->is_string() || t->as_string().empty()) return {};
  const std::string key(t->as_string());
  return check_journal_key(key).ok() ? key : "~";
}

// A journal as one store's writer knows it.
struct Journal {
  std::string dir;
  bool started = false;  // start_journal() has run
  // The counter as this store last read or wrote it (dropped when a commit
  // fails), and the bucket retention works in.
  bool loaded = false;
  JournalMark mark;
  int version = 0;  // the directory's data version
  std::int64_t prune_bucket = -1;
  bool prune_bucket_exists = false;
  std::map<std::int64_t, std::string> prune_names;  // its entries not deleted yet: id -> name

  void forget() {
    loaded = false;
    mark = {};
    version = 0;
    prune_bucket = -1;
    prune_bucket_exists = false;
    prune_names.clear();
  }
};

class ZkStore final : public Store {
 public:
  ZkStore(std::shared_ptr<ZkConnection> conn, ZkStoreOptions options)
      : conn_(std::move(conn)), options_(options), root_(conn_->root()) {}

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
    EPOCH_ASSIGN_OR_RETURN(
        auto runs, read_runs(paths, [&](const RunInfo& r) { return store::matches(r, query); }));
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
    EPOCH_ASSIGN_OR_RETURN(
        auto live, read_runs(paths, [](const RunInfo& r) { return !is_terminal(r.state); }));
    std::lock_guard lock(mu_);
    unindexed_.clear();
    for (const RunRecord& r : live)
      unindexed_.push_back(live_path(r.run.topology_id, r.run.run_id));
    return live;
  }

  // Reads the newest bucket first, one bucket per getChildren call (each
  // reply at most ~281 KB), and reads the data of the entries it returns
  // only. A key filter lists the buckets down to the oldest kept until it
  // has `limit` entries: names only, up to 100 listings for 100,000 entries.
  StatusOr<std::vector<JournalEntry>> load_journal(std::string_view name,
                                                   const JournalQuery& q) override {
    EPOCH_RETURN_IF_ERROR(check_journal_name(name));
    EPOCH_RETURN_IF_ERROR(check_journal_key(q.key));
    const std::string dir = journal_dir(name);
    std::vector<JournalEntry> out;
    if (q.limit == 0) return out;
    ZkNode counter;
    const int rc = conn_->get(dir, counter);
    if (rc == ZNONODE) return out;
    if (rc != ZOK) return ZkConnection::to_status(rc, "read " + dir);
    const std::optional<JournalMark> mark = parse_mark(counter.data);
    if (!mark) return load_flat(dir, q);
    const std::int64_t lowest = mark->floor + 1;
    if (q.before_id && *q.before_id <= lowest) return out;
    const std::int64_t highest = q.before_id ? std::min(mark->last, *q.before_id - 1) : mark->last;
    std::size_t window = 1;  // buckets listed at once: 1, 2, 4, 8 while more are needed
    for (std::int64_t bucket = bucket_of(highest);
         highest >= lowest && bucket >= bucket_of(lowest) && out.size() < q.limit;) {
      std::vector<std::string> dirs;
      for (; dirs.size() < window && bucket >= bucket_of(lowest); --bucket)
        dirs.push_back(dir + "/" + bucket_name(bucket));
      std::vector<std::vector<std::string>> children;
      if (int r = conn_->children_many(dirs, children); r != ZOK) {
        return ZkConnection::to_status(r, "list " + dir + "/b-*");
      }
      for (std::size_t d = 0; d < dirs.size() && out.size() < q.limit; ++d) {
        // The names say which entries match: only those are read.
        std::vector<std::string> paths;
        std::vector<const EntryName*> picked;
        const std::vector<EntryName> names = entry_names(children[d], lowest, highest);
        for (const EntryName& n : names) {
          if (paths.size() == q.limit - out.size()) break;
          if (!n.matches(q.key)) continue;
          paths.push_back(dirs[d] + "/" + std::string(n.name));
          picked.push_back(&n);
        }
        std::vector<std::optional<ZkNode>> nodes;
        if (int r = conn_->get_many(paths, nodes); r != ZOK) {
          return ZkConnection::to_status(r, "read " + dirs[d]);
        }
        for (std::size_t i = 0; i < nodes.size(); ++i) {
          if (!nodes[i]) continue;  // pruned meanwhile
          JournalEntry entry;
          entry.id = picked[i]->id;
          if (picked[i]->kind == EntryName::Key::kNamed) entry.key = std::string(picked[i]->key);
          entry.data = std::move(nodes[i]->data);
          out.push_back(std::move(entry));
        }
      }
      window = std::min<std::size_t>(window * 2, 8);
    }
    return out;
  }

  void commit(Batch batch, CommitCallback done) override {
    writes_.push({std::move(batch), std::move(done)});
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

  static std::string bucket_path(const Journal& j, std::int64_t bucket) {
    return j.dir + "/" + bucket_name(bucket);
  }

  // "audit" stays where the audit log was before journals.
  std::string journal_dir(std::string_view name) const {
    return name == "audit" ? root_ + "/audit" : root_ + "/journals/" + std::string(name);
  }

  // A journal in the flat layout (<dir>/a-<seq>, sequential nodes: the
  // audit log as earlier versions wrote it) that no store of this version
  // has appended to yet: one listing of every entry, and a read of each
  // entry until `limit` match.
  StatusOr<std::vector<JournalEntry>> load_flat(const std::string& dir, const JournalQuery& q) {
    std::vector<std::string> children;
    const int rc = conn_->children(dir, children);
    if (rc == ZNONODE) return std::vector<JournalEntry>{};
    if (rc != ZOK) return ZkConnection::to_status(rc, "list " + dir);
    if (q.before_id && *q.before_id <= 0) return std::vector<JournalEntry>{};
    std::vector<EntryName> names = entry_names(
        children, 0, q.before_id ? *q.before_id - 1 : std::numeric_limits<std::int64_t>::max());
    std::vector<JournalEntry> out;
    for (std::size_t at = 0; at < names.size() && out.size() < q.limit; at += 200) {
      std::vector<std::string> paths;
      for (std::size_t i = at; i < std::min(names.size(), at + 200); ++i)
        paths.push_back(dir + "/" + std::string(names[i].name));
      std::vector<std::optional<ZkNode>> nodes;
      if (int r = conn_->get_many(paths, nodes); r != ZOK) {
        return ZkConnection::to_status(r, "read " + dir);
      }
      for (std::size_t i = 0; i < nodes.size() && out.size() < q.limit; ++i) {
        if (!nodes[i]) continue;
        const std::string key = flat_entry_key(nodes[i]->data);
        if (!q.key.empty() && key != q.key) continue;
        JournalEntry entry;
        entry.key = key == "~" ? "" : key;
        entry.id = names[at + i].id;
        entry.data = std::move(nodes[i]->data);
        out.push_back(std::move(entry));
      }
    }
    return out;
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

  // The writer: commits one at a time, in order; at destruction the commits
  // already made are applied and answered.
  void write(std::pair<Batch, CommitCallback>& item) {
    CommitResult r = apply(item.first);
    if (!r.ok() && r.status().code() == StatusCode::kAborted) {
      // A cached parent may have vanished (Epoch's parents are container
      // nodes, which ZooKeeper removes once empty), or another writer
      // moved a journal's counter: look again, once.
      known_.clear();
      forget_journals();
      r = apply(item.first);
    }
    if (!r.ok()) {
      known_.clear();
      forget_journals();
    }
    item.second(std::move(r));
  }

  void forget_journals() {
    for (auto& [name, j] : journals_)
      j.forget();
  }

  Journal& journal(const std::string& name) {
    const auto [it, added] = journals_.try_emplace(name);
    if (added) it->second.dir = journal_dir(name);
    return it->second;
  }

  // Plans the batch against what ZooKeeper holds, then sends it.
  CommitResult apply(const Batch& batch) {
    EPOCH_ASSIGN_OR_RETURN(const std::string journal_name, store::journal_of(batch));
    if (batch.fence && !batch.fence->path.empty() && batch.fence->path.front() != '/') {
      return invalid_argument("fencing token '" + batch.fence->path +
                              "' is not a ZooKeeper path (use the ZooKeeper elector with "
                              "the ZooKeeper store)");
    }
    if (!roots_ready_) {
      for (const char* dir : {"/topologies", "/runs", "/fires"}) {
        if (int rc = conn_->ensure_path(root_ + dir); rc != ZOK) {
          return ZkConnection::to_status(rc, "create " + root_ + dir);
        }
      }
      roots_ready_ = true;
    }
    Journal* jn = journal_name.empty() ? nullptr : &journal(journal_name);
    if (jn != nullptr && !jn->started) {
      EPOCH_RETURN_IF_ERROR(start_journal(*jn, batch.fence));
      jn->started = true;
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
    std::set<std::string> lookup;
    std::vector<std::string> list_dirs;
    bool list_live = false;  // the index entries of deleted topologies
    // The journal's entries get the ids after the counter's; their buckets
    // are created by the batch unless known to exist.
    const auto appends = std::count_if(batch.ops.begin(), batch.ops.end(), [](const WriteOp& op) {
      return op.kind == WriteOp::Kind::kAppendJournal;
    });
    JournalMark mark;
    if (jn != nullptr) {
      EPOCH_RETURN_IF_ERROR(load_mark(*jn));
      mark = jn->mark;
      for (std::int64_t b = bucket_of(mark.last + 1); b <= bucket_of(mark.last + appends); ++b) {
        if (!known_.count(bucket_path(*jn, b))) lookup.insert(bucket_path(*jn, b));
      }
    }
    for (const WriteOp& op : batch.ops) {
      if (op.kind == WriteOp::Kind::kAppendJournal) continue;  // no path of its own
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
          const bool fresh =
              op.kind == WriteOp::Kind::kPutRun && op.expected_version == kMustNotExist;
          if (!fresh && !known_.count(lp)) lookup.insert(lp);
          break;
        }
        case WriteOp::Kind::kAppendJournal:
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
        return ZkConnection::to_status(
            rc, "commit: look up " + std::to_string(paths.size()) + " nodes");
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
        case WriteOp::Kind::kAppendJournal: {
          // (kJournalDataMax was checked by journal_of(); records may be held
          // smaller still.)
          const std::size_t most = options_.max_record_bytes;
          if (op.entry->data.size() > most) {
            return invalid_argument("an entry of journal " + op.journal + " would be " +
                                    std::to_string(op.entry->data.size()) +
                                    " bytes; the ZooKeeper store keeps entries under " +
                                    std::to_string(most) + " bytes");
          }
          const std::int64_t id = ++mark.last;
          if (op.journal_keep > 0) mark.floor = std::max(mark.floor, id - op.journal_keep);
          const std::string bucket = bucket_path(*jn, bucket_of(id));
          ensure_dir(bucket);
          ops.push_back({ZkOp::Type::kCreate, bucket + "/" + entry_name(id, op.entry->key),
                         op.entry->data, 0, mark_json(mark)});
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
    EPOCH_RETURN_IF_ERROR(send(ops, batch.fence, jn));
    if (jn != nullptr && appends > 0) {
      jn->mark = mark;
      // The bucket being pruned also gets this batch's entries.
      for (const ZkOp& op : ops) {
        if (op.mark.empty() || op.type != ZkOp::Type::kCreate) continue;
        const auto slash = op.path.rfind('/');
        const auto name = parse_entry_name(std::string_view(op.path).substr(slash + 1));
        if (name && bucket_of(name->id) == jn->prune_bucket) {
          jn->prune_names.emplace(name->id, std::string(name->name));
        }
      }
    }
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
    if (jn != nullptr && appends > 0) prune(*jn, batch.fence);
    return versions;
  }

  // ---- the journals' writes ------------------------------------------------------

  // Reads the counter unless cached (the cache is dropped whenever a commit
  // fails, so a counter moved by another writer is read again).
  Status load_mark(Journal& j) {
    if (j.loaded) return ok_status();
    ZkNode node;
    if (int rc = conn_->get(j.dir, node); rc != ZOK) {
      j.started = false;  // the directory is gone: set it up again next time
      return ZkConnection::to_status(rc, "read " + j.dir);
    }
    const auto mark = parse_mark(node.data);
    if (!mark) {
      j.started = false;
      return aborted(j.dir + " holds no journal counter");
    }
    j.forget();
    j.loaded = true;
    j.mark = *mark;
    j.version = node.version;
    return ok_status();
  }

  // Once per store and journal, before its first append: sets up the
  // bucketed layout and moves the entries of the flat layout (<dir>/a-<seq>,
  // ZooKeeper sequential nodes, as earlier versions wrote the audit log)
  // into buckets, in
  // fenced multis that each create entries and delete their old nodes (so
  // an entry is never in both places). A tree set up before (whose counter
  // exists) is searched too, for entries an earlier version wrote since
  // (a rolling upgrade); these get the ids after the newest.
  // Moving needs one listing of every flat entry (ZooKeeper's C client
  // reads replies of any size: 200,000 names list in 60 ms; Java clients
  // could not). If that listing fails, ZooKeeper is not answering: the
  // commit fails with that error (and is logged), nothing is written, and
  // the next commit tries again; starting the new layout first would give
  // new entries ids below the old ones.
  Status start_journal(Journal& j, const std::optional<FencingToken>& fence) {
    if (int rc = conn_->ensure_path(j.dir); rc != ZOK) {
      return ZkConnection::to_status(rc, "create " + j.dir);
    }
    ZkNode node;
    if (int rc = conn_->get(j.dir, node); rc != ZOK) {
      return ZkConnection::to_status(rc, "read " + j.dir);
    }
    const std::optional<JournalMark> found = parse_mark(node.data);
    j.forget();
    j.loaded = true;
    j.mark = found.value_or(JournalMark{});
    j.version = node.version;
    if (found && bucket_of(found->last) - bucket_of(found->pruned) > kMaxBucketsListed) {
      log_journal(j.dir, "not looking for entries in the flat layout under " + j.dir + ": it has " +
                             std::to_string(bucket_of(found->last) - bucket_of(found->pruned)) +
                             " buckets, too many to list in one reply");
      return ok_status();
    }
    std::vector<std::string> children;
    if (int rc = conn_->children(j.dir, children); rc != ZOK) {
      const Status s = ZkConnection::to_status(rc, "list " + j.dir);
      log_journal(j.dir,
                  "cannot look for entries in the flat layout (left in place, retried on the next "
                  "commit): " +
                      s.message());
      j.forget();
      return s;
    }
    std::vector<std::pair<std::int64_t, std::string>> flat;  // (sequence, name)
    for (const std::string& c : children) {
      const auto n = parse_entry_name(c);
      if (n && n->kind == EntryName::Key::kEmpty) flat.emplace_back(n->id, c);
    }
    std::sort(flat.begin(), flat.end());
    if (flat.empty()) {
      if (found) return ok_status();
      // A new tree (or an empty flat log): write the counter.
      std::vector<ZkOp> ops{{ZkOp::Type::kCheck, j.dir, {}, -1, mark_json(j.mark)}};
      const Status s = send(ops, fence, &j);
      if (!s.ok()) j.forget();
      return s;
    }
    JournalMark mark = j.mark;
    if (!found) mark.floor = mark.pruned = std::max<std::int64_t>(flat.front().first, 1) - 1;
    std::size_t moved = 0;
    constexpr std::size_t kChunk = 500;
    for (std::size_t at = 0; at < flat.size(); at += kChunk) {
      const std::size_t end = std::min(flat.size(), at + kChunk);
      std::vector<std::string> old_paths;
      for (std::size_t i = at; i < end; ++i)
        old_paths.push_back(j.dir + "/" + flat[i].second);
      std::vector<std::optional<ZkNode>> nodes;
      if (int rc = conn_->get_many(old_paths, nodes); rc != ZOK) {
        j.forget();
        return ZkConnection::to_status(rc, "read " + j.dir);
      }
      // The ids: an entry keeps its sequence number when it is newer than
      // the counter, else it gets the next id.
      std::vector<std::int64_t> ids(nodes.size(), 0);
      std::int64_t last = mark.last;
      std::set<std::string> buckets;
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (!nodes[i]) continue;
        ids[i] = flat[at + i].first > last ? flat[at + i].first : last + 1;
        last = ids[i];
        if (!known_.count(bucket_path(j, bucket_of(ids[i])))) {
          buckets.insert(bucket_path(j, bucket_of(ids[i])));
        }
      }
      const std::vector<std::string> bucket_paths(buckets.begin(), buckets.end());
      std::vector<int> versions;
      if (int rc = conn_->exists_many(bucket_paths, versions); rc != ZOK) {
        j.forget();
        return ZkConnection::to_status(rc, "look up " + j.dir + "/b-*");
      }
      std::set<std::string> missing;
      for (std::size_t i = 0; i < bucket_paths.size(); ++i) {
        if (versions[i] == kNone) missing.insert(bucket_paths[i]);
      }
      std::vector<ZkOp> ops;
      std::size_t count = 0;
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (!nodes[i]) continue;  // deleted meanwhile
        ++count;
        const std::string bucket = bucket_path(j, bucket_of(ids[i]));
        if (missing.erase(bucket) > 0) ops.push_back({ZkOp::Type::kCreate, bucket, {}, 0});
        // An entry that cannot be decoded is moved as it is, marked "~".
        mark.last = ids[i];
        const std::string json = mark_json(mark);
        ops.push_back({ZkOp::Type::kCreate,
                       bucket + "/" + entry_name(ids[i], flat_entry_key(nodes[i]->data)),
                       std::move(nodes[i]->data), 0, json, /*with_next=*/true});
        ops.push_back({ZkOp::Type::kDelete, old_paths[i], {}, -1, json});
      }
      if (ops.empty()) continue;
      if (Status s = send(ops, fence, &j); !s.ok()) {
        log_journal(j.dir,
                    "moving entries from the flat layout failed after " + std::to_string(moved) +
                        " (the rest stay in place, retried on the next commit): " + s.message());
        j.forget();
        return s;
      }
      for (const std::string& b : buckets)
        known_.insert(b);
      j.mark = mark;
      moved += count;
    }
    log_journal(j.dir,
                "moved " + std::to_string(moved) + " entries from the flat layout into buckets");
    return ok_status();
  }

  // Deletes the entries out of retention (ids <= the counter's floor) and
  // the buckets they empty, oldest first, in fenced multis that also
  // advance the counter's `pruned`. Best effort: on failure (another
  // writer, the connection) it is logged and resumed by a later commit; the
  // entries stay out of retention meanwhile. Each bucket is listed once
  // (its entries are kept in j.prune_names until deleted), and a call
  // does at most kPruneListsPerCommit listings and
  // kPruneOpsPerCommit deletions.
  void prune(Journal& j, const std::optional<FencingToken>& fence) {
    if (!j.loaded || j.mark.pruned >= j.mark.floor) return;
    JournalMark mark = j.mark;
    std::vector<ZkOp> ops;
    int lists = 0;
    while (mark.pruned < mark.floor && ops.size() < kPruneOpsPerCommit) {
      const std::int64_t bucket = bucket_of(mark.pruned + 1);
      if (j.prune_bucket != bucket) {
        if (lists == kPruneListsPerCommit) break;
        ++lists;
        std::vector<std::string> children;
        const int rc = conn_->children(bucket_path(j, bucket), children);
        if (rc != ZOK && rc != ZNONODE) {
          log_journal(j.dir,
                      "retention: " +
                          ZkConnection::to_status(rc, "list " + bucket_path(j, bucket)).message());
          j.forget();
          return;
        }
        j.prune_bucket = bucket;
        j.prune_bucket_exists = rc == ZOK;
        j.prune_names.clear();
        for (const EntryName& n :
             entry_names(children, 0, std::numeric_limits<std::int64_t>::max()))
          j.prune_names.emplace(n.id, std::string(n.name));
      }
      const std::int64_t bucket_last = (bucket + 1) * kBucketEntries - 1;
      const std::int64_t upto = std::min(mark.floor, bucket_last);
      auto& names = j.prune_names;
      for (auto it = names.begin(); it != names.end() && it->first <= upto;) {
        mark.pruned = std::max(mark.pruned, it->first);
        ops.push_back({ZkOp::Type::kDelete,
                       bucket_path(j, bucket) + "/" + it->second,
                       {},
                       -1,
                       mark_json(mark)});
        it = names.erase(it);
      }
      mark.pruned = upto;
      if (upto == bucket_last) {
        if (j.prune_bucket_exists) {
          ops.push_back({ZkOp::Type::kDelete, bucket_path(j, bucket), {}, -1, mark_json(mark)});
          known_.erase(bucket_path(j, bucket));
        }
        j.prune_bucket = -1;
        names.clear();
      }
    }
    if (ops.empty() || ops.back().mark != mark_json(mark)) {
      ops.push_back({ZkOp::Type::kCheck, j.dir, {}, -1, mark_json(mark)});
    }
    if (Status s = send(ops, fence, &j); !s.ok()) {
      log_journal(j.dir, "retention: " + s.message() + " (resumed by a later commit)");
      j.forget();
      return;
    }
    j.mark.pruned = mark.pruned;
  }

  // Sends the ops as multis of at most max_multi_bytes, each starting with
  // the fence check. A multi holding ops that move the counter of `j` (the
  // batch's journal) ends with a write of j's directory at the version the
  // counter was read with (so each part is atomic with its counter, and a
  // concurrent writer aborts).
  Status send(const std::vector<ZkOp>& ops, const std::optional<FencingToken>& fence,
              Journal* j = nullptr) {
    const std::string counter = j != nullptr ? j->dir : std::string();
    std::size_t begin = 0;
    std::size_t part = 0;
    while (begin < ops.size()) {
      std::size_t end = begin;
      std::size_t bytes = 0;
      const ZkOp* marked = nullptr;  // the part's last op moving the counter
      while (end < ops.size()) {
        std::size_t need = ops[end].path.size() + ops[end].data.size() + 64;
        if (marked == nullptr && !ops[end].mark.empty()) {
          need += counter.size() + ops[end].mark.size() + 64;  // the counter's write
        }
        if (end > begin && !ops[end - 1].with_next && bytes + need > options_.max_multi_bytes) {
          break;
        }
        bytes += need;
        if (!ops[end].mark.empty()) marked = &ops[end];
        ++end;
      }
      std::vector<zoo_op_t> zops;
      std::vector<std::string> created(end - begin + 1);
      std::vector<Stat> stats(end - begin + 2);
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
                               &ZOO_OPEN_ACL_UNSAFE, 0, buf.data(), static_cast<int>(buf.size()));
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
      if (marked != nullptr) {
        zops.emplace_back();
        zoo_set_op_init(&zops.back(), counter.c_str(), marked->mark.data(),
                        static_cast<int>(marked->mark.size()), j->version, &stats[end - begin]);
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
          if (marked != nullptr && i + 1 == results.size()) {
            return ZkConnection::to_status(err, "the journal counter " + counter +
                                                    " changed meanwhile (another writer)" + where);
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
      if (marked != nullptr) ++j->version;
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
  // Writer thread only: the journals appended to, by name.
  std::map<std::string, Journal, std::less<>> journals_;
  // Guarded by mu_: live runs a full scan found, to be indexed.
  std::vector<std::string> unindexed_;
  std::mutex mu_;
  WorkQueue<std::pair<Batch, CommitCallback>> writes_{
      [this](std::pair<Batch, CommitCallback>& item) { write(item); }};  // last: stops first
};

}  // namespace

std::unique_ptr<Store> make_zk_store(std::shared_ptr<ZkConnection> connection,
                                     ZkStoreOptions options) {
  return std::make_unique<ZkStore>(std::move(connection), options);
}

}  // namespace epoch
