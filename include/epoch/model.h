// epoch/model.h — topologies, tasks, triggers, runs: Epoch's data model.
//
// What: plain value types mirroring PhonePe Epoch's wire model
// (EpochTopology, EpochTopologyDetails, EpochTopologyRunInfo, ...) plus our
// optional extensions (PROCESS tasks, a time zone on CRON triggers, and
// per-topology policies). Absent extensions mean Epoch's behaviour.
//
// JSON: `*_from_json` / `to_json` map these types to and from Epoch's JSON
// exactly: null fields are omitted, unknown fields are ignored, enum names
// are case-insensitive on input, instants are epoch milliseconds (ISO-8601
// strings are accepted on input), durations are Dropwizard strings
// ("120 seconds"; "120s", "2 minutes" accepted). Fields Epoch passes through
// to Drove without interpreting them (`configs`, `logging`,
// `placementPolicy`) are kept as JSON text (compact, otherwise as parsed) and
// written back unchanged.
//
// Threading: plain values. Ownership: everything is held by value.
// Errors: decoding returns kInvalidArgument naming the JSON path and what
// was expected, e.g. "$.task.resources[1].count: expected an integer";
// `validate()` returns kInvalidArgument listing every rule broken.
//
// Example:
//   epoch::StatusOr<epoch::Topology> t = epoch::topology_from_json(body);
//   if (!t.ok()) return t.status();
//   EPOCH_RETURN_IF_ERROR(epoch::validate(*t));
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "epoch/status.h"
#include "epoch/time_zone.h"

namespace epoch {

// A Dropwizard duration: a count and a unit, written "120 seconds".
struct Duration {
  enum class Unit { kNanoseconds, kMicroseconds, kMilliseconds, kSeconds, kMinutes, kHours, kDays };
  std::int64_t count = 0;
  Unit unit = Unit::kSeconds;

