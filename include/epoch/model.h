// epoch/model.h — topologies, tasks, triggers, runs: Epoch's data model.
//
// What: plain value types mirroring PhonePe Epoch's wire model
// (EpochTopology, EpochTopologyDetails, EpochTopologyRunInfo, ...) plus our
// optional extensions (PROCESS and FUNCTION tasks, a time zone on CRON triggers, and
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
// Limits (namespace epoch::limits below; docs/api.md has the table): every
// string and list field has a maximum size, which validate() checks before it
// looks at the field's content, so no parser ever sees an oversized field.
// Instants are in [kMinInstant, kMaxInstant] (time_zone.h); the decoders refuse
// others. Policy durations are at most limits::kMaxDuration (3650 days).
//
// Secrets (extension): container and process tasks accept "secretEnv" beside
// "env", an object of environment entries whose values no reader should see.
// In the model they are merged into the task's env (so every executor passes
// them to the task like any env entry) and their names are kept in
// `secret_names`. to_json() writes them back under "secretEnv" with their
// values (for the stores); to_json(..., Secrets::kRedact) writes every secret
// value as kRedactedSecret (for API readers, the UI, audit entries, logs);
// restore_redacted_secrets() puts stored values back into an update that
// carries kRedactedSecret. A topology without secrets reads and writes
// exactly as Epoch's JSON.
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
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
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

  // The duration in milliseconds (sub-millisecond units round toward zero).
  // Saturates at ±INT64_MAX milliseconds instead of overflowing.
  std::chrono::milliseconds to_millis() const noexcept;
  static Duration seconds(std::int64_t n) { return {n, Unit::kSeconds}; }
  static Duration minutes(std::int64_t n) { return {n, Unit::kMinutes}; }
  friend bool operator==(const Duration&, const Duration&) = default;
};

// ---- limits ------------------------------------------------------------------

// The size limits validate() enforces (bytes for strings, entries for lists
// and maps). Each error names the field's path and the limit, e.g.
// "notify.emails[0]: 100005 characters, at most 254".
namespace limits {
inline constexpr std::size_t kName = 255;           // topology name, taskName
inline constexpr std::size_t kEmail = 254;          // one e-mail address
inline constexpr std::size_t kEmails = 100;         // addresses per MAIL notification
inline constexpr std::size_t kNotifyEmail = 4096;   // the simple request's notifyEmail text
inline constexpr std::size_t kWebhookUrl = 2048;    // one webhook URL
inline constexpr std::size_t kWebhooks = 10;        // webhooks per topology
inline constexpr std::size_t kEvents = 32;          // notify.events entries
inline constexpr std::size_t kEventName = 64;       // one notify.events entry
inline constexpr std::size_t kImage = 1024;         // executable.url, the simple request's docker
inline constexpr std::size_t kExecutableType = 64;  // executable.type
inline constexpr std::size_t kResources = 16;       // resources entries
inline constexpr std::size_t kCommand = 4096;       // a PROCESS task's command
inline constexpr std::size_t kArgs = 2048;          // args entries
inline constexpr std::size_t kArg = 32768;          // one argument
inline constexpr std::size_t kEnvEntries = 256;     // env plus secretEnv entries of one task
inline constexpr std::size_t kEnvKey = 256;         // an env name (at least 1 byte)
inline constexpr std::size_t kEnvValue = 32768;     // an env value
inline constexpr std::size_t kVolumes = 64;         // volumes entries
inline constexpr std::size_t kPath = 4096;          // a volume path, a working directory
inline constexpr std::size_t kTags = 64;            // tags entries
inline constexpr std::size_t kTagKey = 256;         // a tag name (at least 1 byte)
inline constexpr std::size_t kTagValue = 1024;      // a tag value
inline constexpr std::size_t kTimeSpec = 1024;      // a cron expression
inline constexpr std::size_t kTimeZone = 128;       // a time zone name
inline constexpr std::size_t kRawJson = 65536;      // configs, logging, placementPolicy (each)
inline constexpr std::size_t kTaskDepth = 16;       // nesting of COMPOSITE tasks
// The whole topology as to_json(topology) writes it (secrets included):
// ZooKeeper keeps records under 512 KiB, and one audit entry holds a
// topology's JSON before and after a change.
inline constexpr std::size_t kTopologyJson = 131072;
// Every duration of a topology (policies, dockerPullTimeout): 3650 days.
inline constexpr std::chrono::milliseconds kMaxDuration{3650LL * 86400000};
}  // namespace limits

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
  // Includes the secret entries (JSON "secretEnv"); see `secret_names`.
  std::optional<std::map<std::string, std::string>> env;
  // Extension: the names of the env entries that are secret (each is a key of
  // `env`). Null when the task has none; an empty set counts as none.
  Boxed<std::set<std::string>> secret_names;
  std::optional<std::vector<std::string>> args;
  friend bool operator==(const ContainerTask&, const ContainerTask&) = default;
};

