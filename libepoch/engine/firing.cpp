// Timers and fires: what a fire does (run, skip, miss, defer, replace),
// and retention. See engine.h.
#include "engine.h"

namespace epoch::engine {

void Engine::push_due(Instant at, DueKind kind, std::uint64_t key, std::uint64_t gen,
                      std::string task, Instant nominal) {
  const std::int64_t ms = to_epoch_millis(at);
  timers_.push(Due{ms, kind, key, gen, std::move(task), to_epoch_millis(nominal)});
  if (!in_timer_ && (!armed_ || ms < *armed_)) arm_timer();
}

void Engine::arm_timer() {
  const auto earliest = timers_.earliest();
  if (!earliest || !leader_) return;
  const std::int64_t at = *earliest;
  if (armed_ && *armed_ == at) return;
  armed_ = at;
  std::weak_ptr<Engine> weak = shared_from_this();
  const std::uint64_t term = term_;
  timer_->arm(from_epoch_millis(at), [weak, term] {
    if (auto self = weak.lock()) {
      asio::post(self->strand_, [self, term] {
        if (self->term_ != term) return;
        self->armed_.reset();
        self->on_timer();
        self->flush();
      });
    }
  });
}

void Engine::schedule_next_fire(Topo& t, Instant after) {
  t.next_fire = next_fire_after(t, after);
  mark_view(t);
  // A fire is handled up to prepare_ahead before its nominal instant: the
  // run is stored then, and its first task launches at the nominal instant.
  if (t.next_fire) {
    push_due(*t.next_fire - options_.prepare_ahead, DueKind::kFire, t.handle, t.gen, {},
             *t.next_fire);
  }
}

void Engine::on_timer() {
  in_timer_ = true;  // arm once, at the end
  const std::int64_t t_now = to_epoch_millis(now());
  timers_.take_due(t_now, [this](Due& d) { dispatch(d); });
  in_timer_ = false;
  arm_timer();
}

void Engine::dispatch(Due& d) {
  switch (d.kind) {
    case DueKind::kFire:
      if (Topo* t = topo_by_handle(d.key); t != nullptr && t->gen == d.gen) {
        on_fire(*t, from_epoch_millis(d.nominal));
      }
      break;
    case DueKind::kRetry:
    case DueKind::kTaskTimeout:
    case DueKind::kUnknownTimeout:
      on_run_timer(d);
      break;
    case DueKind::kRunningLong:
      on_running_long(d.key);
      break;
    case DueKind::kWaitExpiry:
      if (auto it = runs_.find(d.key); it != runs_.end() && it->second.waiting) {
        const Instant nominal = nominal_of(it->second.rec.run);
        expire_waiting(it->second, RunState::kMissed,
                       "its turn did not come within " +
                           describe_ms(std::chrono::duration_cast<milliseconds>(now() - nominal)) +
                           " of its fire (the catch-up window, or the start deadline): "
                           "earlier runs of the topology were still going");
      }
      break;
    case DueKind::kRetention:
      prune();
      if (options_.retention_interval.count() > 0) {
        push_due(now() + options_.retention_interval, DueKind::kRetention, 0, 0);
      }
      break;
  }
}

void Engine::on_fire(Topo& t, Instant nominal) {
  using Kind = FireVerdict::Kind;
  const FireVerdict v =
      fire_verdict(*t.spec, t.state == TopologyState::kPaused, live_runs(t), nominal, now());
  if (v.kind == Kind::kDefer) {
    push_due(nominal, DueKind::kFire, t.handle, t.gen, {}, nominal);
    return;
  }
  write_last_fire(t, nominal);
  switch (v.kind) {
    case Kind::kSkip:
      record_not_run(t, nominal, RunState::kSkipped, v.reason);
      break;
    case Kind::kMiss:
      record_not_run(t, nominal, RunState::kMissed, v.reason);
      break;
    case Kind::kReplace:
    case Kind::kRun: {
      const std::string run_id = make_run_id(RunType::kScheduled, nominal);
      if (v.kind == Kind::kReplace) {
        for (std::uint64_t h : std::vector<std::uint64_t>(t.live))
          replace_run(runs_.at(h), run_id);
      }
      start_run(t, RunType::kScheduled, nominal, run_id);
      break;
    }
    case Kind::kDefer:
      break;
  }
  schedule_next_fire(t, nominal);
}

RunInfo Engine::new_run(const Topo& t, RunType type, Instant nominal, std::string run_id,
                        RunState state, Instant t_now,
                        std::optional<Instant> first_not_before) const {
  RunInfo r;
  r.topology_id = t.id;
  r.run_id = std::move(run_id);
  r.state = state;
  r.message = run_message(state);
  r.run_type = type;
  r.created = r.updated = t_now;
  r.scheduled_time = nominal;
  for (const Task* leaf : leaf_tasks(t.spec->task)) {
    TaskRunInfo ti;
    ti.task_id = make_task_id(r.topology_id, r.run_id, task_name(*leaf));
    ti.not_before = std::exchange(first_not_before, std::nullopt);
    r.tasks[task_name(*leaf)] = std::move(ti);
  }
  return r;
}

void Engine::record_not_run(Topo& t, Instant nominal, RunState state, const std::string& reason) {
  RunInfo r = new_run(t, RunType::kScheduled, nominal, make_run_id(RunType::kScheduled, nominal),
                      state, now());
  r.reason = reason;
  write_new_run(r);
  emit_run(r, t.spec);
}

void Engine::prune() {
  if (pruning_) return;  // the last pass is still reading
  std::vector<std::pair<std::string, RetentionPolicy>> policies;
  policies.reserve(topologies_.size());
  for (const auto& [id, t] : topologies_)
    policies.emplace_back(id, engine::retention_of(*t->spec, options_.default_retention));
  pruning_ = true;
  read_then(
      [t_now = now(), policies = std::move(policies)](Store& store) {
        static const RunQuery kFinished{{RunState::kCompleted, RunState::kSuccessful,
                                         RunState::kSkipped, RunState::kFailed, RunState::kMissed},
                                        {},
                                        0,
                                        std::nullopt};
        std::vector<Dropped> dropped;
        for (const auto& [id, policy] : policies) {
          auto runs = store.load_runs(id, kFinished);
          if (!runs.ok()) continue;
          for (std::size_t i = 0; i < runs->size(); ++i) {
            const RunInfo& r = (*runs)[i].run;
            if (!engine::retention_drops(policy, i, r.updated, t_now)) continue;
            Dropped d{id, r.run_id, {}};
            for (const auto& [name, ti] : r.tasks) {
              if (!ti.upstream_id.empty() && ti.upstream_id != "UNKNOWN")
                d.task_ids.push_back(ti.task_id);
            }
            dropped.push_back(std::move(d));
          }
        }
        return dropped;
      },
      [term = term_](Engine& self, std::vector<Dropped> dropped) {
        self.pruning_ = false;
        if (self.term_ != term) return;  // leadership changed meanwhile
        self.drop_runs(std::move(dropped));
      });
}

void Engine::drop_runs(std::vector<Dropped> dropped) {
  for (Dropped& d : dropped) {
    // A topology deleted meanwhile took its runs with it.
    if (!topologies_.count(d.topology_id)) continue;
    commits_.delete_run(d.topology_id, d.run_id);
    for (std::string& task_id : d.task_ids) {
      after([this, task_id = std::move(task_id)] { executor_.cleanup(task_id, [](Status) {}); });
    }
  }
}

}  // namespace epoch::engine
