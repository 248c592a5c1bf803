#include "metrics.h"

#include <cstdio>
#include <deque>
#include <unordered_set>

#include "epoch/time_zone.h"
#include "log.h"

namespace epochd {
namespace {

std::string format_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void counter_family(std::string& out, std::string_view name, std::string_view help,
                    const std::map<std::string, std::uint64_t>& values) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" counter\n");
  for (const auto& [labels, v] : values)
    out.append(name).append("{").append(labels).append("} ").append(std::to_string(v)).append("\n");
}

void scalar(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            std::string_view value) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out.append(name).append(" ").append(value).append("\n");
}

// Label values are our own route templates and enum names; escape anyway.
std::string label_value(std::string_view v) {
  std::string out;
  append_escaped(out, v);
  return out;
}

}  // namespace

void Histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i])
    ++i;
  ++counts_[i];
  sum_ += seconds;
  ++count_;
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  std::uint64_t cumulative = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += counts_[i];
    out.append(name).append("_bucket{").append(labels).append(sep).append("le=\"");
    out.append(i < kBounds.size() ? format_double(kBounds[i]) : "+Inf");
    out.append("\"} ").append(std::to_string(cumulative)).append("\n");
  }
  const std::string braces = labels.empty() ? "" : "{" + std::string(labels) + "}";
  out.append(name).append("_sum").append(braces).append(" ").append(format_double(sum_));
  out.append("\n");
  out.append(name).append("_count").append(braces).append(" ").append(std::to_string(count_));
  out.append("\n");
}

class Metrics::Sink final : public epoch::EventSink {
 public:
  explicit Sink(Metrics& m) : m_(m) {}
  void on_event(const epoch::Event& e) override { m_.on_event(e); }

 private:
  Metrics& m_;
};

Metrics::Metrics() : sink_(std::make_unique<Sink>(*this)) {}
Metrics::~Metrics() = default;

epoch::EventSink& Metrics::sink() {
  return *sink_;
}

