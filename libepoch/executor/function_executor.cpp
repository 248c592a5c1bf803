// FunctionExecutor: the program's registered jobs run on a pool of our
// threads; every report goes out on one control thread, in the order it was
// decided (under the lock). See epoch/function_executor.h.
#include "epoch/function_executor.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "../support/process_name.h"

namespace epoch {

namespace asio = boost::asio;
namespace json = boost::json;

// ---- JobContext -----------------------------------------------------------------

struct JobContext::State {
  State(const TaskLaunch& l, const FunctionTask& f, std::size_t output_limit)
      : topology_id(l.topology_id),
        run_id(l.run_id),
        task_name(l.task_name),
        task_id(l.task_id),
        job(f.job),
        attempt(l.attempt),
        run_type(l.run_type),
        scheduled_time(l.scheduled_time),
        data(f.data ? f.data->text : "{}"),
        max_output(output_limit) {
    json::error_code ec;
    json::value v = json::parse(data, ec);
    if (!ec && v.is_object()) parsed = std::move(v.as_object());
  }

  const std::string topology_id, run_id, task_name, task_id, job;
  const int attempt;
  const RunType run_type;
  const Instant scheduled_time;
  const std::string data;
  json::object parsed;  // `data`, parsed once
  std::stop_source stop;

  // Output, appended to by the handler and read by read_output().
  const std::size_t max_output;
  mutable std::mutex out_mu;
  std::string out, err;
  bool out_full = false, err_full = false;

  void append(OutputStream stream, std::string_view line) {
    std::lock_guard lock(out_mu);
    std::string& s = stream == OutputStream::kStdout ? out : err;
    bool& full = stream == OutputStream::kStdout ? out_full : err_full;
    if (full) return;
    if (s.size() + line.size() + 1 > max_output) {
      full = true;
      s += "[epoch: output past " + std::to_string(max_output) + " bytes dropped]\n";
      return;
    }
    s.append(line);
    s.push_back('\n');
  }

