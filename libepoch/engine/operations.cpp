// The operations: create, update, pause/resume, delete, run now, kill a
// task. See engine.h.
#include <algorithm>

#include "engine.h"

namespace epoch::engine {

void Engine::do_create(Topology topology, Callback<TopologyDetails> done) {
  if (!leader_) return done(not_leader());
  if (Status s = restore_redacted_secrets(topology, nullptr); !s.ok()) return done(s);
  if (Status s = validate(topology); !s.ok()) return done(s);
  const std::string id = topology.name;
  if (topologies_.count(id)) {
    return done(already_exists("Topology " + id + " already exists with ID: " + id));
  }
  TopologyRecord rec;
  rec.details.id = id;
  rec.details.topology = std::move(topology);
  rec.details.state = TopologyState::kActive;
  rec.details.created = rec.details.updated = now();
  Topo& t = add_topology(std::move(rec));
  const TopologyDetails details = details_of(t);
  if (Status s = prepare_trigger(t); !s.ok()) {
    topo_handles_.erase(t.handle);
    topologies_.erase(id);
    return done(s);
  }
  commits_.put_topology(record_of(t), kMustNotExist);
  t.version = 1;
  // AT triggers in the past fire at once (nothing fires before creation).
  schedule_next_fire(t, t.at_time ? std::min(now(), *t.at_time - milliseconds(1)) : now());
  emit_topology(Event::Type::kTopologyCreated, details);
  after([done = std::move(done), details] { done(details); });
}

void Engine::do_update(Topology topology, Callback<TopologyDetails> done) {
  if (!leader_) return done(not_leader());
  const auto it = topologies_.find(topology.name);
  if (it == topologies_.end()) return done(not_found("Topology not found: " + topology.name));
  Topo& t = *it->second;
  // A secret shown redacted to the caller, sent back as it was, keeps its value.
  if (Status s = restore_redacted_secrets(topology, t.spec.get()); !s.ok()) return done(s);
  if (Status s = validate(topology); !s.ok()) return done(s);
  const bool trigger_changed = !(t.spec->trigger == topology.trigger);
  const auto old_spec = t.spec;
  t.spec = std::make_shared<const Topology>(topology);
  if (Status s = prepare_trigger(t); !s.ok()) {
    t.spec = old_spec;
    prepare_trigger(t).ok();
    return done(s);
  }
  t.updated = now();
  write_topology(t);
  if (trigger_changed) {
    ++t.gen;
    schedule_next_fire(t, std::max(now(), t.last_fire.value_or(now())));
  }
  const TopologyDetails details = details_of(t);
  emit_topology(Event::Type::kTopologyUpdated, details);
  after([done = std::move(done), details] { done(details); });
}

void Engine::do_set_paused(const std::string& id, bool paused, Callback<TopologyDetails> done) {
  if (!leader_) return done(not_leader());
  const auto it = topologies_.find(id);
  if (it == topologies_.end()) return done(not_found("Topology not found: " + id));
  Topo& t = *it->second;
  const TopologyState target = paused ? TopologyState::kPaused : TopologyState::kActive;
  if (t.state != target) {
    t.state = target;
    t.updated = now();
    write_topology(t);
    emit_topology(paused ? Event::Type::kTopologyPaused : Event::Type::kTopologyResumed,
                  details_of(t));
    // Queued runs whose turn has not come are fires not yet started: a
    // pause skips them, as it skips fires.
    if (paused) {
      const std::vector<std::uint64_t> queued = t.waiting;  // expire_waiting edits it
      for (std::uint64_t h : queued) {
        if (auto r = runs_.find(h); r != runs_.end()) {
          expire_waiting(r->second, RunState::kSkipped, "topology was paused before its turn came");
        }
      }
    }
  }
  after([done = std::move(done), details = details_of(t)] { done(details); });
}

void Engine::do_remove(const std::string& id, bool kill_running, Callback<bool> done) {
  if (!leader_) return done(not_leader());
  const auto it = topologies_.find(id);
  if (it == topologies_.end()) return done(not_found("Topology not found: " + id));
  Topo& t = *it->second;
  for (std::uint64_t h : t.live) {
    Run& r = runs_.at(h);
    for (auto& [name, ti] : r.rec.run.tasks) {
      if (r.ctl[name].launched_attempt == 0) continue;
      const std::string task_id = ti.task_id;
      const bool live = !is_terminal(ti.state);
      after([this, task_id, live, kill_running] {
        executor_.detach(task_id);
        if (kill_running && live) executor_.kill(task_id, [](Status) {});
      });
    }
    run_index_.erase(run_key(r.rec.run.topology_id, r.rec.run.run_id));
    runs_.erase(h);
  }
  TopologyDetails details = details_of(t);
  details.state = TopologyState::kDeleted;
  commits_.delete_topology(id);
  topo_handles_.erase(t.handle);
  view_dirty_.push_back(id);  // unpublished at the next flush
  topologies_.erase(it);
  emit_topology(Event::Type::kTopologyDeleted, details);
  after([done = std::move(done)] { done(true); });
}

void Engine::do_run_now(const std::string& id, Callback<std::string> done,
                        std::optional<Instant> checked) {
  if (!leader_) return done(not_leader());
  const auto it = topologies_.find(id);
  if (it == topologies_.end()) return done(not_found("No such topology: " + id));
  Topo& t = *it->second;
  if (auto v = engine::overlap_verdict(overlap_of(*t.spec), live_runs(t), RunType::kInstant);
      v.kind == Verdict::kRefuse) {
    return done(failed_precondition("topology " + id + ": " + v.reason));
  }
  Instant at = checked.value_or(now());
  while (run_index_.count(run_key(id, make_run_id(RunType::kInstant, at))))
    at += milliseconds(1);
  if (checked && at == *checked) {
    std::string run_id = make_run_id(RunType::kInstant, at);
    start_run(t, RunType::kInstant, at, run_id);
    after([done = std::move(done), run_id] { done(run_id); });
    return;
  }
  read_then(
      [id, at](Store& store) {
        Instant free = at;
        // An unreadable store answers "free": the commit's create-only
        // write catches a real collision then.
        for (;;) {
          const auto r = store.load_run(id, make_run_id(RunType::kInstant, free));
          if (!r.ok() || !r->has_value()) break;
          free += milliseconds(1);
        }
        return free;
      },
      [term = term_, id, done = std::move(done)](Engine& self, Instant free) mutable {
        if (self.term_ != term) return done(not_leader());
        self.do_run_now(id, std::move(done), free);
      });
}

void Engine::do_kill_task(const std::string& tid, const std::string& rid, const std::string& name,
                          Callback<bool> done) {
  if (!leader_) return done(not_leader());
  Run* r = run_by_id(tid, rid);
  if (r == nullptr) {
    return done(
        not_found("No task exists for " + tid + "/" + rid + "/" + name + " (no such live run)"));
  }
  const auto ti = r->rec.run.tasks.find(name);
  if (ti == r->rec.run.tasks.end()) {
    return done(not_found("No task found for the provided id"));
  }
  TaskCtl& ctl = r->ctl[name];
  if (is_terminal(ti->second.state) || ctl.launched_attempt == 0) {
    return done(failed_precondition("task " + name + " of run " + rid + " is not running"));
  }
  ctl.killed = true;
  const std::string task_id = ti->second.task_id;
  std::weak_ptr<Engine> weak = shared_from_this();
  auto kill = [this, weak, task_id, done = std::move(done)]() mutable {
    executor_.kill(task_id, outside_.guard([weak, done = std::move(done)](Status s) mutable {
      auto self = weak.lock();
      if (!self) return;
      asio::post(self->strand_, [s, done = std::move(done)] {
        if (s.ok()) {
          done(true);
        } else {
          done(s);
        }
      });
    }));
  };
  // An in-process launch waiting for its start to be stored: the kill
  // follows it (actions run in order).
  if (ctl.claim_pending()) return after(std::move(kill));
  kill();
}

}  // namespace epoch::engine
