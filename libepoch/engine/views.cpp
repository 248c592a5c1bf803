#include "views.h"

#include <mutex>

namespace epoch::engine {

TopologyView Published::view() const {
  TopologyView v;
  v.details.id = id;
  v.details.topology = *spec;
  v.details.state = state;
  v.details.created = created;
  v.details.updated = updated;
  v.next_fire = next_fire;
  v.last_fire = last_fire;
  v.live_runs = live_runs;
  return v;
}

Views::Lookup Views::find(const std::string& id) const {
  std::shared_lock lock(mu_);
  if (!ready_) return {};
  const auto it = views_.find(id);
  return {true, it == views_.end() ? nullptr : it->second};
}

std::optional<std::vector<TopologyView>> Views::all() const {
  std::vector<std::shared_ptr<const Published>> all;
  {
    std::shared_lock lock(mu_);
    if (!ready_) return std::nullopt;
    all.reserve(views_.size());
    for (const auto& [id, p] : views_)
      all.push_back(p);
  }
  std::vector<TopologyView> out;
  out.reserve(all.size());
  for (const auto& p : all)
    out.push_back(p->view());
  return out;
}

void Views::publish(std::vector<Change> changes) {
  std::unique_lock lock(mu_);
  for (auto& [id, p] : changes) {
    if (p) {
      views_[id] = std::move(p);
    } else {
      views_.erase(id);
    }
  }
  ready_ = true;
}

void Views::withdraw() {
  std::map<std::string, std::shared_ptr<const Published>> old;
  {
    std::unique_lock lock(mu_);
    ready_ = false;
    old.swap(views_);
  }  // freed outside the lock
}

bool Views::ready() const {
  std::shared_lock lock(mu_);
  return ready_;
}

}  // namespace epoch::engine
