#include "commit_queue.h"

#include <functional>
#include <iterator>

namespace epoch::engine {

std::size_t RecordKeyHash::operator()(const RecordKey& k) const noexcept {
  const std::hash<std::string> h;
  std::size_t seed = h(k.topology);
  seed ^= h(k.run) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  return seed ^ static_cast<std::size_t>(k.kind);
}

// The queued op `key` merges into, or nullptr after noting that the op
// about to be appended is the one to merge into from now on.
std::size_t* CommitQueue::merge_slot(RecordKey key) {
  const auto [it, inserted] = index_.try_emplace(std::move(key), pending_.ops.size());
  return inserted ? nullptr : &it->second;
}

bool CommitQueue::put_topology(const TopologyRecord& record, std::int64_t expected_version) {
  if (std::size_t* i = merge_slot({RecordKey::Kind::kTopology, record.details.id, {}})) {
    pending_.ops[*i].topology = record;
    return false;
  }
  pending_.put_topology(record, expected_version);
  return true;
}

void CommitQueue::set_last_fire(const std::string& topology_id, Instant fire) {
  if (std::size_t* i = merge_slot({RecordKey::Kind::kLastFire, topology_id, {}})) {
    pending_.ops[*i].last_fire = fire;
    return;
  }
  pending_.set_last_fire(topology_id, fire);
}

bool CommitQueue::put_run(const RunInfo& run, std::int64_t expected_version) {
  if (std::size_t* i = merge_slot({RecordKey::Kind::kRun, run.topology_id, run.run_id})) {
    pending_.ops[*i].run = run;
    return false;
  }
  pending_.put_run(run, expected_version);
  return true;
}

void CommitQueue::add_run(const RunInfo& run) {
  pending_.put_run(run, kMustNotExist);
}

void CommitQueue::delete_topology(const std::string& id) {
  std::erase_if(index_, [&](const auto& entry) { return entry.first.topology == id; });
  pending_.delete_topology(id);
  pending_.delete_all_runs(id);
}

void CommitQueue::delete_run(const std::string& topology_id, const std::string& run_id) {
  index_.erase({RecordKey::Kind::kRun, topology_id, run_id});
  pending_.delete_run(topology_id, run_id);
}

std::optional<CommitQueue::Step> CommitQueue::take() {
  if (in_flight_) return std::nullopt;
  if (pending_.ops.empty() && events_.empty() && actions_.empty()) return std::nullopt;
  Step step;
  if (max_batch_ops_ > 0 && pending_.ops.size() > max_batch_ops_) {
    const auto split = pending_.ops.begin() + static_cast<std::ptrdiff_t>(max_batch_ops_);
    step.batch.ops.assign(std::make_move_iterator(pending_.ops.begin()),
                          std::make_move_iterator(split));
    pending_.ops.erase(pending_.ops.begin(), split);
    reindex();  // what stays queued can still be merged into
  } else {
    step.batch = std::exchange(pending_, Batch{});
    index_.clear();
    step.events = std::exchange(events_, {});
    step.actions = std::exchange(actions_, {});
  }
  in_flight_ = !step.batch.empty();
  return step;
}

void CommitQueue::reindex() {
  index_.clear();
  for (std::size_t i = 0; i < pending_.ops.size(); ++i) {
    const WriteOp& op = pending_.ops[i];
    switch (op.kind) {
      case WriteOp::Kind::kPutTopology:
        index_[{RecordKey::Kind::kTopology, op.topology_id, {}}] = i;
        break;
      case WriteOp::Kind::kSetLastFire:
        index_[{RecordKey::Kind::kLastFire, op.topology_id, {}}] = i;
        break;
      case WriteOp::Kind::kPutRun:
        // A create is not merged into after a split (a later write is
        // queued after it instead): it may be a record written only once.
        if (op.expected_version != kMustNotExist) {
          index_[{RecordKey::Kind::kRun, op.topology_id, op.run_id}] = i;
        }
        break;
      default:
        break;
    }
  }
}

void CommitQueue::clear() {
  pending_ = Batch{};
  index_.clear();
  actions_.clear();
  events_.clear();
}

}  // namespace epoch::engine