  // Waiting in sleep_for(), woken by the stop token.
  mutable std::mutex wait_mu;
  mutable std::condition_variable_any wait_cv;
};

const std::string& JobContext::topology_id() const noexcept {
  return state_.topology_id;
}
const std::string& JobContext::run_id() const noexcept {
  return state_.run_id;
}
const std::string& JobContext::task_name() const noexcept {
  return state_.task_name;
}
const std::string& JobContext::task_id() const noexcept {
  return state_.task_id;
}
const std::string& JobContext::job() const noexcept {
  return state_.job;
}
int JobContext::attempt() const noexcept {
  return state_.attempt;
}
RunType JobContext::run_type() const noexcept {
  return state_.run_type;
}
Instant JobContext::scheduled_time() const noexcept {
  return state_.scheduled_time;
}
const std::string& JobContext::data() const noexcept {
  return state_.data;
}

std::optional<std::string> JobContext::data_string(std::string_view key) const {
  const auto* v = state_.parsed.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

std::optional<std::int64_t> JobContext::data_int(std::string_view key) const {
  const auto* v = state_.parsed.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  return std::nullopt;
}

std::optional<bool> JobContext::data_bool(std::string_view key) const {
  const auto* v = state_.parsed.if_contains(key);
  if (v == nullptr || !v->is_bool()) return std::nullopt;
  return v->as_bool();
}

bool JobContext::cancelled() const noexcept {
  return state_.stop.stop_requested();
}
std::stop_token JobContext::stop_token() const noexcept {
  return state_.stop.get_token();
}

bool JobContext::sleep_for(std::chrono::milliseconds d) const {
  std::unique_lock lock(state_.wait_mu);
  state_.wait_cv.wait_for(lock, state_.stop.get_token(), d, [] { return false; });
  return !state_.stop.stop_requested();
}

void JobContext::log(std::string_view line) {
  state_.append(OutputStream::kStdout, line);
}
void JobContext::error(std::string_view line) {
  state_.append(OutputStream::kStderr, line);
}

void JobContext::progress(double fraction, std::string_view note) {
  if (!(fraction >= 0)) fraction = 0;  // NaN too
  fraction = std::min(fraction, 1.0);
  std::string line =
      "progress " + std::to_string(static_cast<int>(std::lround(fraction * 100))) + "%";
  if (!note.empty()) {
    line += ": ";
    line.append(note);
  }
  state_.append(OutputStream::kStdout, line);
}

// ---- the executor ----------------------------------------------------------------

namespace {

std::string describe(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

TaskUpdate update(TaskState state, std::string upstream, std::string error = {}) {
  TaskUpdate u;
  u.state = state;
  u.upstream_id = std::move(upstream);
  u.error_message = std::move(error);
  return u;
}

}  // namespace

class FunctionExecutor::Impl {
 public:
  Impl(FunctionExecutorOptions options, Executor* others)
      : options_(std::move(options)),
        others_(others),
        owned_clock_(options_.clock == nullptr ? make_system_clock() : nullptr),
        clock_(options_.clock != nullptr ? *options_.clock : *owned_clock_),
        process_(host_and_pid()),  // which process ran a job: its upstream id
        pool_(std::max<std::size_t>(1, options_.threads)),
        work_(asio::make_work_guard(ctl_)),
        ctl_thread_([this] { ctl_.run(); }) {}

  ~Impl() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (auto& [id, j] : jobs_) {
        j->ctx->stop.request_stop();
        j->ctx->wait_cv.notify_all();
      }
    }
    pool_.stop();  // handlers not started never will
    pool_.join();  // the running ones have returned
    work_.reset();
    ctl_.stop();  // reports not delivered are dropped
    ctl_thread_.join();
    std::lock_guard lock(mu_);
    jobs_.clear();  // timers go before the clock
  }

  Status add_job(std::string name, JobHandler handler) {
    if (!valid_name(name)) {
      return invalid_argument("job name '" + name.substr(0, 300) +
                              "': must be 1-255 characters of [a-zA-Z0-9_-]");
    }
    if (!handler) return invalid_argument("job '" + name + "': the handler is empty");
    std::lock_guard lock(mu_);
    auto [it, added] =
        handlers_.try_emplace(name, std::make_shared<const JobHandler>(std::move(handler)));
    if (!added) return already_exists("job '" + name + "' is already registered");
    return Status();
  }

  std::vector<std::string> jobs() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [name, h] : handlers_)
      out.push_back(name);
    return out;
  }

  std::size_t running() const { return running_.load(); }

  bool wait_reports(std::chrono::milliseconds limit) {
    auto reached = std::make_shared<std::promise<void>>();
    auto done = reached->get_future();
    asio::post(ctl_, [reached] { reached->set_value(); });  // after what is queued
    return done.wait_for(limit) == std::future_status::ready;
  }

  bool in_process(const Task& leaf) const noexcept {
    return std::holds_alternative<FunctionTask>(leaf.spec) ||
           (others_ != nullptr && others_->in_process(leaf));
  }

  void launch(const TaskLaunch& l, TaskObserver observer) {
    const auto* f = std::get_if<FunctionTask>(&l.task.spec);
    if (f == nullptr) {
      if (others_ != nullptr) return others_->launch(l, std::move(observer));
      const std::string what = std::holds_alternative<ProcessTask>(l.task.spec) ? "PROCESS"
                               : std::holds_alternative<ContainerTask>(l.task.spec)
                                   ? "CONTAINER_EXECUTION"
                                   : "COMPOSITE";
      return answer(std::move(observer),
                    update(TaskState::kFailed, "UNKNOWN",
                           "this program runs only FUNCTION tasks (its jobs); no executor for " +
                               what + " tasks was set up"));
    }
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (const auto it = jobs_.find(l.task_id); it != jobs_.end()) {
      Job& j = *it->second;
      j.observer = std::move(observer);
      j.reported_terminal = false;
      if (j.detached) {
        // Cancelled when this node stopped scheduling it: whatever the
        // handler does now is not recorded.
        j.detached = false;
        report(j, lost(l, "it was cancelled when this node stopped scheduling it"));
      } else if (j.last) {
        report(j, *j.last);  // attach: the state it is in
      }
      return;
    }
    if (l.resumed) {
      report_new(std::move(observer),
                 lost(l,
                      "the process that claimed it ended (or stopped scheduling) before it "
                      "finished; its handler may or may not have started"));
      return;
    }
    auto job = std::make_shared<Job>();
    job->ctx = std::make_shared<JobContext::State>(l, *f, options_.max_output_bytes);
    job->observer = std::move(observer);
    if (const auto h = handlers_.find(f->job); h != handlers_.end()) job->handler = h->second;
    jobs_[l.task_id] = job;
    if (!job->handler) {
      std::string known;
      for (const auto& [name, h] : handlers_)
        known += (known.empty() ? "" : ", ") + name;
      const std::string why = "no handler is registered for job '" + f->job +
                              "' in this program (registered: " + (known.empty() ? "none" : known) +
                              ")";
      job->ctx->append(OutputStream::kStderr, "epoch: " + why);
      finished(l.task_id, *job);
      report(*job, update(TaskState::kFailed, process_, why));
      return;
    }
    asio::post(pool_, [this, job] { run(job); });
  }

  void detach(const std::string& id) {
    {
      std::lock_guard lock(mu_);
      if (const auto it = jobs_.find(id); it != jobs_.end()) {
        Job& j = *it->second;
        j.observer = nullptr;
        if (j.phase != Job::Phase::kFinished) {
          j.detached = true;
          cancel(j);
        }
        return;
      }
    }
    if (others_ != nullptr) others_->detach(id);
  }

  void kill(const std::string& id, std::function<void(Status)> done) {
    std::unique_lock lock(mu_);
    const auto it = jobs_.find(id);
    if (it == jobs_.end()) {
      lock.unlock();
      if (others_ != nullptr) return others_->kill(id, std::move(done));
      return answer_done(std::move(done), not_found("no task " + id + " in this program"));
    }
    const std::shared_ptr<Job> job = it->second;
    Job& j = *job;
    if (j.phase == Job::Phase::kQueued) {
      cancel(j);
      j.phase = Job::Phase::kFinished;  // run() will skip it
      finished(id, j);
      report(j, update(TaskState::kCancelled, process_, "killed before its handler started"));
    } else if (j.phase == Job::Phase::kRunning && !j.grace_armed) {
      cancel(j);
      j.grace_armed = true;
      // Timers are armed on the control thread, where they also fire. Only
      // jobs_ and a running handler own a job (what is posted holds it
      // weakly), so that every job, and its timer, goes with jobs_.
      std::weak_ptr<Job> weak = job;
      asio::post(ctl_, [this, weak] {
        std::lock_guard inner(mu_);
        const auto held = weak.lock();
        if (!held || stopping_ || held->phase == Job::Phase::kFinished) return;
        held->grace = clock_.make_timer(ctl_);
        held->grace->arm(clock_.now() + options_.kill_grace, [this, weak] {
          if (const auto due = weak.lock()) grace_over(*due);
        });
      });
    }
    answer_done(std::move(done), Status());
  }

  void cleanup(const std::string& id, std::function<void(Status)> done) {
    {
      std::lock_guard lock(mu_);
      if (const auto it = jobs_.find(id); it != jobs_.end()) {
        if (it->second->phase == Job::Phase::kFinished) {
          jobs_.erase(it);
        } else {
          it->second->cleanup_when_done = true;
        }
        answer_done(std::move(done), Status());
        return;
      }
    }
    if (others_ != nullptr) return others_->cleanup(id, std::move(done));
    answer_done(std::move(done), Status());  // nothing kept: nothing to do
  }

  StatusOr<TaskLogs> logs(const std::string& id) {
    {
      std::lock_guard lock(mu_);
      if (jobs_.count(id) > 0) return TaskLogs{"", true};
    }
    if (others_ != nullptr) return others_->logs(id);
    return not_found("no task " + id + " in this program");
  }

  StatusOr<OutputChunk> read_output(const std::string& id, OutputStream stream, std::int64_t offset,
                                    std::size_t limit) {
    std::shared_ptr<JobContext::State> ctx;
    {
      std::lock_guard lock(mu_);
      if (const auto it = jobs_.find(id); it != jobs_.end()) ctx = it->second->ctx;
    }
    if (!ctx) {
      if (others_ != nullptr) return others_->read_output(id, stream, offset, limit);
      return not_found("no output of task " + id + " in this program");
    }
    if (offset < 0) return invalid_argument("offset " + std::to_string(offset) + " is negative");
    std::lock_guard lock(ctx->out_mu);
    const std::string& s = stream == OutputStream::kStdout ? ctx->out : ctx->err;
    OutputChunk c;
    c.size = static_cast<std::int64_t>(s.size());
    if (static_cast<std::size_t>(offset) < s.size()) {
      c.data = s.substr(static_cast<std::size_t>(offset), limit);
    }
    return c;
  }

 private:
  struct Job {
    enum class Phase { kQueued, kRunning, kFinished };
    std::shared_ptr<JobContext::State> ctx;
    std::shared_ptr<const JobHandler> handler;
    TaskObserver observer;
    Phase phase = Phase::kQueued;
    std::optional<TaskUpdate> last;  // the last state reported (for an attach)
    bool reported_terminal = false;
    bool detached = false;
    bool grace_armed = false;
    bool cleanup_when_done = false;
    std::unique_ptr<Timer> grace;
  };

  TaskUpdate lost(const TaskLaunch& l, const std::string& why) const {
    TaskUpdate u = update(TaskState::kFailed, "UNKNOWN",
                          "attempt " + std::to_string(l.attempt) + " is lost: " + why);
    u.lost = true;
    return u;
  }

  // REQUIRES: mu_ held. Posting under the lock keeps reports in the order
  // they were decided.
  void report(Job& j, TaskUpdate u) {
    if (stopping_) return;
    j.last = u;
    if (!j.observer || j.reported_terminal) return;
    const bool terminal = is_terminal(u.state);
    j.reported_terminal = terminal;
    asio::post(ctl_, [observer = terminal ? std::move(j.observer) : j.observer, u = std::move(u)] {
      observer(u);
    });
  }

  // REQUIRES: mu_ held. A report to an observer of no job (never inline).
  void report_new(TaskObserver observer, TaskUpdate u) {
    if (stopping_) return;
    asio::post(ctl_, [observer = std::move(observer), u = std::move(u)] { observer(u); });
  }

  void answer(TaskObserver observer, TaskUpdate u) {
    std::lock_guard lock(mu_);
    report_new(std::move(observer), std::move(u));
  }

  void answer_done(std::function<void(Status)> done, Status s) {
    if (!done) return;
    asio::post(ctl_, [done = std::move(done), s = std::move(s)] { done(s); });
  }

  // REQUIRES: mu_ held.
  static void cancel(Job& j) {
    j.ctx->stop.request_stop();
    std::lock_guard wait(j.ctx->wait_mu);
    j.ctx->wait_cv.notify_all();
  }

  // REQUIRES: mu_ held. A job that will not run (again): kept for its
  // output until cleanup(), or until keep_finished newer ones push it out.
  void finished(const std::string& id, Job& j) {
    j.phase = Job::Phase::kFinished;
    j.grace.reset();
    if (j.cleanup_when_done) {
      jobs_.erase(id);
      return;
    }
    finished_order_.push_back(id);
    while (finished_order_.size() > options_.keep_finished) {
      const auto it = jobs_.find(finished_order_.front());
      if (it != jobs_.end() && it->second->phase == Job::Phase::kFinished) jobs_.erase(it);
      finished_order_.pop_front();
    }
  }

  void run(const std::shared_ptr<Job>& job) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || job->phase != Job::Phase::kQueued) return;
      job->phase = Job::Phase::kRunning;
      ++running_;
      report(*job, update(TaskState::kRunning, process_));
    }
    Status s;
    if (!job->ctx->stop.stop_requested()) {
      try {
        JobContext ctx(*job->ctx);
        s = (*job->handler)(ctx);
      } catch (const std::exception& e) {
        s = internal_error(std::string("the handler threw: ") + e.what());
      } catch (...) {
        s = internal_error("the handler threw something that is not a std::exception");
      }
    }
    const bool stopped = job->ctx->stop.stop_requested();
    if (!s.ok()) job->ctx->append(OutputStream::kStderr, "epoch: " + s.message());
    std::lock_guard lock(mu_);
    --running_;
    finished(job->ctx->task_id, *job);
    TaskUpdate u = update(TaskState::kCompleted, process_);
    if (stopped) {
      u.state = TaskState::kCancelled;
      u.error_message = s.ok() ? "cancelled" : "cancelled: " + s.message();
    } else if (!s.ok()) {
      u.state = TaskState::kFailed;
      u.error_message = s.message();
    } else {
      u.exit_code = 0;
    }
    report(*job, std::move(u));
  }

  // On the control thread: the handler had its grace after a kill.
  void grace_over(Job& j) {
    std::lock_guard lock(mu_);
    if (j.phase != Job::Phase::kRunning || j.reported_terminal) return;
    j.ctx->append(OutputStream::kStderr,
                  "epoch: the handler did not return within " + describe(options_.kill_grace) +
                      " of its cancellation; its thread stays busy until it does");
    report(j,
           update(TaskState::kCancelled, process_,
                  "cancelled; the handler did not return within " + describe(options_.kill_grace)));
  }

  const FunctionExecutorOptions options_;
  Executor* const others_;
  const std::unique_ptr<Clock> owned_clock_;
  Clock& clock_;
  const std::string process_;

  mutable std::mutex mu_;
  bool stopping_ = false;
  std::map<std::string, std::shared_ptr<const JobHandler>> handlers_;
  std::unordered_map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::string> finished_order_;
  std::atomic<std::size_t> running_{0};

  asio::thread_pool pool_;
  asio::io_context ctl_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread ctl_thread_;  // last: started once everything else exists
};