void Metrics::http_request(std::string_view route, std::string_view method, int status,
                           std::chrono::nanoseconds took) {
  // Label values from closed sets only: route templates (ours), the
  // methods HTTP defines, status codes 100-599.
  std::string_view m = "OTHER";
  for (std::string_view known :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"})
    if (method == known) m = known;
  if (status < 100 || status > 599) status = 0;
  std::string labels = "route=\"" + label_value(route) + "\",method=\"" + std::string(m) +
                       "\",status=\"" + std::to_string(status) + "\"";
  std::lock_guard lock(mu_);
  ++http_[labels];
  http_duration_.observe(std::chrono::duration<double>(took).count());
}

void Metrics::executor_call(std::string_view op, std::chrono::nanoseconds took, bool error) {
  const std::string labels = "op=\"" + label_value(op) + "\"";
  std::lock_guard lock(mu_);
  ++exec_calls_[labels];
  if (error) ++exec_errors_[labels];
  exec_duration_[labels].observe(std::chrono::duration<double>(took).count());
}

void Metrics::notification(std::string_view channel, bool delivered) {
  const std::string labels = "channel=\"" + std::string(channel) + "\"";
  std::lock_guard lock(mu_);
  ++(delivered ? notify_ok_ : notify_failed_)[labels];
}

void Metrics::fire_lateness(std::chrono::nanoseconds late) {
  std::lock_guard lock(mu_);
  lateness_.observe(std::chrono::duration<double>(late).count());
}

void Metrics::on_event(const epoch::Event& e) {
  if (e.type != epoch::Event::Type::kRunStateChanged || !e.run_state) return;
  const std::string labels = "state=\"" + std::string(epoch::to_string(*e.run_state)) +
                             "\",type=\"" +
                             std::string(e.run_type ? epoch::to_string(*e.run_type) : "") + "\"";
  std::lock_guard lock(mu_);
  ++runs_[labels];
  if (*e.run_state == epoch::RunState::kMissed) ++missed_;
  if (*e.run_state == epoch::RunState::kSkipped) ++skipped_;
}

std::string Metrics::render(const epoch::SchedulerStats& stats) const {
  std::string out;
  out.reserve(8192);
  scalar(out, "epoch_leader", "gauge", "1 when this node is the leader and schedules",
         stats.leader ? "1" : "0");
  out.append("# HELP epoch_topologies Topologies by state\n# TYPE epoch_topologies gauge\n");
  out.append("epoch_topologies{state=\"ACTIVE\"} ")
      .append(std::to_string(stats.topologies_active))
      .append("\n");
  out.append("epoch_topologies{state=\"PAUSED\"} ")
      .append(std::to_string(stats.topologies_paused))
      .append("\n");
  scalar(out, "epoch_runs_live", "gauge", "Runs not finished", std::to_string(stats.runs_live));
  std::lock_guard lock(mu_);
  counter_family(out, "epoch_runs_total", "Runs entering each state, by run type", runs_);
  scalar(out, "epoch_fires_missed_total", "counter", "Fires recorded as MISSED",
         std::to_string(missed_));
  scalar(out, "epoch_fires_skipped_total", "counter", "Fires recorded as SKIPPED",
         std::to_string(skipped_));
  counter_family(out, "epoch_notifications_delivered_total",
                 "Notifications delivered, by channel (webhook, mail)", notify_ok_);
  counter_family(out, "epoch_notifications_failed_total",
                 "Notifications given up after the last attempt (or refused: queue full)",
                 notify_failed_);
  out.append(
      "# HELP epoch_fire_lateness_seconds Time from a scheduled run's nominal instant to its "
      "first launch\n# TYPE epoch_fire_lateness_seconds histogram\n");
  lateness_.render(out, "epoch_fire_lateness_seconds", "");
  counter_family(out, "epoch_executor_calls_total", "Executor calls by operation", exec_calls_);
  counter_family(out, "epoch_executor_errors_total", "Executor calls that failed", exec_errors_);
  out.append(
      "# HELP epoch_executor_call_duration_seconds Executor call latency\n"
      "# TYPE epoch_executor_call_duration_seconds histogram\n");
  for (const auto& [labels, h] : exec_duration_)
    h.render(out, "epoch_executor_call_duration_seconds", labels);
  counter_family(out, "epoch_http_requests_total", "HTTP requests by route, method and status",
                 http_);
  out.append(
      "# HELP epoch_http_request_duration_seconds HTTP request latency\n"
      "# TYPE epoch_http_request_duration_seconds histogram\n");
  http_duration_.render(out, "epoch_http_request_duration_seconds", "");
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;

class InstrumentedExecutor final : public epoch::Executor {
 public:
  InstrumentedExecutor(epoch::Executor& target, Metrics& metrics, Logger& log)
      : target_(target), metrics_(metrics), log_(log) {}

  std::string_view name() const noexcept override { return target_.name(); }
  bool in_process(const epoch::Task& leaf) const noexcept override {
    return target_.in_process(leaf);
  }

  void launch(const epoch::TaskLaunch& launch, epoch::TaskObserver observer) override {
    if (launch.run_type == epoch::RunType::kScheduled && launch.attempt == 1 &&
        first_launch(launch.topology_id + "/" + launch.run_id)) {
      const auto late = std::chrono::system_clock::now() - launch.scheduled_time;
      metrics_.fire_lateness(std::max(std::chrono::nanoseconds(0),
                                      std::chrono::duration_cast<std::chrono::nanoseconds>(late)));
    }
    const auto t0 = Clock::now();
    target_.launch(launch, std::move(observer));
    metrics_.executor_call("launch", Clock::now() - t0, false);
  }

  void detach(const std::string& task_id) override { target_.detach(task_id); }

  void kill(const std::string& task_id, std::function<void(epoch::Status)> done) override {
    target_.kill(task_id, timed("kill", std::move(done)));
  }

  void cleanup(const std::string& task_id, std::function<void(epoch::Status)> done) override {
    auto logged = [this, task_id, done = std::move(done)](epoch::Status s) {
      if (!s.ok()) {
        log_.warn("could not clean up a finished task in the executor",
                  {{"taskId", task_id}, {"error", s.message()}});
      }
      if (done) done(std::move(s));
    };
    target_.cleanup(task_id, timed("cleanup", std::move(logged)));
  }

  epoch::StatusOr<epoch::TaskLogs> logs(const std::string& task_id) override {
    const auto t0 = Clock::now();
    auto r = target_.logs(task_id);
    metrics_.executor_call("logs", Clock::now() - t0,
                           !r.ok() && r.status().code() != epoch::StatusCode::kNotFound);
    return r;
  }

  epoch::StatusOr<epoch::OutputChunk> read_output(const std::string& task_id,
                                                  epoch::OutputStream stream, std::int64_t offset,
                                                  std::size_t limit) override {
    const auto t0 = Clock::now();
    auto r = target_.read_output(task_id, stream, offset, limit);
    metrics_.executor_call("read_output", Clock::now() - t0,
                           !r.ok() && r.status().code() != epoch::StatusCode::kNotFound);
    return r;
  }

 private:
  std::function<void(epoch::Status)> timed(std::string_view op,
                                           std::function<void(epoch::Status)> done) {
    return [this, op, t0 = Clock::now(), done = std::move(done)](epoch::Status s) {
      metrics_.executor_call(op, Clock::now() - t0, !s.ok());
      if (done) done(std::move(s));
    };
  }

  // Whether this run has not launched before (remembers the last 10,000).
  bool first_launch(std::string key) {
    std::lock_guard lock(mu_);
    if (!seen_.insert(key).second) return false;
    order_.push_back(std::move(key));
    if (order_.size() > 10000) {
      seen_.erase(order_.front());
      order_.pop_front();
    }
    return true;
  }

  epoch::Executor& target_;
  Metrics& metrics_;
  Logger& log_;
  std::mutex mu_;
  std::unordered_set<std::string> seen_;
  std::deque<std::string> order_;
};

}  // namespace

std::unique_ptr<epoch::Executor> make_instrumented_executor(epoch::Executor& target,
                                                            Metrics& metrics, Logger& log) {
  return std::make_unique<InstrumentedExecutor>(target, metrics, log);
}

}  // namespace epochd