// Extension: a plain program on the executor's host.
struct ProcessTask {
  std::string task_name;
  std::string command;  // path or name looked up in PATH
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // includes the secret entries
  std::string working_directory;           // empty: the executor's default; else absolute
  // The names of the env entries that are secret, as in ContainerTask.
  Boxed<std::set<std::string>> secret_names;
  friend bool operator==(const ProcessTask&, const ProcessTask&) = default;
};

// Extension: a job of the program that embeds libepoch (FUNCTION). The
// program registers a handler under `job` (epoch/function_executor.h); the
// handler gets `data` (a JSON object, kept as text) with the run's
// details. Only an executor that runs in-process jobs runs it; the others
// fail it at once, saying so.
struct FunctionTask {
  std::string task_name;
  std::string job;      // the registered job's name: valid_name(), like task names
  Boxed<RawJson> data;  // a JSON object, at most limits::kRawJson bytes; null: none
  friend bool operator==(const FunctionTask&, const FunctionTask&) = default;
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
  std::variant<ContainerTask, ProcessTask, CompositeTask, FunctionTask> spec;
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
// kTimedOut (extension): the attempt ran past the topology's `timeout`
// policy and was killed; the run then fails (RUN_TIMED_OUT) unless a retry
// or an ANY sibling completes.
enum class TaskState {
  kPending,
  kStarting,
  kUnknown,
  kRunning,
  kCompleted,
  kCancelled,
  kFailed,
  kTimedOut
};

bool is_terminal(RunState s) noexcept;   // all but kRunning
bool is_terminal(TaskState s) noexcept;  // kCompleted, kCancelled, kFailed, kTimedOut

struct TaskRunInfo {
  std::string task_id;  // "{topologyId}-{runId}-{taskName}" (+ "-{attempt}" for retries)
  TaskState state = TaskState::kPending;
  std::string upstream_id;  // the executor's id, or "UNKNOWN"
  std::string error_message;
  // Extensions:
  std::optional<int> exit_code;
  int attempt = 1;
  std::optional<Instant> started;     // the executor took this attempt
  std::optional<Instant> finished;    // it reached its terminal state
  std::optional<Instant> not_before;  // a retry waits until then
  // An in-process attempt (a FUNCTION task) stored as claimed before it can
  // start (up to SchedulerOptions::prepare_ahead before its time): a later
  // leader never starts it again, it records it LOST (JSON "claimed").
  bool claimed = false;
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
  std::optional<Instant> running_long;    // when RUN_RUNNING_LONG went out
  // Held behind the topology's live runs by the overlap policy and not yet
  // let go: none of its tasks was launched (written before a launch can be).
  bool queued = false;
  friend bool operator==(const RunInfo&, const RunInfo&) = default;
};

// When the run really started: its first task's start (the executor took
// it), not when the run was prepared; nullopt when no task started.
std::optional<Instant> run_started(const RunInfo& run);
// When its last task ended; nullopt while any task it started is live.
std::optional<Instant> run_finished(const RunInfo& run);

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
  // Extension: "secretEnv", secret entries for the task (see the top of this
  // file); to_topology() merges them into the task's env.
  std::optional<std::map<std::string, std::string>> secret_env;
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

// Whether `ref` is a docker image reference: [host[:port]/]path[:tag][@digest]
// where the host is DNS labels ([a-zA-Z0-9], inner '-') joined by '.' (it
// must contain '.' or ':' or be "localhost"), the path is '/'-separated
// components of [a-z0-9] joined by runs of [._-], the tag is
// [a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127} and the digest algo:hex with at least 32
// hex digits; at most limits::kImage characters. A reference never starts
// with '-', so it can never be read as a docker option. Linear time, no
// recursion; thread-safe. Errors: kInvalidArgument saying what is wrong
// (without a field path; the caller adds it), e.g.
// "'--privileged' must not start with '-' (it would be read as a docker option)".
Status check_image_reference(std::string_view ref);

// Epoch's rule for names (topology and task names): 1-255 (at most `max`)
// characters of [0-9a-zA-Z_-].
bool valid_name(std::string_view s, std::size_t max = limits::kName);

// Epoch's rules plus ours: name [0-9a-zA-Z_-]{1,255}; every leaf task named
// [a-zA-Z0-9_-]{1,255} and names unique in the tree; a container task has an
// image (check_image_reference) and CPU and memory; composites are not empty;
// a CRON trigger's expression and time zone are valid; an AT trigger's time is
// in range; policies are in range (durations at most limits::kMaxDuration);
// every field within its limit (namespace limits), checked before its content;
// env names 1-256 bytes without '=' or control characters, no NUL in any
// command, argument, env value or path; volume paths absolute, without a ".."
// component, ':' ',' or control characters; a working directory absolute;
// webhook URLs http(s) with a host and no userinfo; every secret name a key of
// its task's env; the whole to_json() at most limits::kTopologyJson bytes.
Status validate(const Topology& topology);
// The simple request's rules (cron, image, cpus 1-40, memory 128-100000 MB,
// emails as Epoch's UI: comma-separated, spaces allowed after a comma, TLD of
// 2-6 letters), as Epoch's UI endpoints check them, plus the same limits and
// env/volume rules as validate(const Topology&); a name in both env and
// secretEnv is refused.
Status validate(const SimpleTopologyRequest& request, bool creating);

StatusOr<Topology> topology_from_json(std::string_view json);
StatusOr<TopologyDetails> topology_details_from_json(std::string_view json);
StatusOr<RunInfo> run_info_from_json(std::string_view json);
StatusOr<SimpleTopologyRequest> simple_request_from_json(std::string_view json);

// The JSON the stores keep: secret entries under "secretEnv" with their values.
std::string to_json(const Topology& topology);
std::string to_json(const TopologyDetails& details);
std::string to_json(const RunInfo& run);

// ---- secrets -------------------------------------------------------------------

// What to_json writes for a secret env value: kKeep its value (stores),
// kRedact kRedactedSecret (API readers, the UI, audit entries, log lines).
enum class Secrets { kKeep, kRedact };

// The value every secret shows to readers; in an update it means "keep the
// stored value" (restore_redacted_secrets). A secret cannot have this value.
inline constexpr std::string_view kRedactedSecret = "********";

// As to_json above; with Secrets::kRedact every secret value (and nothing
// else) is written as kRedactedSecret. Without secrets both forms are the
// same bytes as to_json(topology).
std::string to_json(const Topology& topology, Secrets secrets);
std::string to_json(const TopologyDetails& details, Secrets secrets);

// Whether any task of the topology has a secret env entry.
bool has_secrets(const Topology& topology);

// For an update (or a create, with current == nullptr): every secret value in
// `incoming` equal to kRedactedSecret is replaced by the value of the same
// secret (same name) of the same task (same taskName) in `current`.
// Errors: kInvalidArgument naming every offending path, e.g.
// "task.secretEnv.API_TOKEN: '********' keeps a stored secret, but the
// topology has none by that name"; then `incoming` is left unchanged.
// Thread-safe for distinct arguments; `current` is only read.
Status restore_redacted_secrets(Topology& incoming, const Topology* current);

// "ESR-2026-03-08-07-30-00-000" for a scheduled run at `t` (always UTC),
// "EIR-..." for an instant run.
std::string make_run_id(RunType type, Instant t);
// "{topologyId}-{runId}-{taskName}", plus "-{attempt}" when attempt > 1.
std::string make_task_id(std::string_view topology_id, std::string_view run_id,
                         std::string_view task_name, int attempt = 1);

}  // namespace epoch
