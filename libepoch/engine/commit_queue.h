// Private: the engine's write-ahead queue. Handlers on the strand queue the
// store writes that make their changes durable, the events that describe
// them and the actions that follow from them (launch, kill, replies); the
// shell (scheduler.cpp) takes a batch, commits it, and delivers the events
// and runs the actions only once that batch is durable.
//
// - Writes to one record (a topology, its last fire, a run) queued while
//   no commit holds them are merged: the op already queued takes the newer
//   content and keeps its expected version.
// - One commit is in flight at a time; what is queued meanwhile rides in
//   the next batch, so a burst of work costs few commits.
// - A batch holds at most `max_batch_ops` ops; the rest waits for the next
//   one, and the events and actions ride with the last piece.
// Not thread-safe: the strand owns it.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "epoch/events.h"
#include "epoch/store.h"

namespace epoch::engine {

// A record writes are merged into.
struct RecordKey {
  enum class Kind : std::uint8_t { kTopology, kLastFire, kRun };
  Kind kind = Kind::kRun;
  std::string topology;
  std::string run;  // kRun only

  bool operator==(const RecordKey&) const = default;
};

struct RecordKeyHash {
  std::size_t operator()(const RecordKey& k) const noexcept;
};

class CommitQueue {
 public:
  // 0: no limit.
  explicit CommitQueue(std::size_t max_batch_ops) : max_batch_ops_(max_batch_ops) {}

  // Writes a topology record (kMustNotExist: creates it). Returns true when
  // a new write was queued — the stored version then goes up by one — and
  // false when the content was merged into a queued write.
  bool put_topology(const TopologyRecord& record, std::int64_t expected_version);
  // The last fire handled (no version).
  void set_last_fire(const std::string& topology_id, Instant fire);
  // Writes a run record kept in memory; as put_topology.
  bool put_run(const RunInfo& run, std::int64_t expected_version);
  // Creates a run record that is written once and never again (SKIPPED,
  // MISSED): nothing merges into it.
  void add_run(const RunInfo& run);
  // Deletes a topology and all its runs. Writes to its records queued
  // before are not merged into by writes queued after.
  void delete_topology(const std::string& id);
  void delete_run(const std::string& topology_id, const std::string& run_id);

  // `fn` runs once everything queued so far is durable.
  void after(std::function<void()> fn) { actions_.push_back(std::move(fn)); }
  // `e` goes out once everything queued so far is durable (before the
  // actions queued with it).
  void emit(Event e) { events_.push_back(std::move(e)); }

  // What to do now.
  struct Step {
    Batch batch;  // empty: nothing to write; deliver and run what follows now
    std::vector<Event> events;
    std::vector<std::function<void()>> actions;
  };
  // Nothing while a commit is in flight or nothing is queued. A non-empty
  // batch is in flight until committed() is called.
  std::optional<Step> take();
  void committed() { in_flight_ = false; }

  // Drops everything queued (leadership lost). A commit in flight stays in
  // flight until committed().
  void clear();

  bool in_flight() const noexcept { return in_flight_; }
  std::size_t queued_ops() const noexcept { return pending_.ops.size(); }

 private:
  std::size_t* merge_slot(RecordKey key);
  void reindex();

  const std::size_t max_batch_ops_;
  Batch pending_;
  std::unordered_map<RecordKey, std::size_t, RecordKeyHash> index_;  // key -> op in pending_
  std::vector<std::function<void()>> actions_;
  std::vector<Event> events_;
  bool in_flight_ = false;
};

}  // namespace epoch::engine