FunctionExecutor::FunctionExecutor(FunctionExecutorOptions options, Executor* others)
    : impl_(std::make_unique<Impl>(std::move(options), others)) {}

FunctionExecutor::~FunctionExecutor() = default;

Status FunctionExecutor::add_job(std::string name, JobHandler handler) {
  return impl_->add_job(std::move(name), std::move(handler));
}
std::vector<std::string> FunctionExecutor::jobs() const {
  return impl_->jobs();
}
std::size_t FunctionExecutor::running() const {
  return impl_->running();
}
bool FunctionExecutor::wait_reports(std::chrono::milliseconds limit) {
  return impl_->wait_reports(limit);
}
bool FunctionExecutor::in_process(const Task& leaf) const noexcept {
  return impl_->in_process(leaf);
}
void FunctionExecutor::launch(const TaskLaunch& l, TaskObserver observer) {
  impl_->launch(l, std::move(observer));
}
void FunctionExecutor::detach(const std::string& id) {
  impl_->detach(id);
}
void FunctionExecutor::kill(const std::string& id, std::function<void(Status)> done) {
  impl_->kill(id, std::move(done));
}
void FunctionExecutor::cleanup(const std::string& id, std::function<void(Status)> done) {
  impl_->cleanup(id, std::move(done));
}
StatusOr<TaskLogs> FunctionExecutor::logs(const std::string& id) {
  return impl_->logs(id);
}
StatusOr<OutputChunk> FunctionExecutor::read_output(const std::string& id, OutputStream stream,
                                                    std::int64_t offset, std::size_t limit) {
  return impl_->read_output(id, stream, offset, limit);
}

}  // namespace epoch
