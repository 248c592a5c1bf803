// Election and recovery: the store is read off the strand, the state
// rebuilt, missed fires planned by the catch-up policy, and runs queued
// behind the overlap policy released in turn. See engine.h.
#include <algorithm>

#include "engine.h"

namespace epoch::engine {

void Engine::on_elected() {
  if (stopped_ || leader_) return;
  ++term_;
  leader_ = true;
  leader_flag_ = true;
  recovering_ = true;
  if (commits_.in_flight()) {
    recovery_after_commit_ = true;  // read_stored_state() when it is answered
    return;
  }
  read_stored_state();
}

void Engine::read_stored_state() {
  read_then(
      [](Store& store) {
        Stored stored;
        stored.topologies = store.load_topologies();
        stored.live = store.load_live_runs();
        return stored;
      },
      [term = term_](Engine& self, Stored stored) {
        if (self.term_ == term) self.recovered(std::move(stored));
      });
}

void Engine::recovered(Stored stored) {
  recovering_ = false;
  Status s = stored.topologies.status();
  if (s.ok()) s = stored.live.status();
  if (!s.ok()) {
    on_store_failure(s);  // answers what waited: not the leader
    return;
  }
  recover(std::move(*stored.topologies), std::move(*stored.live));
  arm_timer();
  run_deferred();  // then flushed by read_then
}

void Engine::run_deferred() {
  auto deferred = std::exchange(deferred_, {});
  for (auto& f : deferred)
    f();
}

void Engine::on_revoked() {
  if (!leader_) return;
  ++term_;
  leader_ = false;
  leader_flag_ = false;
  recovering_ = false;
  recovery_after_commit_ = false;
  if (timer_) timer_->cancel();
  armed_.reset();
  timers_.clear();
  for (auto& [h, r] : runs_) {
    for (auto& [name, ctl] : r.ctl) {
      if (ctl.launched_attempt != 0) {
        const auto it = r.rec.run.tasks.find(name);
        if (it != r.rec.run.tasks.end()) executor_.detach(it->second.task_id);
      }
    }
  }
  topologies_.clear();
  topo_handles_.clear();
  view_dirty_.clear();
  views_.withdraw();
  views_published_ = false;
  runs_.clear();
  run_index_.clear();
  commits_.clear();
  run_deferred();  // answered: not the leader
}

Engine::Topo& Engine::add_topology(TopologyRecord rec) {
  auto t = std::make_unique<Topo>();
  t->handle = ++next_handle_;
  t->id = rec.details.id;
  t->state = rec.details.state;
  t->created = rec.details.created;
  t->updated = rec.details.updated;
  t->version = rec.version;
  t->last_fire = rec.last_fire;
  t->spec = std::make_shared<const Topology>(std::move(rec.details.topology));
  Topo& ref = *t;
  mark_view(ref);
  topo_handles_[ref.handle] = &ref;
  topologies_[ref.id] = std::move(t);
  return ref;
}

Engine::Run& Engine::add_run(Topo* t, RunRecord rec, std::shared_ptr<const Topology> spec) {
  const std::uint64_t h = ++next_handle_;
  Run& r = runs_[h];
  r.handle = h;
  r.rec = std::move(rec);
  r.spec = std::move(spec);
  run_index_[run_key(r.rec.run.topology_id, r.rec.run.run_id)] = h;
  if (t != nullptr) {
    t->live.push_back(h);
    mark_view(*t);
  }
  return r;
}

void Engine::recover(std::vector<TopologyRecord> topologies, std::vector<RunRecord> live) {
  const Instant t_now = now();
  for (TopologyRecord& rec : topologies) {
    Topo& t = add_topology(std::move(rec));
    if (!prepare_trigger(t).ok()) continue;  // kept and listed, never fired
  }
  // Oldest first, so that a policy letting one run go at a time lets the
  // oldest go and queues the others behind it.
  std::sort(live.begin(), live.end(), [](const RunRecord& a, const RunRecord& b) {
    return nominal_of(a.run) < nominal_of(b.run);
  });
  std::vector<std::uint64_t> resume;
  for (RunRecord& rec : live) {
    const auto it = topologies_.find(rec.run.topology_id);
    if (it == topologies_.end()) {
      // Its topology is gone: close the record.
      Run& r = add_run(nullptr, std::move(rec), nullptr);
      finish_run(r, TaskState::kFailed, "topology was deleted");
      continue;
    }
    Topo& t = *it->second;
    Run& r = add_run(&t, std::move(rec), t.spec);
    r.maybe_launched = !r.rec.run.queued;
    if (r.rec.run.run_type == RunType::kScheduled) {
      hold(t, r);
    } else {
      resume.push_back(r.handle);
    }
  }
  for (auto& [id, t] : topologies_) {
    if (t->cron || t->at_time) catch_up(*t, t_now);
    release_waiting(*t);
  }
  for (std::uint64_t h : resume) {
    if (auto it = runs_.find(h); it != runs_.end()) advance(it->second);
  }
  if (options_.retention_interval.count() > 0) {
    push_due(t_now + options_.retention_interval, DueKind::kRetention, 0, 0);
  }
}

void Engine::catch_up(Topo& t, Instant t_now) {
  // Before any fire was handled: the fires a create schedules (operations.cpp)
  // — a cron's strictly after the creation instant, an AT's even if due
  // before it — so that a restart counts the same fires a running leader does.
  const Instant first = t.at_time ? std::min(t.created, *t.at_time) - milliseconds(1) : t.created;
  const Instant from = t.last_fire.value_or(first);
  std::vector<Instant> missed;
  constexpr std::size_t kMaxRecorded = 100000;
  std::optional<Instant> f = next_fire_after(t, from);
  while (f && *f <= t_now && missed.size() < kMaxRecorded) {
    missed.push_back(*f);
    f = next_fire_after(t, *f);
  }
  if (!missed.empty()) {
    for (const engine::FireDecision& d : engine::plan_catch_up(
             catch_up_of(*t.spec), t.state == TopologyState::kPaused, missed, t_now)) {
      if (!d.run) {
        record_not_run(t, d.nominal, d.state, d.reason);
        continue;
      }
      Run& r = runs_.at(start_run(t, RunType::kScheduled, d.nominal,
                                  make_run_id(RunType::kScheduled, d.nominal), /*hold=*/true));
      hold(t, r);
    }
    // Pathological gaps (a topology firing every second for weeks): past
    // kMaxRecorded the fires are not recorded one by one; scheduling
    // resumes from now.
    write_last_fire(t, missed.size() == kMaxRecorded && f && *f <= t_now ? t_now : missed.back());
  }
  schedule_next_fire(t, std::max(t.last_fire.value_or(from), t_now));
}

void Engine::hold(Topo& t, Run& r) {
  r.waiting = true;
  if (!r.maybe_launched && !r.rec.run.queued) {
    r.rec.run.queued = true;
    touch(r);
  }
  t.waiting.push_back(r.handle);
  const Instant expiry = saturating_add(nominal_of(r.rec.run), engine::max_queued_wait(*t.spec));
  push_due(std::max(expiry, now()), DueKind::kWaitExpiry, r.handle, 0);
}

void Engine::expire_waiting(Run& r, RunState state, const std::string& why) {
  if (!nothing_started(r.rec.run)) return;
  if (const auto it = topologies_.find(r.rec.run.topology_id); it != topologies_.end()) {
    std::erase(it->second->waiting, r.handle);
  }
  r.waiting = false;
  if (!r.maybe_launched) {
    finish_run(r, TaskState::kCancelled, why, state);
    return;
  }
  kill_in_case(r);
  finish_run(r, TaskState::kCancelled,
             why + "; its task is killed in case an earlier leader launched it");
}

bool Engine::nothing_started(const RunInfo& run) {
  return std::all_of(run.tasks.begin(), run.tasks.end(), [](const auto& kv) {
    return kv.second.state == TaskState::kPending && !kv.second.started && kv.second.attempt == 1;
  });
}

void Engine::kill_in_case(const Run& r) {
  for (const auto& [name, ti] : r.rec.run.tasks) {
    if (ti.state == TaskState::kPending) kill_soon(ti.task_id);
  }
}

void Engine::release_waiting(Topo& t) {
  while (!t.waiting.empty()) {
    if (engine::overlap_verdict(overlap_of(*t.spec), live_runs(t), RunType::kScheduled,
                                /*count_waiting=*/false)
            .kind == Verdict::kRefuse) {
      return;
    }
    const std::uint64_t h = t.waiting.front();
    t.waiting.erase(t.waiting.begin());
    const auto it = runs_.find(h);
    if (it == runs_.end()) continue;
    Run& r = it->second;
    r.waiting = false;
    if (r.rec.run.queued) {
      r.rec.run.queued = false;  // stored before the launch below
      touch(r);
    }
    after([this, h] {
      if (auto found = runs_.find(h); found != runs_.end()) advance(found->second);
    });
  }
}

std::vector<engine::LiveRun> Engine::live_runs(const Topo& t) const {
  std::vector<engine::LiveRun> out;
  out.reserve(t.live.size());
  for (std::uint64_t h : t.live) {
    const auto it = runs_.find(h);
    if (it == runs_.end()) continue;
    const Run& r = it->second;
    out.push_back({r.rec.run.run_id, r.rec.run.run_type == RunType::kScheduled, r.waiting});
  }
  return out;
}

}  // namespace epoch::engine
