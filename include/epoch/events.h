// epoch/events.h — what happened: typed events for logs, metrics and notifiers.
//
// What: the engine emits an `Event` for every state change — topology
// created, updated, paused, resumed, deleted; run state changed (including
// SKIPPED and MISSED runs, with the reason); task state changed; a run
// running long — to an
// `EventSink`. Log, webhook and email sinks, and metrics, all read the same
// stream.
//
// Implementations: `make_log_sink()` (one line per event, Epoch's
// "EPOCH_EVENT: ..."), `FanoutSink` (several sinks), `RecordingSink` (tests).
//
// Threading: the engine calls on_event() on its strand, in order; a sink
// must not block (hand slow work to another thread) and must not call back
// into the engine synchronously.
// Ownership: the event is only valid during the call; copy what you keep.
// Errors: a sink handles its own failures; nothing propagates to the engine.
//
// Example:
//   epoch::RecordingSink recorded;
//   auto log = epoch::make_log_sink(std::cout);
//   epoch::FanoutSink events;
//   events.add(recorded);
//   events.add(*log);
//   // then: epoch::Scheduler scheduler(ioc, *store, *executor, *elector, *clock, events);
//   for (const epoch::Event& e : recorded.events()) std::cout << epoch::to_string(e.type) << "\n";
#pragma once

#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "epoch/model.h"

namespace epoch {

struct Event {
  enum class Type {
    kTopologyCreated,
    kTopologyUpdated,
    kTopologyPaused,
    kTopologyResumed,
    kTopologyDeleted,
    kRunStateChanged,
    kTaskStateChanged,
    // A run still RUNNING SchedulerOptions::running_long_after after its
    // first task started: once per run, across leader changes (the run
    // record remembers it). `run` is the run as it is then.
    kRunRunningLong,
  };
  Type type = Type::kRunStateChanged;
  Instant time{};
  std::string topology_id;
  std::optional<TopologyState> topology_state;
  std::string run_id;
  std::optional<RunType> run_type;
  std::optional<RunState> run_state;
  std::optional<Instant> scheduled_time;
  std::string task_name;
  std::optional<TaskState> task_state;
  int attempt = 0;      // task events: the attempt (1, 2, ...)
  std::string message;  // reason, error message
  // Run events only: the topology as the run uses it, and the run record as
  // stored (tasks, their ids and errors) — what notifiers put in messages.
  std::shared_ptr<const Topology> topology;
  std::shared_ptr<const RunInfo> run;
};

// "TOPOLOGY_CREATED", "RUN_STATE_CHANGED", ...
std::string_view to_string(Event::Type type) noexcept;

class EventSink {
 public:
  virtual ~EventSink() = default;
  EventSink() = default;
  EventSink(const EventSink&) = delete;
  EventSink& operator=(const EventSink&) = delete;
  virtual void on_event(const Event& event) = 0;
};

// Writes one line per event to `out`: "EPOCH_EVENT: {json}".
std::unique_ptr<EventSink> make_log_sink(std::ostream& out);

// Sends each event to every sink added, in order.
class FanoutSink final : public EventSink {
 public:
  void add(EventSink& sink) { sinks_.push_back(&sink); }
  void on_event(const Event& event) override {
    for (EventSink* s : sinks_)
      s->on_event(event);
  }

 private:
  std::vector<EventSink*> sinks_;
};

// Keeps every event (thread-safe), for tests.
class RecordingSink final : public EventSink {
 public:
  void on_event(const Event& event) override {
    std::lock_guard lock(mu_);
    events_.push_back(event);
  }
  std::vector<Event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  void clear() {
    std::lock_guard lock(mu_);
    events_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
};

}  // namespace epoch
