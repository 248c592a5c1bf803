// Event names, the log sink, and the environment every task gets.
#include <boost/json.hpp>
#include <ostream>

#include "epoch/events.h"
#include "epoch/executor.h"

namespace epoch {

std::string_view to_string(Event::Type type) noexcept {
  switch (type) {
    case Event::Type::kTopologyCreated:
      return "TOPOLOGY_CREATED";
    case Event::Type::kTopologyUpdated:
      return "TOPOLOGY_UPDATED";
    case Event::Type::kTopologyPaused:
      return "TOPOLOGY_PAUSED";
    case Event::Type::kTopologyResumed:
      return "TOPOLOGY_RESUMED";
    case Event::Type::kTopologyDeleted:
      return "TOPOLOGY_DELETED";
    case Event::Type::kRunStateChanged:
      return "RUN_STATE_CHANGED";
    case Event::Type::kTaskStateChanged:
      return "TASK_STATE_CHANGED";
    case Event::Type::kRunRunningLong:
      return "RUN_RUNNING_LONG";
  }
  return "UNKNOWN";
}

namespace {

class LogSink final : public EventSink {
 public:
  explicit LogSink(std::ostream& out) : out_(out) {}
  void on_event(const Event& e) override {
    boost::json::object o;
    o["type"] = to_string(e.type);
    o["time"] = to_epoch_millis(e.time);
    o["topologyId"] = e.topology_id;
    if (e.topology_state) o["topologyState"] = to_string(*e.topology_state);
    if (!e.run_id.empty()) o["runId"] = e.run_id;
    if (e.run_type) o["runType"] = to_string(*e.run_type);
    if (e.run_state) o["runState"] = to_string(*e.run_state);
    if (e.scheduled_time) o["scheduledTime"] = format_utc(*e.scheduled_time);
    if (!e.task_name.empty()) o["taskName"] = e.task_name;
    if (e.task_state) o["taskState"] = to_string(*e.task_state);
    if (!e.message.empty()) o["message"] = e.message;
    out_ << "EPOCH_EVENT: " << boost::json::serialize(o) << "\n";
  }

 private:
  std::ostream& out_;
};

}  // namespace

std::unique_ptr<EventSink> make_log_sink(std::ostream& out) {
  return std::make_unique<LogSink>(out);
}

}  // namespace epoch
