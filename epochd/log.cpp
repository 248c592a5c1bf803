#include "log.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ostream>

#include "epoch/time_zone.h"

namespace epochd {
namespace {

std::string_view level_name(LogLevel level) {
  return name_in(level, kLogLevels);
}

bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// Text values with spaces, quotes or control characters are quoted (and
// escaped), so lines stay parseable and task output cannot forge a line.
void append_text_value(std::string& out, std::string_view v) {
  const bool quote = v.empty() || std::any_of(v.begin(), v.end(), [](char c) {
                       return c == ' ' || c == '"' || c == '=' || is_control(c);
                     });
  if (!quote) {
    out += v;
    return;
  }
  out += '"';
  append_escaped(out, v);
  out += '"';
}

}  // namespace

void append_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (is_control(c)) {  // ESC and the rest: never raw into a terminal or a log file
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
      out += hex;
    } else {
      out += c;
    }
  }
}

Logger::Logger(std::ostream& out, LogFormat format, LogLevel level)
    : out_(out), json_(format == LogFormat::kJson), min_(level) {}

Logger::~Logger() = default;

void Logger::log(LogLevel level, std::string_view message, Fields fields) {
  if (!enabled(level)) return;
  const auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  std::string line;
  if (json_) {
    boost::json::object o;
    o["time"] = epoch::format_utc(now);
    o["level"] = level_name(level);
    o["msg"] = message;
    for (const auto& [k, v] : fields)
      if (!v.empty()) o[k] = v;
    line = boost::json::serialize(o);
  } else {
    line = epoch::format_utc(now);
    line += ' ';
    std::string upper(level_name(level));
    for (char& c : upper)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    line += upper;
    line += ' ';
    line += message;
    for (const auto& [k, v] : fields) {
      if (v.empty()) continue;
      line += ' ';
      line += k;
      line += '=';
      append_text_value(line, v);
    }
  }
  line += '\n';
  lines_.push(std::move(line));
}

namespace {

class EventLogger final : public epoch::EventSink {
 public:
  explicit EventLogger(Logger& logger) : logger_(logger) {}

  void on_event(const epoch::Event& e) override {
    using T = epoch::Event::Type;
    const std::string type(epoch::to_string(e.type));
    const std::string scheduled = e.scheduled_time ? epoch::format_utc(*e.scheduled_time) : "";
    switch (e.type) {
      case T::kRunStateChanged: {
        const auto state = e.run_state ? epoch::to_string(*e.run_state) : "";
        const bool bad = e.run_state && (*e.run_state == epoch::RunState::kFailed ||
                                         *e.run_state == epoch::RunState::kMissed);
        logger_.log(bad ? LogLevel::kWarn : LogLevel::kInfo, "run " + std::string(state),
                    {{"event", type},
                     {"topologyId", e.topology_id},
                     {"runId", e.run_id},
                     {"runType", e.run_type ? epoch::to_string(*e.run_type) : ""},
                     {"scheduledTime", scheduled},
                     {"reason", e.message}});
        return;
      }
      case T::kTaskStateChanged: {
        const auto state = e.task_state ? epoch::to_string(*e.task_state) : "";
        const bool bad = e.task_state && (*e.task_state == epoch::TaskState::kFailed ||
                                          *e.task_state == epoch::TaskState::kTimedOut);
        logger_.log(bad ? LogLevel::kWarn : LogLevel::kDebug, "task " + std::string(state),
                    {{"event", type},
                     {"topologyId", e.topology_id},
                     {"runId", e.run_id},
                     {"taskName", e.task_name},
                     {"error", e.message}});
        return;
      }
      case T::kRunRunningLong:
        logger_.warn("run " + e.message, {{"event", type},
                                          {"topologyId", e.topology_id},
                                          {"runId", e.run_id},
                                          {"scheduledTime", scheduled}});
        return;
      default:
        logger_.info("topology " + std::string(type.substr(type.find('_') + 1)),
                     {{"event", type},
                      {"topologyId", e.topology_id},
                      {"state", e.topology_state ? epoch::to_string(*e.topology_state) : ""}});
    }
  }

 private:
  Logger& logger_;
};

}  // namespace

std::unique_ptr<epoch::EventSink> make_event_logger(Logger& logger) {
  return std::make_unique<EventLogger>(logger);
}

}  // namespace epochd