  std::chrono::milliseconds to_millis() const noexcept;
  static Duration seconds(std::int64_t n) { return {n, Unit::kSeconds}; }
  static Duration minutes(std::int64_t n) { return {n, Unit::kMinutes}; }
  friend bool operator==(const Duration&, const Duration&) = default;
};

// "120 seconds".
std::string to_string(const Duration& d);
// "120 seconds", "120s", "2 minutes", "2 minute", "500ms", "1 day", ...
// Errors: kInvalidArgument.
StatusOr<Duration> parse_duration(std::string_view text);

// An optional value kept on the heap: used like std::optional<T>, but only a
// pointer wide when absent — for large parts of the model that most
// topologies leave out (policies, Drove pass-through JSON).
template <typename T>
class Boxed {
 public:
  Boxed() = default;
  Boxed(std::nullopt_t) {}                                       // NOLINT: like std::optional
  Boxed(T value) : p_(std::make_unique<T>(std::move(value))) {}  // NOLINT: like std::optional
  Boxed(const Boxed& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(const Boxed& o) {
    p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  Boxed& operator=(Boxed&&) noexcept = default;
  Boxed& operator=(T value) {
    p_ = std::make_unique<T>(std::move(value));
    return *this;
  }
  Boxed& operator=(std::nullopt_t) {
    p_.reset();
    return *this;
  }

  bool has_value() const noexcept { return p_ != nullptr; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  // REQUIRES: has_value().
  T& operator*() { return *p_; }
  const T& operator*() const { return *p_; }
  T* operator->() { return p_.get(); }
  const T* operator->() const { return p_.get(); }
  void reset() { p_.reset(); }

  friend bool operator==(const Boxed& a, const Boxed& b) {
    return a.has_value() == b.has_value() && (!a.has_value() || *a.p_ == *b.p_);
  }

 private:
  std::unique_ptr<T> p_;
};

// JSON text kept as parsed (a Drove structure Epoch does not interpret).
struct RawJson {
  std::string text;
  friend bool operator==(const RawJson&, const RawJson&) = default;
};

// ---- tasks ----------------------------------------------------------------

struct Executable {
  std::string type = "DOCKER";  // Drove's ExecutableCoordinates type
  std::string url;              // the image
  Duration docker_pull_timeout = Duration::seconds(120);
  friend bool operator==(const Executable&, const Executable&) = default;
};

struct Resource {
  enum class Type { kCpu, kMemory };
  Type type = Type::kCpu;
  std::int64_t amount = 0;  // CPU: "count"; MEMORY: "sizeInMB"
  friend bool operator==(const Resource&, const Resource&) = default;
};

struct Volume {
  std::string path_in_container;
  std::string path_on_host;
  enum class Mode { kReadWrite, kReadOnly } mode = Mode::kReadOnly;
  friend bool operator==(const Volume&, const Volume&) = default;
};

// Epoch's CONTAINER_EXECUTION: one Drove task (or a docker run locally).
struct ContainerTask {
  std::string task_name;
  Executable executable;
  std::vector<Resource> resources;
  std::optional<std::vector<Volume>> volumes;
  Boxed<RawJson> configs;           // Drove ConfigSpec list
  Boxed<RawJson> logging;           // Drove LoggingSpec
  Boxed<RawJson> placement_policy;  // Drove PlacementPolicy
  std::optional<std::map<std::string, std::string>> tags;
  std::optional<std::map<std::string, std::string>> env;
  std::optional<std::vector<std::string>> args;
  friend bool operator==(const ContainerTask&, const ContainerTask&) = default;
};

// Extension: a plain program on the executor's host.
struct ProcessTask {
  std::string task_name;
  std::string command;  // path or name looked up in PATH
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string working_directory;  // empty: the executor's default
  friend bool operator==(const ProcessTask&, const ProcessTask&) = default;
};

struct Task;

enum class CompositionType { kAll, kAny };

// Epoch's COMPOSITE: children run in order; ALL stops at the first failure,
// ANY at the first success.
struct CompositeTask {
  std::vector<Task> tasks;
  CompositionType composition = CompositionType::kAll;
  friend bool operator==(const CompositeTask&, const CompositeTask&);
};

struct Task {
  std::variant<ContainerTask, ProcessTask, CompositeTask> spec;
  friend bool operator==(const Task&, const Task&) = default;
};

inline bool operator==(const CompositeTask& a, const CompositeTask& b) {
  return a.composition == b.composition && a.tasks == b.tasks;
}

// The leaf tasks (container and process) of a tree, depth first, in order.
std::vector<const Task*> leaf_tasks(const Task& root);
// The name of a leaf task ("" for a composite).
const std::string& task_name(const Task& task);

// ---- triggers and notifications -------------------------------------------

struct CronTrigger {
  std::string time_spec;                 // Quartz cron
  std::optional<std::string> time_zone;  // extension: IANA zone; absent = the daemon's default
  friend bool operator==(const CronTrigger&, const CronTrigger&) = default;
};

// Fires once at `time` (Epoch's AT trigger; we fire it at its time, once).
struct AtTrigger {
  Instant time{};
  friend bool operator==(const AtTrigger&, const AtTrigger&) = default;
};

using Trigger = std::variant<CronTrigger, AtTrigger>;

// Extension, on either notification type: webhooks of this topology, and
// which run events notify at all. Event names: RUN_SUCCEEDED, RUN_FAILED,
// RUN_TIMED_OUT, RUN_MISSED, RUN_SKIPPED, RUN_RUNNING_LONG. Without `events`,
// mail goes out as Epoch's (succeeded, failed, timed out) and the topology's
// webhooks get the server's webhook event selection. Globally configured
// webhooks always follow the server's selection.
struct NotifyRouting {
  std::vector<std::string> webhooks;               // http(s) URLs, at most 10
  std::optional<std::vector<std::string>> events;  // JSON "events"
  friend bool operator==(const NotifyRouting&, const NotifyRouting&) = default;
};

// The run event names NotifyRouting::events accepts, in a stable order.
const std::vector<std::string>& notify_event_names();

struct MailNotification {
  std::vector<std::string> emails;
  Boxed<NotifyRouting> routing;  // extension; boxed: most topologies have none
  friend bool operator==(const MailNotification&, const MailNotification&) = default;
};
struct BlackholeNotification {
  Boxed<NotifyRouting> routing;  // extension
  friend bool operator==(const BlackholeNotification&, const BlackholeNotification&) = default;
};
using Notification = std::variant<MailNotification, BlackholeNotification>;

// The notification's routing, or an empty one (no webhooks, no selection).
inline const NotifyRouting& routing_of(const Notification& n) {
  static const NotifyRouting none;
  return std::visit(
      [](const auto& v) -> const NotifyRouting& { return v.routing ? *v.routing : none; }, n);
}

// ---- policies (extension) ---------------------------------------------------

enum class OverlapMode {
  kSerial,   // default: scheduled fires never overlap a running scheduled run;
             // a fire that passes during one is recorded as SKIPPED
  kForbid,   // no run overlaps any other run of the topology, instant ones included:
             // fires are SKIPPED and "run now" is refused while a run is live
  kAllow,    // up to max_concurrent runs at once; beyond that fires are SKIPPED
  kReplace,  // a fire kills the live run(s) and starts a new one
};

enum class CatchUpMode {
  kNone,    // default: fires missed while no leader ran are recorded as MISSED
  kLatest,  // run the latest missed fire within the window, record the rest as MISSED
  kAll,     // run every missed fire within the window, up to max_runs; record the rest
};

enum class RetryOn { kFailed, kTimedOut, kLost };

struct OverlapPolicy {
  OverlapMode mode = OverlapMode::kSerial;
  int max_concurrent = 1;  // kAllow only
  friend bool operator==(const OverlapPolicy&, const OverlapPolicy&) = default;
};

struct CatchUpPolicy {
  CatchUpMode mode = CatchUpMode::kNone;
  Duration window = Duration::minutes(60);  // how far back a missed fire may still run
  int max_runs = 10;                        // kAll: at most this many missed fires run
  friend bool operator==(const CatchUpPolicy&, const CatchUpPolicy&) = default;
};

struct RetryPolicy {
  int max_attempts = 1;  // 1 = no retry
  Duration initial_backoff = Duration::seconds(10);
  Duration max_backoff = Duration::minutes(10);
  double multiplier = 2.0;
  double jitter = 0.2;  // +- this fraction of each backoff, at random
  std::vector<RetryOn> on = {RetryOn::kFailed, RetryOn::kTimedOut, RetryOn::kLost};
  friend bool operator==(const RetryPolicy&, const RetryPolicy&) = default;
};

struct RetentionPolicy {
  std::optional<int> max_runs;      // keep at most this many finished runs
  std::optional<Duration> max_age;  // and none older than this
  friend bool operator==(const RetentionPolicy&, const RetentionPolicy&) = default;
};

struct Policies {
  std::optional<OverlapPolicy> overlap;
  std::optional<CatchUpPolicy> catch_up;
  std::optional<RetryPolicy> retry;
  // A task attempt running longer than this is killed; the attempt counts as
  // TIMED_OUT (retried if the retry policy says so, else the run FAILS).
  std::optional<Duration> timeout;
  // A fire handled later than this after its nominal time is MISSED.
  std::optional<Duration> start_deadline;
  std::optional<RetentionPolicy> retention;
  friend bool operator==(const Policies&, const Policies&) = default;
};

// ---- topology -------------------------------------------------------------

struct Topology {
  std::string name;  // also the id; [0-9a-zA-Z_-]{1,255}
  Task task;
  Trigger trigger;
  std::optional<Notification> notify;
  Boxed<Policies> policies;  // extension
  friend bool operator==(const Topology&, const Topology&) = default;
};

enum class TopologyState { kActive, kPaused, kDeleted };

struct TopologyDetails {
  std::string id;
  Topology topology;
  TopologyState state = TopologyState::kActive;
  Instant created{};
  Instant updated{};
  friend bool operator==(const TopologyDetails&, const TopologyDetails&) = default;
};

// ---- runs -----------------------------------------------------------------

enum class RunState { kRunning, kCompleted, kSuccessful, kSkipped, kFailed, kMissed };
enum class RunType { kScheduled, kInstant };
enum class TaskState { kPending, kStarting, kUnknown, kRunning, kCompleted, kCancelled, kFailed };

bool is_terminal(RunState s) noexcept;   // all but kRunning
bool is_terminal(TaskState s) noexcept;  // kCompleted, kCancelled, kFailed

struct TaskRunInfo {
  std::string task_id;  // "{topologyId}-{runId}-{taskName}" (+ "-{attempt}" for retries)
  TaskState state = TaskState::kPending;
  std::string upstream_id;  // the executor's id, or "UNKNOWN"
  std::string error_message;
  // Extensions:
  std::optional<int> exit_code;
  int attempt = 1;
  std::optional<Instant> started;
  std::optional<Instant> finished;
  std::optional<Instant> not_before;  // a retry waits until then
  friend bool operator==(const TaskRunInfo&, const TaskRunInfo&) = default;
};

struct RunInfo {
  std::string topology_id;
  std::string run_id;  // "ESR-yyyy-MM-dd-HH-mm-ss-SSS" (UTC) or "EIR-..."
  RunState state = RunState::kRunning;
  std::string message;
  std::map<std::string, TaskRunInfo> tasks;  // by task name
  RunType run_type = RunType::kScheduled;
  Instant created{};
  Instant updated{};
  // Extensions:
  std::optional<Instant> scheduled_time;  // the nominal fire instant
  std::optional<std::string> reason;      // why SKIPPED / MISSED / FAILED
  friend bool operator==(const RunInfo&, const RunInfo&) = default;
};

// ---- the UI's simple requests (SimpleTopologyCreateRequest / EditRequest) --

struct SimpleTopologyRequest {
  std::string name;  // create only
  std::string cron;
  std::string docker;
  std::int64_t cpus = 0;
  std::int64_t memory = 0;
  std::string notify_email;
  std::optional<std::map<std::string, std::string>> env;
  std::optional<std::vector<Volume>> volumes;
  std::optional<std::string> time_zone;  // extension
};

// The full topology Epoch builds from a simple request (its task is the
// single container task "docker-task").
Topology to_topology(const SimpleTopologyRequest& request, const std::string& name);

// ---- names ------------------------------------------------------------------

std::string_view to_string(TopologyState s) noexcept;  // "ACTIVE", ...
std::string_view to_string(RunState s) noexcept;       // "SUCCESSFUL", ...
std::string_view to_string(RunType t) noexcept;        // "SCHEDULED", "INSTANT"
std::string_view to_string(TaskState s) noexcept;      // "COMPLETED", ...
std::string_view to_string(OverlapMode m) noexcept;
std::string_view to_string(CatchUpMode m) noexcept;
// Case-insensitive; kInvalidArgument listing the accepted names otherwise.
StatusOr<RunState> parse_run_state(std::string_view name);
StatusOr<TaskState> parse_task_state(std::string_view name);
StatusOr<RunType> parse_run_type(std::string_view name);

// ---- validation and JSON -----------------------------------------------------

// Epoch's rules plus ours: name [0-9a-zA-Z_-]{1,255}; every leaf task named
// [a-zA-Z0-9_-]{1,255} and names unique in the tree; a container task has an
// image and CPU and memory; composites are not empty; a CRON trigger's
// expression and time zone are valid; policies are in range.
Status validate(const Topology& topology);
// The simple request's rules (cron, image, cpus 1-40, memory 128-100000 MB,
// emails), as Epoch's UI endpoints check them.
Status validate(const SimpleTopologyRequest& request, bool creating);

StatusOr<Topology> topology_from_json(std::string_view json);
StatusOr<TopologyDetails> topology_details_from_json(std::string_view json);
StatusOr<RunInfo> run_info_from_json(std::string_view json);
StatusOr<SimpleTopologyRequest> simple_request_from_json(std::string_view json);

std::string to_json(const Topology& topology);
std::string to_json(const TopologyDetails& details);
std::string to_json(const RunInfo& run);

// "ESR-2026-03-08-07-30-00-000" for a scheduled run at `t` (always UTC),
// "EIR-..." for an instant run.
std::string make_run_id(RunType type, Instant t);
// "{topologyId}-{runId}-{taskName}", plus "-{attempt}" when attempt > 1.
std::string make_task_id(std::string_view topology_id, std::string_view run_id,
                         std::string_view task_name, int attempt = 1);

}  // namespace epoch
