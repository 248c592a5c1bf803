// MemoryStore: the Store seam in memory, with versions and atomic batches.
#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>

#include "epoch/store.h"
#include "journal.h"
#include "run_query.h"

namespace epoch {

void Batch::put_topology(const TopologyRecord& t, std::int64_t expected_version) {
  WriteOp op;
  op.kind = WriteOp::Kind::kPutTopology;
  op.topology_id = t.details.id;
  op.topology = t;
  op.expected_version = expected_version;
  ops.push_back(std::move(op));
}

void Batch::delete_topology(const std::string& id, std::int64_t expected_version) {
  WriteOp op;
  op.kind = WriteOp::Kind::kDeleteTopology;
  op.topology_id = id;
  op.expected_version = expected_version;
  ops.push_back(std::move(op));
}

void Batch::set_last_fire(const std::string& topology_id, Instant fire) {
  WriteOp op;
  op.kind = WriteOp::Kind::kSetLastFire;
  op.topology_id = topology_id;
  op.last_fire = fire;
  ops.push_back(std::move(op));
}

void Batch::put_run(const RunInfo& run, std::int64_t expected_version) {
  WriteOp op;
  op.kind = WriteOp::Kind::kPutRun;
  op.topology_id = run.topology_id;
  op.run_id = run.run_id;
  op.run = run;
  op.expected_version = expected_version;
  ops.push_back(std::move(op));
}

void Batch::delete_run(const std::string& topology_id, const std::string& run_id,
                       std::int64_t expected_version) {
  WriteOp op;
  op.kind = WriteOp::Kind::kDeleteRun;
  op.topology_id = topology_id;
  op.run_id = run_id;
  op.expected_version = expected_version;
  ops.push_back(std::move(op));
}

void Batch::append_journal(std::string journal, JournalEntry entry, std::int64_t keep) {
  WriteOp op;
  op.kind = WriteOp::Kind::kAppendJournal;
  op.journal = std::move(journal);
  op.entry = std::move(entry);
  op.journal_keep = keep;
  ops.push_back(std::move(op));
}

Status check_journal_name(std::string_view name) {
  const auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  const bool ok = !name.empty() && name.size() <= 32 && lower(name.front()) &&
                  std::all_of(name.begin(), name.end(), [&](char c) {
                    return lower(c) || (c >= '0' && c <= '9') || c == '-';
                  });
  if (ok) return ok_status();
  return invalid_argument("journal name '" + std::string(name.substr(0, 64)) +
                          "': expected 1-32 of [a-z0-9-], starting with a letter");
}

Status check_journal_key(std::string_view key) {
  if (key.empty() || valid_name(key)) return ok_status();
  return invalid_argument("journal key '" + std::string(key.substr(0, 64)) +
                          "': expected up to 255 of [0-9a-zA-Z_-]");
}

void Batch::delete_all_runs(const std::string& topology_id) {
  WriteOp op;
  op.kind = WriteOp::Kind::kDeleteAllRuns;
  op.topology_id = topology_id;
  ops.push_back(std::move(op));
}

namespace {

using store::matches;

class MemoryStore final : public Store {
 public:
  std::string_view name() const noexcept override { return "memory"; }

  StatusOr<std::vector<TopologyRecord>> load_topologies() override {
    std::lock_guard lock(mu_);
    std::vector<TopologyRecord> out;
    out.reserve(topologies_.size());
    for (const auto& [id, t] : topologies_) {
      EPOCH_ASSIGN_OR_RETURN(auto r, decode(t));
      out.push_back(std::move(r));
    }
    return out;
  }

  StatusOr<std::optional<TopologyRecord>> load_topology(std::string_view id) override {
    std::lock_guard lock(mu_);
    const auto it = topologies_.find(std::string(id));
    if (it == topologies_.end()) return std::optional<TopologyRecord>();
    EPOCH_ASSIGN_OR_RETURN(auto r, decode(it->second));
    return std::optional<TopologyRecord>(std::move(r));
  }

