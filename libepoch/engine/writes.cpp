// The write-ahead pipeline (store writes queued on the commit queue,
// committed one batch at a time, actions after durability) and the views
// readers see. See engine.h.
#include "engine.h"

namespace epoch::engine {

std::shared_ptr<const Published> Engine::published(const Topo& t) const {
  auto p = std::make_shared<Published>();
  p->id = t.id;
  p->spec = t.spec;
  p->state = t.state;
  p->created = t.created;
  p->updated = t.updated;
  p->next_fire = t.next_fire;
  p->last_fire = t.last_fire;
  p->live_runs.reserve(t.live.size());
  for (std::uint64_t h : t.live) {
    if (const auto r = runs_.find(h); r != runs_.end())
      p->live_runs.push_back(r->second.rec.run.run_id);
  }
  return p;
}

void Engine::mark_view(Topo& t) {
  if (t.view_dirty) return;
  t.view_dirty = true;
  view_dirty_.push_back(t.id);
}

void Engine::publish_views() {
  if (!leader_ || (view_dirty_.empty() && views_published_)) return;
  std::vector<engine::Views::Change> changes;
  changes.reserve(view_dirty_.size());
  for (std::string& id : view_dirty_) {
    const auto it = topologies_.find(id);
    if (it == topologies_.end()) {
      changes.emplace_back(std::move(id), nullptr);
      continue;
    }
    Topo& t = *it->second;
    if (!t.view_dirty) continue;  // listed twice (deleted and created again)
    t.view_dirty = false;
    changes.emplace_back(std::move(id), published(t));
  }
  view_dirty_.clear();
  views_.publish(std::move(changes));
  views_published_ = true;
}

void Engine::write_topology(Topo& t) {
  mark_view(t);
  if (commits_.put_topology(record_of(t), t.version)) ++t.version;
}

void Engine::write_last_fire(Topo& t, Instant fire) {
  t.last_fire = fire;
  mark_view(t);
  commits_.set_last_fire(t.id, fire);
}

void Engine::write_run(Run& r) {
  if (commits_.put_run(r.rec.run, r.rec.version)) ++r.rec.version;
}

void Engine::flush() {
  if (!leader_ || recovering_) return;
  publish_views();
  auto step = commits_.take();
  if (!step) return;
  if (step->batch.empty()) {
    deliver(std::move(step->events), std::move(step->actions));
    flush();  // what the actions wrote
    return;
  }
  step->batch.fence = elector_.fencing_token();
  const std::uint64_t term = term_;
  std::weak_ptr<Engine> weak = shared_from_this();
  store_.commit(
      std::move(step->batch),
      outside_.guard([weak, term, events = std::move(step->events),
                      actions = std::move(step->actions)](CommitResult r) mutable {
        auto self = weak.lock();
        if (!self) return;
        asio::post(self->strand_, [self, term, r = std::move(r), events = std::move(events),
                                   actions = std::move(actions)]() mutable {
          self->commits_.committed();
          if (std::exchange(self->recovery_after_commit_, false)) {
            self->read_stored_state();  // a new term's recovery waited for this commit
            return;
          }
          if (self->term_ != term || !self->leader_) return;
          if (!r.ok()) {
            self->on_store_failure(r.status());
            return;
          }
          self->deliver(std::move(events), std::move(actions));
          self->flush();
        });
      }));
}

void Engine::deliver(std::vector<Event> events, std::vector<std::function<void()>> actions) {
  for (const Event& e : events)
    events_.on_event(e);
  for (auto& a : actions)
    a();
}

void Engine::on_store_failure(const Status&) {
  const bool still_leader = elector_.is_leader();
  on_revoked();
  if (still_leader && !stopped_) {
    std::weak_ptr<Engine> weak = shared_from_this();
    retry_timer_->arm(now() + milliseconds(1000), [weak] {
      if (auto self = weak.lock()) {
        asio::post(self->strand_, [self] {
          if (!self->leader_ && !self->stopped_ && self->elector_.is_leader()) self->on_elected();
        });
      }
    });
  }
}

}  // namespace epoch::engine
