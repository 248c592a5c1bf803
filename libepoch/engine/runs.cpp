// A run's life on the strand: launch, task updates, retries and
// timeouts, RUN_RUNNING_LONG, replacement, its end. See engine.h.
#include <algorithm>

#include "engine.h"

namespace epoch::engine {

std::uint64_t Engine::start_run(Topo& t, RunType type, Instant nominal, std::string run_id,
                                bool hold) {
  const Instant t_now = now();
  RunRecord rec;
  // Prepared ahead of its time: the first task waits for the nominal instant.
  rec.run = new_run(t, type, nominal, std::move(run_id), RunState::kRunning, t_now,
                    nominal > t_now ? std::optional<Instant>(nominal) : std::nullopt);
  Run& run = add_run(&t, std::move(rec), t.spec);
  // An in-process first task due within prepare_ahead is claimed in the
  // run's first write (see launch()): no write of its own, none at its time.
  if (!hold && nominal > t_now && nominal - t_now <= options_.prepare_ahead) {
    const engine::TreeStep step = engine::evaluate(run.spec->task, run.rec.run.tasks);
    if (step.kind == engine::TreeStep::Kind::kLaunch && executor_.in_process(*step.leaf)) {
      claim(run, task_name(*step.leaf));
    }
  }
  commits_.put_run(run.rec.run, kMustNotExist);
  run.rec.version = 1;
  emit_run(run.rec.run, run.spec);
  const std::uint64_t h = run.handle;
  if (!hold) {
    after([this, h] {
      if (auto it = runs_.find(h); it != runs_.end()) advance(it->second);
    });
  }
  return h;
}

void Engine::claim(Run& r, const std::string& name) {
  TaskRunInfo& ti = r.rec.run.tasks[name];
  ti.claimed = true;
  r.ctl[name].claimed_here = true;
  after([this, h = r.handle, name, attempt = ti.attempt] {
    const auto it = runs_.find(h);
    if (it == runs_.end()) return;
    const auto t = it->second.rec.run.tasks.find(name);
    if (t != it->second.rec.run.tasks.end() && t->second.attempt == attempt) {
      it->second.ctl[name].claim_durable = true;
    }
  });
}

void Engine::advance(Run& r) {
  if (is_terminal(r.rec.run.state) || !r.spec || r.waiting) return;
  const engine::TreeStep step = engine::evaluate(r.spec->task, r.rec.run.tasks);
  if (step.kind == engine::TreeStep::Kind::kDone) {
    finish_run(r, step.result, step.message);
    return;
  }
  const std::string& name = task_name(*step.leaf);
  TaskRunInfo& ti = r.rec.run.tasks[name];
  TaskCtl& ctl = r.ctl[name];
  if (ctl.launched_attempt == ti.attempt) return;  // already launched or attached this term
  if (step.kind == engine::TreeStep::Kind::kLaunch && ti.not_before && *ti.not_before > now()) {
    push_due(*ti.not_before, DueKind::kRetry, r.handle, ++ctl.timer_gen, name);
    ctl.prepared = make_launch(r, *step.leaf, ti);
    ctl.prepared_observer = make_observer(r, name, ti.attempt);
    // An in-process attempt due within prepare_ahead is claimed now, so
    // that at its time the launch waits for no commit (see launch()).
    if (!ti.claimed && ti.state == TaskState::kPending && !ti.started &&
        *ti.not_before - now() <= options_.prepare_ahead && executor_.in_process(*step.leaf)) {
      claim(r, name);
      touch(r);
    }
    return;
  }
  launch(r, *step.leaf, ti, ctl);
}

TaskLaunch Engine::make_launch(const Run& r, const Task& leaf, const TaskRunInfo& ti) const {
  TaskLaunch l;
  l.task_id = ti.task_id;
  l.topology_id = r.rec.run.topology_id;
  l.run_id = r.rec.run.run_id;
  l.task_name = task_name(leaf);
  l.run_type = r.rec.run.run_type;
  l.attempt = ti.attempt;
  l.scheduled_time = nominal_of(r.rec.run);
  l.task = leaf;
  return l;
}

TaskObserver Engine::make_observer(const Run& r, const std::string& name, int attempt) {
  std::weak_ptr<Engine> weak = shared_from_this();
  return outside_.guard(
      [weak, term = term_, handle = r.handle, name, attempt](const TaskUpdate& u) {
        auto self = weak.lock();
        if (!self) return;
        asio::post(self->strand_, [self, term, handle, name, attempt, u] {
          if (self->term_ != term || !self->leader_) return;
          self->on_task_update(handle, name, attempt, u);
          self->flush();
        });
      });
}

void Engine::launch(Run& r, const Task& leaf, const TaskRunInfo& ti, TaskCtl& ctl) {
  ctl.launched_attempt = ti.attempt;
  ctl.timed_out = false;
  ctl.transient_error = false;
  if (r.spec->policies && r.spec->policies->timeout) {
    push_due(saturating_add(now(), r.spec->policies->timeout->to_millis()), DueKind::kTaskTimeout,
             r.handle, ++ctl.timer_gen, task_name(leaf));
  }
  const bool prepared =
      ctl.prepared && ctl.prepared->attempt == ti.attempt && ctl.prepared_observer;
  TaskLaunch l = prepared ? std::move(*ctl.prepared) : make_launch(r, leaf, ti);
  TaskObserver observer =
      prepared ? std::move(ctl.prepared_observer) : make_observer(r, task_name(leaf), ti.attempt);
  ctl.prepared.reset();
  ctl.prepared_observer = nullptr;
  // Past PENDING, started, or claimed by another term: an earlier term may
  // have launched it.
  l.resumed = ti.state != TaskState::kPending || ti.started.has_value() ||
              (ti.claimed && !ctl.claimed_here);
  if (l.resumed || !executor_.in_process(leaf)) {
    executor_.launch(l, std::move(observer));
    return;
  }
  // An in-process attempt dies with its process and cannot be attached to:
  // it is stored as claimed before it starts, so that no later term starts
  // it again (it finds it `resumed`, and the executor reports it lost).
  if (!ctl.claimed_here) claim(r, l.task_name);  // now, with its STARTING
  TaskRunInfo& starting = r.rec.run.tasks[l.task_name];
  starting.state = TaskState::kStarting;
  starting.started = now();
  touch(r);
  emit_task(r.rec.run, l.task_name, starting);
  if (ctl.claim_durable) {  // claimed ahead of its time: nothing to wait for
    executor_.launch(l, std::move(observer));
    return;
  }
  // The claim's own action (marking it durable) runs before this one.
  after([this, h = r.handle, l = std::move(l), observer = std::move(observer)]() mutable {
    const auto it = runs_.find(h);
    if (it == runs_.end()) return;  // ended (removed, replaced) meanwhile
    const auto t = it->second.rec.run.tasks.find(l.task_name);
    if (t == it->second.rec.run.tasks.end() || t->second.attempt != l.attempt ||
        is_terminal(t->second.state)) {
      return;
    }
    executor_.launch(l, std::move(observer));
  });
}

void Engine::on_task_update(std::uint64_t handle, const std::string& name, int attempt,
                            const TaskUpdate& u) {
  const auto it = runs_.find(handle);
  if (it == runs_.end()) return;
  Run& r = it->second;
  if (is_terminal(r.rec.run.state)) return;
  TaskRunInfo& ti = r.rec.run.tasks[name];
  TaskCtl& ctl = r.ctl[name];
  if (ti.attempt != attempt || is_terminal(ti.state)) return;
  const Instant t_now = now();
  if (u.not_found) {
    if (!ctl.unknown_since) {
      ctl.unknown_since = t_now;
      push_due(t_now + options_.unknown_task_timeout, DueKind::kUnknownTimeout, r.handle,
               ctl.timer_gen, name);
    }
    if (ti.state != TaskState::kUnknown) {
      ti.state = TaskState::kUnknown;
      ti.error_message = "the executor does not know this task (yet)";
      ctl.transient_error = true;
      touch(r);
      emit_task(r.rec.run, name, ti);
    }
    return;
  }
  ctl.unknown_since.reset();
  if (!is_terminal(u.state)) {
    if (ctl.kill_when_started && u.state != TaskState::kPending) {
      ctl.kill_when_started = false;
      kill_soon(ti.task_id);
    }
    const bool clears = ctl.transient_error && u.error_message.empty();
    // Started: the executor took it (not when the run was prepared).
    const bool starts =
        !ti.started && (u.state == TaskState::kStarting || u.state == TaskState::kRunning);
    if (starts) ti.started = t_now;
    arm_running_long(r);  // from this start, or a recovered run's stored one
    if (ti.state == u.state && ti.upstream_id == u.upstream_id && !clears && !starts) return;
    ti.state = u.state;
    if (!u.upstream_id.empty()) ti.upstream_id = u.upstream_id;
    // Keeps what an earlier attempt left ("attempt 1 failed: ...") until
    // this one has something to say; a transient word goes when the
    // state it described does.
    if (!u.error_message.empty()) {
      ti.error_message = u.error_message;
      ctl.transient_error = true;
    } else if (clears) {
      ti.error_message.clear();
      ctl.transient_error = false;
    }
    touch(r);
    emit_task(r.rec.run, name, ti);
    return;
  }
  ti.state = u.state;
  if (!u.upstream_id.empty()) ti.upstream_id = u.upstream_id;
  ti.exit_code = u.exit_code;
  ti.error_message = u.error_message;
  ti.finished = t_now;
  RetryOn outcome = u.lost ? RetryOn::kLost : RetryOn::kFailed;
  if (ctl.timed_out) {
    ti.state = TaskState::kTimedOut;
    ti.error_message = "timed out after " + describe_ms(r.spec->policies->timeout->to_millis()) +
                       " and was killed";
    outcome = RetryOn::kTimedOut;
  } else if (!r.replaced_by.empty() && u.state == TaskState::kCancelled) {
    ti.error_message = "killed: replaced by run " + r.replaced_by;
  }
  finish_attempt(r, name, outcome);
}

void Engine::arm_running_long(Run& r) {
  if (options_.running_long_after.count() <= 0 || r.long_armed || r.rec.run.running_long) return;
  const auto started = run_started(r.rec.run);
  if (!started) return;
  r.long_armed = true;
  push_due(saturating_add(*started, options_.running_long_after), DueKind::kRunningLong, r.handle,
           0);
}

void Engine::on_running_long(std::uint64_t handle) {
  const auto it = runs_.find(handle);
  if (it == runs_.end()) return;
  Run& r = it->second;
  if (is_terminal(r.rec.run.state) || r.rec.run.running_long) return;
  r.rec.run.running_long = now();
  touch(r);  // recorded with the event: a new leader does not repeat it
  emit_run(r.rec.run, r.spec, Event::Type::kRunRunningLong,
           "still running after " + describe_ms(options_.running_long_after));
}

void Engine::finish_attempt(Run& r, const std::string& name, RetryOn outcome) {
  TaskRunInfo& ti = r.rec.run.tasks[name];
  TaskCtl& ctl = r.ctl[name];
  ++ctl.timer_gen;  // cancels this attempt's timers
  emit_task(r.rec.run, name, ti);
  const bool failed = ti.state == TaskState::kFailed || ti.state == TaskState::kTimedOut;
  if (failed && r.replaced_by.empty() && !ctl.killed &&
      engine::should_retry(retry_of(*r.spec), ti.attempt, outcome)) {
    const RetryPolicy& p = *retry_of(*r.spec);
    const milliseconds wait =
        engine::retry_backoff(p, ti.attempt, std::uniform_real_distribution<double>(-1, 1)(rng_));
    const int next = ti.attempt + 1;
    TaskRunInfo fresh;
    fresh.task_id = make_task_id(r.rec.run.topology_id, r.rec.run.run_id, name, next);
    fresh.attempt = next;
    fresh.error_message = "attempt " + std::to_string(ti.attempt) + " failed" +
                          (ti.error_message.empty() ? "" : ": " + ti.error_message) +
                          "; retrying after " + describe_ms(wait);
    fresh.not_before = saturating_add(now(), wait);
    ti = fresh;
    ctl = TaskCtl{};
    ctl.timer_gen = 1;
    touch(r);
    emit_task(r.rec.run, name, ti);
    push_due(*ti.not_before, DueKind::kRetry, r.handle, ctl.timer_gen, name);
    return;
  }
  touch(r);
  advance(r);
}

void Engine::on_run_timer(const Due& d) {
  const auto it = runs_.find(d.key);
  if (it == runs_.end()) return;
  Run& r = it->second;
  if (is_terminal(r.rec.run.state)) return;
  TaskCtl& ctl = r.ctl[d.task];
  if (ctl.timer_gen != d.gen) return;
  TaskRunInfo& ti = r.rec.run.tasks[d.task];
  switch (d.kind) {
    case DueKind::kRetry:
      advance(r);
      break;
    case DueKind::kTaskTimeout:
      if (!is_terminal(ti.state) && ti.state != TaskState::kPending) {
        ctl.timed_out = true;
        kill_soon(ti.task_id);
      }
      break;
    case DueKind::kUnknownTimeout:
      if (ctl.unknown_since && !is_terminal(ti.state)) {
        executor_.detach(ti.task_id);
        ti.state = TaskState::kFailed;
        ti.finished = now();
        ti.error_message = "the executor has not known task " + ti.task_id + " for " +
                           describe_ms(options_.unknown_task_timeout) + "; given up as lost";
        ctl.unknown_since.reset();
        finish_attempt(r, d.task, RetryOn::kLost);
      }
      break;
    default:
      break;
  }
}

void Engine::touch(Run& r) {
  r.rec.run.updated = now();
  write_run(r);
}

void Engine::kill_soon(const std::string& task_id) {
  after([this, task_id] { executor_.kill(task_id, [](Status) {}); });
}

void Engine::replace_run(Run& r, const std::string& by) {
  r.replaced_by = by;
  bool in_flight = false;  // a launch issued, not yet reported on
  for (auto& [name, ti] : r.rec.run.tasks) {
    if (is_terminal(ti.state)) continue;
    TaskCtl& ctl = r.ctl[name];
    if (ti.state == TaskState::kPending) {
      // Its create may still reach the executor: kill it once it reports.
      if (ctl.launched_attempt == ti.attempt) {
        in_flight = true;
        ctl.kill_when_started = true;
      }
      continue;
    }
    kill_soon(ti.task_id);
  }
  if (in_flight) return;  // the run ends when its task does
  // A run waiting for a retry or for its first launch has no live task:
  // end it now.
  const engine::TreeStep step = engine::evaluate(r.spec->task, r.rec.run.tasks);
  if (step.kind == engine::TreeStep::Kind::kLaunch) {
    // Nothing of it ever launched (created in this term, or stored as
    // queued): the fire was skipped, not failed, and no launch belongs to
    // it. (A recovered run that was not queued may have been launched by
    // the previous leader: it fails as replaced, and its task is killed in
    // case it exists.)
    if (!r.maybe_launched && nothing_started(r.rec.run)) {
      finish_run(r, TaskState::kCancelled, "replaced by run " + by + " before it started",
                 RunState::kSkipped);
      return;
    }
    if (r.maybe_launched) kill_in_case(r);
    finish_run(r, TaskState::kCancelled, "replaced by run " + by);
  }
}

void Engine::finish_run(Run& r, TaskState result, const std::string& why,
                        std::optional<RunState> state) {
  const Topo* t = nullptr;
  if (const auto it = topologies_.find(r.rec.run.topology_id); it != topologies_.end()) {
    t = it->second.get();
  }
  const bool at = r.spec && std::holds_alternative<AtTrigger>(r.spec->trigger);
  r.rec.run.state = state ? *state : engine::final_run_state(r.rec.run.run_type, at, result);
  r.rec.run.message = run_message(r.rec.run.state);
  if (result != TaskState::kCompleted) {
    r.rec.run.reason = !r.replaced_by.empty() && !state ? "replaced by run " + r.replaced_by : why;
  }
  r.rec.run.queued = false;
  touch(r);
  emit_run(r.rec.run, r.spec);
  const std::uint64_t h = r.handle;
  run_index_.erase(run_key(r.rec.run.topology_id, r.rec.run.run_id));
  if (t != nullptr) {
    Topo& topo = *topologies_.at(r.rec.run.topology_id);
    std::erase(topo.live, h);
    std::erase(topo.waiting, h);
    mark_view(topo);
    runs_.erase(h);
    release_waiting(topo);
  } else {
    runs_.erase(h);
  }
}

}  // namespace epoch::engine