  StatusOr<std::vector<RunRecord>> load_runs(std::string_view topology_id,
                                             const RunQuery& query) override {
    std::lock_guard lock(mu_);
    std::vector<RunRecord> out;
    const auto it = runs_.find(std::string(topology_id));
    if (it != runs_.end()) {
      for (const auto& [id, r] : it->second) {
        if (matches(r.run, query)) out.push_back(r);
      }
    }
    store::order_and_limit(out, query);
    return out;
  }

  StatusOr<std::optional<RunRecord>> load_run(std::string_view topology_id,
                                              std::string_view run_id) override {
    std::lock_guard lock(mu_);
    const auto it = runs_.find(std::string(topology_id));
    if (it == runs_.end()) return std::optional<RunRecord>();
    const auto r = it->second.find(std::string(run_id));
    if (r == it->second.end()) return std::optional<RunRecord>();
    return std::optional<RunRecord>(r->second);
  }

  StatusOr<std::vector<RunRecord>> load_live_runs() override {
    std::lock_guard lock(mu_);
    std::vector<RunRecord> out;
    for (const auto& [tid, runs] : runs_) {
      for (const auto& [rid, r] : runs) {
        if (!is_terminal(r.run.state)) out.push_back(r);
      }
    }
    return out;
  }

  StatusOr<std::vector<JournalEntry>> load_journal(std::string_view name,
                                                   const JournalQuery& q) override {
    EPOCH_RETURN_IF_ERROR(check_journal_name(name));
    EPOCH_RETURN_IF_ERROR(check_journal_key(q.key));
    std::lock_guard lock(mu_);
    std::vector<JournalEntry> out;
    const auto j = journals_.find(std::string(name));
    if (j == journals_.end()) return out;
    const auto& entries = j->second.entries;
    for (auto it = entries.rbegin(); it != entries.rend() && out.size() < q.limit; ++it) {
      if (q.before_id && it->id >= *q.before_id) continue;
      if (!q.key.empty() && it->key != q.key) continue;
      out.push_back(*it);
    }
    return out;
  }

  void commit(Batch batch, CommitCallback done) override { done(apply(batch)); }

  Status ping() override { return ok_status(); }

 private:
  struct Stored {
    std::string json;  // TopologyDetails
    std::int64_t version = 0;
    std::optional<Instant> last_fire;
  };

  static StatusOr<TopologyRecord> decode(const Stored& s) {
    EPOCH_ASSIGN_OR_RETURN(auto details, topology_details_from_json(s.json));
    TopologyRecord r;
    r.details = std::move(details);
    r.version = s.version;
    r.last_fire = s.last_fire;
    return r;
  }

