// Private: what readers see of the topologies. The strand publishes the
// views of the topologies it changed at each flush; get_topology and
// list_topologies read them under a shared lock on the caller's thread, so
// that reads never queue behind a burst of fires. Nothing is published
// while a leader recovers (or on a node that is not the leader): readers
// then ask the strand. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "epoch/scheduler.h"

namespace epoch::engine {

// One topology's published state: immutable once published.
struct Published {
  std::string id;
  std::shared_ptr<const Topology> spec;
  TopologyState state = TopologyState::kActive;
  Instant created{}, updated{};
  std::optional<Instant> next_fire, last_fire;
  std::vector<std::string> live_runs;

  TopologyView view() const;
};

class Views {
 public:
  // The published view of `id`: `ready` is false while nothing is
  // published; `view` is null when there is no such topology.
  struct Lookup {
    bool ready = false;
    std::shared_ptr<const Published> view;
  };
  Lookup find(const std::string& id) const;
  // Every published view (nullopt while nothing is published).
  std::optional<std::vector<TopologyView>> all() const;

  // A view to publish (`view`), or to withdraw (nullptr: deleted).
  using Change = std::pair<std::string, std::shared_ptr<const Published>>;
  // Applies `changes`; from now on readers are answered from the views.
  void publish(std::vector<Change> changes);
  // Withdraws every view: readers ask the strand until the next publish.
  void withdraw();
  bool ready() const;

 private:
  mutable std::shared_mutex mu_;  // guards views_ and ready_
  std::map<std::string, std::shared_ptr<const Published>> views_;
  bool ready_ = false;
};

}  // namespace epoch::engine
