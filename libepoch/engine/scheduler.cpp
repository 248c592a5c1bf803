// Scheduler, the public face of the engine (engine.h).
#include "epoch/scheduler.h"

#include "engine.h"

namespace epoch {

class Scheduler::Impl : public engine::Engine {
 public:
  using Engine::Engine;
};

Scheduler::Scheduler(boost::asio::io_context& ioc, Store& store, Executor& executor,
                     LeaderElector& elector, Clock& clock, EventSink& events,
                     SchedulerOptions options)
    : impl_(std::make_shared<Impl>(ioc, store, executor, elector, clock, events,
                                   std::move(options))) {}

Scheduler::~Scheduler() {
  if (!impl_) return;
  impl_->stop();
  // No callback of this Scheduler runs after this: later ones are dropped,
  // and one running on another thread is waited for.
  impl_->close_callbacks();
}

void Scheduler::start() {
  impl_->start();
}
void Scheduler::stop() {
  impl_->stop();
}
void Scheduler::create(Topology t, Callback<TopologyDetails> done) {
  impl_->create(std::move(t), impl_->guarded(std::move(done)));
}
void Scheduler::update(Topology t, Callback<TopologyDetails> done) {
  impl_->update(std::move(t), impl_->guarded(std::move(done)));
}
void Scheduler::pause(const std::string& id, Callback<TopologyDetails> done) {
  impl_->set_paused(id, true, impl_->guarded(std::move(done)));
}
void Scheduler::resume(const std::string& id, Callback<TopologyDetails> done) {
  impl_->set_paused(id, false, impl_->guarded(std::move(done)));
}
void Scheduler::remove(const std::string& id, bool kill_running, Callback<bool> done) {
  impl_->remove(id, kill_running, impl_->guarded(std::move(done)));
}
void Scheduler::run_now(const std::string& id, Callback<std::string> done) {
  impl_->run_now(id, impl_->guarded(std::move(done)));
}
void Scheduler::kill_task(const std::string& tid, const std::string& rid, const std::string& task,
                          Callback<bool> done) {
  impl_->kill_task(tid, rid, task, impl_->guarded(std::move(done)));
}
void Scheduler::get_topology(const std::string& id, Callback<TopologyView> done) {
  impl_->get_topology(id, impl_->guarded(std::move(done)));
}
void Scheduler::list_topologies(Callback<std::vector<TopologyView>> done) {
  impl_->list_topologies(impl_->guarded(std::move(done)));
}
void Scheduler::sync(Callback<bool> done) {
  impl_->sync(impl_->guarded(std::move(done)));
}

void Scheduler::stats(Callback<SchedulerStats> done) {
  impl_->stats(impl_->guarded(std::move(done)));
}
bool Scheduler::is_leader() const {
  return impl_->is_leader();
}

}  // namespace epoch
