// epochd's structured log: one line per record, as text
//   2026-11-27T15:42:46.123Z INFO run state changed topologyId=daily runId=ESR-...
// or as JSON
//   {"time":"2026-11-27T15:42:46.123Z","level":"info","msg":"run state changed",
//    "topologyId":"daily","runId":"ESR-..."}
// Threading: thread-safe; each line is written whole. Ownership: the logger
// keeps a reference to the stream, which must outlive it.
#pragma once

#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "epoch/events.h"

namespace epochd {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

class Logger {
 public:
  using Fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  // `format` is "text" or "json"; `level` "debug", "info", "warn" or "error".
  Logger(std::ostream& out, std::string_view format, std::string_view level);

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
  std::mutex mu_;
};

// An EventSink writing each engine event as a log line with its topology,
// run and task ids (run and topology changes at info, task changes at debug,
// failures and missed fires at warn).
std::unique_ptr<epoch::EventSink> make_event_logger(Logger& logger);

}  // namespace epochd
