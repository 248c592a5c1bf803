// epochd's structured log: one line per record, as text
//   2026-11-27T15:42:46.123Z INFO run state changed topologyId=daily runId=ESR-...
// or as JSON
//   {"time":"2026-11-27T15:42:46.123Z","level":"info","msg":"run state changed",
//    "topologyId":"daily","runId":"ESR-..."}
// Threading: thread-safe; each line is written whole. Lines are formatted on
// the caller's thread and written by the logger's own thread, in order, in
// batches, so logging never blocks the engine on I/O; the destructor writes
// what is queued. Ownership: the logger keeps a reference to the stream,
// which must outlive it.
#pragma once

#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "../libepoch/support/work_queue.h"
#include "epoch/events.h"
#include "names.h"

namespace epochd {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
inline constexpr NameTable<LogLevel> kLogLevels[] = {{LogLevel::kDebug, "debug"},
                                                     {LogLevel::kInfo, "info"},
                                                     {LogLevel::kWarn, "warn"},
                                                     {LogLevel::kError, "error"}};
enum class LogFormat { kText, kJson };
inline constexpr NameTable<LogFormat> kLogFormats[] = {{LogFormat::kText, "text"},
                                                       {LogFormat::kJson, "json"}};

class Logger {
 public:
  using Fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  // Lines below `level` are not written.
  Logger(std::ostream& out, LogFormat format, LogLevel level);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool enabled(LogLevel level) const noexcept { return level >= min_; }
  void log(LogLevel level, std::string_view message, Fields fields = {});
  void info(std::string_view message, Fields fields = {}) { log(LogLevel::kInfo, message, fields); }
  void warn(std::string_view message, Fields fields = {}) { log(LogLevel::kWarn, message, fields); }
  void error(std::string_view message, Fields fields = {}) {
    log(LogLevel::kError, message, fields);
  }

 private:
  std::ostream& out_;
  bool json_;
  LogLevel min_;
  // The writer thread: complete lines, in order, flushed when it has written
  // all there is; at destruction every line logged is written.
  epoch::WorkQueue<std::string> lines_{{.drained = [this] { out_ << std::flush; }},
                                       [this](std::string& line) { out_ << line; }};
};

// Appends `v` with '"' and '\\' escaped by a backslash, newline, carriage
// return and tab as "\\n", "\\r", "\\t" and every other control character
// (ESC, ...) as "\\xNN": the rule for quoted log values and Prometheus label
// values (whose values come from closed sets, so only the first three occur).
void append_escaped(std::string& out, std::string_view v);

// An EventSink writing each engine event as a log line with its topology,
// run and task ids (run and topology changes at info, task changes at debug,
// failures and missed fires at warn).
std::unique_ptr<epoch::EventSink> make_event_logger(Logger& logger);

}  // namespace epochd
