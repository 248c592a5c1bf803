// The engine's lifecycle, its public operations (posted to the strand) and
// reads, and the helpers the other parts share. See engine.h.
#include "engine.h"

#include <future>

namespace epoch::engine {

void Engine::start() {
  if (started_.exchange(true)) return;
  timer_ = clock_.make_timer(ioc_);
  retry_timer_ = clock_.make_timer(ioc_);
  std::weak_ptr<Engine> weak = shared_from_this();
  elector_.start(outside_.guard([weak] {
    if (auto self = weak.lock()) asio::post(self->strand_, [self] { self->on_elected(); });
  }),
                 outside_.guard([weak] {
                   if (auto self = weak.lock())
                     asio::post(self->strand_, [self] { self->on_revoked(); });
                 }));
}

void Engine::stop() {
  if (!started_.exchange(false)) return;
  elector_.stop();
  if (strand_.running_in_this_thread()) {
    shutdown();
    stop_reader();
    return;
  }
  std::promise<void> done;
  auto finished = done.get_future();
  asio::post(strand_, [self = shared_from_this(), &done] {
    self->shutdown();
    done.set_value();
  });
  // Wait for the strand; if nobody runs the io_context, run it here.
  while (finished.wait_for(milliseconds(1)) != std::future_status::ready) {
    if (ioc_.stopped()) ioc_.restart();
    ioc_.poll_one();
  }
  stop_reader();
}

void Engine::stop_reader() {
  if (!reader_) return;
  reader_->stop();
  reader_->join();
}

void Engine::shutdown() {
  stopped_ = true;
  on_revoked();
  if (timer_) timer_->cancel();
  if (retry_timer_) retry_timer_->cancel();
}

void Engine::create(Topology topology, Callback<TopologyDetails> done) {
  on_strand([topology = std::move(topology), done = std::move(done)](Engine& self) mutable {
    self.do_create(std::move(topology), std::move(done));
  });
}

void Engine::update(Topology topology, Callback<TopologyDetails> done) {
  on_strand([topology = std::move(topology), done = std::move(done)](Engine& self) mutable {
    self.do_update(std::move(topology), std::move(done));
  });
}

void Engine::set_paused(std::string id, bool paused, Callback<TopologyDetails> done) {
  on_strand([id = std::move(id), paused, done = std::move(done)](Engine& self) mutable {
    self.do_set_paused(id, paused, std::move(done));
  });
}

void Engine::remove(std::string id, bool kill_running, Callback<bool> done) {
  on_strand([id = std::move(id), kill_running, done = std::move(done)](Engine& self) mutable {
    self.do_remove(id, kill_running, std::move(done));
  });
}

void Engine::run_now(std::string id, Callback<std::string> done) {
  on_strand([id = std::move(id), done = std::move(done)](Engine& self) mutable {
    self.do_run_now(id, std::move(done));
  });
}

void Engine::kill_task(std::string tid, std::string rid, std::string task, Callback<bool> done) {
  on_strand([tid = std::move(tid), rid = std::move(rid), task = std::move(task),
             done = std::move(done)](Engine& self) mutable {
    self.do_kill_task(tid, rid, task, std::move(done));
  });
}

void Engine::get_topology(std::string id, Callback<TopologyView> done) {
  if (const auto found = views_.find(id); found.ready) {
    // The view is built here, outside the views' lock.
    return answer_later<TopologyView>(found.view ? StatusOr<TopologyView>(found.view->view())
                                                 : not_found("No such topology: " + id),
                                      std::move(done));
  }
  on_strand([id = std::move(id), done = std::move(done)](Engine& self) mutable {
    if (!self.leader_) return done(self.not_leader());
    const auto it = self.topologies_.find(id);
    if (it == self.topologies_.end()) return done(not_found("No such topology: " + id));
    done(self.published(*it->second)->view());
  });
}

void Engine::post_read(std::function<void()> job) {
  // A read in progress is work the io_context waits for, as an async
  // operation is: io_context::run() does not return while a new leader's
  // recovery is being read (the job posts its answer, then lets go).
  auto counted = [job = std::move(job), work = asio::make_work_guard(ioc_)]() mutable {
    job();
    work.reset();
  };
  if (options_.store_reads) return options_.store_reads(std::move(counted));
  asio::post(*reader_, std::move(counted));
}

void Engine::list_topologies(Callback<std::vector<TopologyView>> done) {
  if (auto all = views_.all()) {
    return answer_later<std::vector<TopologyView>>(std::move(*all), std::move(done));
  }
  on_strand([done = std::move(done)](Engine& self) mutable {
    if (!self.leader_) return done(self.not_leader());
    std::vector<TopologyView> out;
    out.reserve(self.topologies_.size());
    for (const auto& [id, t] : self.topologies_)
      out.push_back(self.published(*t)->view());
    done(std::move(out));
  });
}

void Engine::stats(Callback<SchedulerStats> done) {
  on_strand([done = std::move(done)](Engine& self) mutable {
    SchedulerStats s;
    s.leader = self.leader_;
    if (self.leader_) {
      for (const auto& [id, t] : self.topologies_)
        ++(t->state == TopologyState::kPaused ? s.topologies_paused : s.topologies_active);
      s.runs_live = self.runs_.size();
    }
    done(std::move(s));
  });
}

void Engine::sync(Callback<bool> done) {
  on_strand([done = std::move(done)](Engine& self) mutable {
    if (!self.leader_) return done(not_leader());
    self.after([done = std::move(done)]() mutable { done(true); });
  });
}

std::string Engine::run_key(const std::string& topology_id, const std::string& run_id) {
  std::string k;
  k.reserve(topology_id.size() + run_id.size() + 1);
  k.append(topology_id).append(1, '/').append(run_id);
  return k;
}

TopologyDetails Engine::details_of(const Topo& t) {
  TopologyDetails d;
  d.id = t.id;
  d.topology = *t.spec;
  d.state = t.state;
  d.created = t.created;
  d.updated = t.updated;
  return d;
}

TopologyRecord Engine::record_of(const Topo& t) {
  TopologyRecord r;
  r.details = details_of(t);
  r.last_fire = t.last_fire;
  r.version = t.version;
  return r;
}

Status Engine::prepare_trigger(Topo& t) {
  t.cron.reset();
  t.at_time.reset();
  if (const auto* c = std::get_if<CronTrigger>(&t.spec->trigger)) {
    EPOCH_ASSIGN_OR_RETURN(t.cron, parse_cron(c->time_spec));
    if (c->time_zone) {
      EPOCH_ASSIGN_OR_RETURN(t.zone, TimeZone::locate(*c->time_zone));
    } else {
      t.zone = default_zone_;
    }
  } else {
    t.at_time = std::get<AtTrigger>(t.spec->trigger).time;
  }
  return ok_status();
}

StatusOr<std::shared_ptr<const CronExpression>> Engine::parse_cron(const std::string& text) {
  auto& slot = cron_cache_[text];
  if (auto shared = slot.lock()) return shared;
  EPOCH_ASSIGN_OR_RETURN(auto parsed, CronExpression::parse(text, cron_options_));
  auto shared = std::make_shared<const CronExpression>(std::move(parsed));
  slot = shared;
  return shared;
}

std::optional<Instant> Engine::next_fire_after(const Topo& t, Instant after) const {
  if (t.cron) return t.cron->next_after(after, t.zone);
  if (t.at_time && *t.at_time > after) return *t.at_time;
  return std::nullopt;
}

Engine::Topo* Engine::topo_by_handle(std::uint64_t h) {
  const auto it = topo_handles_.find(h);
  return it == topo_handles_.end() ? nullptr : it->second;
}

Engine::Run* Engine::run_by_id(const std::string& tid, const std::string& rid) {
  const auto it = run_index_.find(run_key(tid, rid));
  if (it == run_index_.end()) return nullptr;
  const auto r = runs_.find(it->second);
  return r == runs_.end() ? nullptr : &r->second;
}

void Engine::emit(Event e) {
  e.time = now();
  commits_.emit(std::move(e));
}

void Engine::emit_run(const RunInfo& r, std::shared_ptr<const Topology> spec, Event::Type type,
                      std::optional<std::string> message) {
  Event e;
  e.topology = std::move(spec);
  e.run = std::make_shared<const RunInfo>(r);
  e.type = type;
  e.topology_id = r.topology_id;
  e.run_id = r.run_id;
  e.run_type = r.run_type;
  e.run_state = r.state;
  e.scheduled_time = r.scheduled_time;
  e.message = message ? std::move(*message) : r.reason.value_or("");
  emit(std::move(e));
}

void Engine::emit_task(const RunInfo& r, const std::string& name, const TaskRunInfo& t) {
  Event e;
  e.type = Event::Type::kTaskStateChanged;
  e.topology_id = r.topology_id;
  e.run_id = r.run_id;
  e.run_type = r.run_type;
  e.task_name = name;
  e.task_state = t.state;
  e.attempt = t.attempt;
  e.message = t.error_message;
  emit(std::move(e));
}

void Engine::emit_topology(Event::Type type, const TopologyDetails& d) {
  Event e;
  e.type = type;
  e.topology_id = d.id;
  e.topology_state = d.state;
  emit(std::move(e));
}

}  // namespace epoch::engine