  CommitResult apply(Batch& batch) {
    EPOCH_RETURN_IF_ERROR(store::journal_of(batch).status());
    std::lock_guard lock(mu_);
    // Check every op against the store as the earlier ops of the batch
    // leave it, then apply all of them.
    std::unordered_map<std::string, std::int64_t> overlay;  // "topology/run" -> version
    overlay.reserve(batch.ops.size());
    const auto key = [](const std::string& tid, const std::string& rid) {
      std::string k;
      k.reserve(tid.size() + rid.size() + 1);
      return k.append(tid).append(1, '/').append(rid);
    };
    std::vector<std::string> cleared;  // topologies whose runs an earlier op deleted
    const auto current = [&](const std::string& tid, const std::string& rid) -> std::int64_t {
      if (const auto it = overlay.find(key(tid, rid)); it != overlay.end()) return it->second;
      if (!rid.empty() && std::find(cleared.begin(), cleared.end(), tid) != cleared.end()) return 0;
      if (rid.empty()) {
        const auto t = topologies_.find(tid);
        return t == topologies_.end() ? 0 : t->second.version;
      }
      const auto rs = runs_.find(tid);
      if (rs == runs_.end()) return 0;
      const auto r = rs->second.find(rid);
      return r == rs->second.end() ? 0 : r->second.version;
    };
    std::vector<std::int64_t> versions;
    for (const WriteOp& op : batch.ops) {
      const bool run = op.kind == WriteOp::Kind::kPutRun || op.kind == WriteOp::Kind::kDeleteRun;
      const std::string rid = run ? op.run_id : std::string();
      if (op.kind == WriteOp::Kind::kSetLastFire) {
        if (current(op.topology_id, "") == 0) {
          return aborted("version conflict on topology " + op.topology_id +
                         ": cannot record a fire of a topology that does not exist");
        }
        versions.push_back(0);
        continue;
      }
      if (op.kind == WriteOp::Kind::kAppendJournal) {
        versions.push_back(0);
        continue;
      }
      if (op.kind == WriteOp::Kind::kDeleteAllRuns) {
        const std::string prefix = op.topology_id + "/";
        std::erase_if(overlay, [&](const auto& e) {
          return e.first.size() > prefix.size() && e.first.compare(0, prefix.size(), prefix) == 0;
        });
        cleared.push_back(op.topology_id);
        versions.push_back(0);
        continue;
      }
      const std::int64_t have = current(op.topology_id, rid);
      if (op.expected_version != kAnyVersion && op.expected_version != have) {
        return aborted("version conflict on " + std::string(run ? "run " : "topology ") +
                       op.topology_id + (run ? "/" + op.run_id : "") + ": expected " +
                       std::to_string(op.expected_version) + ", found " + std::to_string(have));
      }
      const bool put = op.kind == WriteOp::Kind::kPutRun || op.kind == WriteOp::Kind::kPutTopology;
      overlay[key(op.topology_id, rid)] = put ? have + 1 : 0;
      versions.push_back(put ? have + 1 : 0);
    }
    for (std::size_t i = 0; i < batch.ops.size(); ++i) {
      WriteOp& op = batch.ops[i];
      switch (op.kind) {
        case WriteOp::Kind::kPutTopology: {
          Stored& t = topologies_[op.topology_id];
          t.json = to_json(op.topology->details);
          t.version = versions[i];
          if (op.topology->last_fire) t.last_fire = op.topology->last_fire;
          break;
        }
        case WriteOp::Kind::kDeleteTopology:
          topologies_.erase(op.topology_id);
          break;
        case WriteOp::Kind::kSetLastFire:
          topologies_[op.topology_id].last_fire = op.last_fire;
          break;
        case WriteOp::Kind::kPutRun: {
          RunRecord& r = runs_[op.topology_id][op.run_id];
          r.run = std::move(*op.run);
          r.version = versions[i];
          break;
        }
        case WriteOp::Kind::kDeleteRun: {
          const auto rs = runs_.find(op.topology_id);
          if (rs != runs_.end()) rs->second.erase(op.run_id);
          break;
        }
        case WriteOp::Kind::kDeleteAllRuns:
          runs_.erase(op.topology_id);
          break;
        case WriteOp::Kind::kAppendJournal: {
          Journal& j = journals_[op.journal];
          j.entries.push_back(std::move(*op.entry));
          j.entries.back().id = ++j.last_id;
          while (op.journal_keep > 0 &&
                 static_cast<std::int64_t>(j.entries.size()) > op.journal_keep)
            j.entries.pop_front();
          break;
        }
      }
    }
    return versions;
  }

  std::mutex mu_;
  struct Journal {
    std::deque<JournalEntry> entries;  // oldest first
    std::int64_t last_id = 0;
  };
  std::map<std::string, Journal> journals_;
  std::map<std::string, Stored> topologies_;
  std::map<std::string, std::map<std::string, RunRecord>> runs_;
};

}  // namespace

std::unique_ptr<Store> make_memory_store() {
  return std::make_unique<MemoryStore>();
}

StatusOr<std::vector<std::string>> Store::load_runs_json(std::string_view topology_id,
                                                         const RunQuery& query) {
  EPOCH_ASSIGN_OR_RETURN(auto runs, load_runs(topology_id, query));
  std::vector<std::string> out;
  out.reserve(runs.size());
  for (const RunRecord& r : runs)
    out.push_back(to_json(r.run));
  return out;
}

}  // namespace epoch
