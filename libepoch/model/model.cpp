// The model's plain helpers: durations, enum names, ids, the simple request
// conversion, and validation.
#include "epoch/model.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <regex>
#include <set>

#include "../cron/civil.h"
#include "epoch/cron.h"

namespace epoch {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

template <typename E, std::size_t N>
StatusOr<E> parse_enum(std::string_view name, const char* what,
                       const std::pair<E, std::string_view> (&table)[N]) {
  for (const auto& [value, text] : table) {
    if (iequals(name, text)) return value;
  }
  std::string names;
  for (const auto& entry : table)
    names += (names.empty() ? "" : ", ") + std::string(entry.second);
  return invalid_argument("unknown " + std::string(what) + " '" + std::string(name) +
                          "' (expected one of " + names + ")");
}

template <typename E, std::size_t N>
std::string_view name_of(E value, const std::pair<E, std::string_view> (&table)[N]) {
  for (const auto& [v, text] : table) {
    if (v == value) return text;
  }
  return "UNKNOWN";
}

constexpr std::pair<TopologyState, std::string_view> kTopologyStates[] = {
    {TopologyState::kActive, "ACTIVE"},
    {TopologyState::kPaused, "PAUSED"},
    {TopologyState::kDeleted, "DELETED"}};
constexpr std::pair<RunState, std::string_view> kRunStates[] = {
    {RunState::kRunning, "RUNNING"},       {RunState::kCompleted, "COMPLETED"},
    {RunState::kSuccessful, "SUCCESSFUL"}, {RunState::kSkipped, "SKIPPED"},
    {RunState::kFailed, "FAILED"},         {RunState::kMissed, "MISSED"}};
constexpr std::pair<RunType, std::string_view> kRunTypes[] = {{RunType::kScheduled, "SCHEDULED"},
                                                              {RunType::kInstant, "INSTANT"}};
constexpr std::pair<TaskState, std::string_view> kTaskStates[] = {
    {TaskState::kPending, "PENDING"},     {TaskState::kStarting, "STARTING"},
    {TaskState::kUnknown, "UNKNOWN"},     {TaskState::kRunning, "RUNNING"},
    {TaskState::kCompleted, "COMPLETED"}, {TaskState::kCancelled, "CANCELLED"},
    {TaskState::kFailed, "FAILED"}};
constexpr std::pair<OverlapMode, std::string_view> kOverlapModes[] = {
    {OverlapMode::kSerial, "SERIAL"},
    {OverlapMode::kForbid, "FORBID"},
    {OverlapMode::kAllow, "ALLOW"},
    {OverlapMode::kReplace, "REPLACE"}};
constexpr std::pair<CatchUpMode, std::string_view> kCatchUpModes[] = {
    {CatchUpMode::kNone, "NONE"}, {CatchUpMode::kLatest, "LATEST"}, {CatchUpMode::kAll, "ALL"}};

struct UnitName {
  Duration::Unit unit;
  const char* plural;  // how Dropwizard writes it
  const char* names[5];
};
constexpr UnitName kUnits[] = {
    {Duration::Unit::kNanoseconds, "nanoseconds", {"ns", "nanosecond", "nanoseconds"}},
    {Duration::Unit::kMicroseconds, "microseconds", {"us", "microsecond", "microseconds"}},
    {Duration::Unit::kMilliseconds, "milliseconds", {"ms", "millisecond", "milliseconds"}},
    {Duration::Unit::kSeconds, "seconds", {"s", "second", "seconds"}},
    {Duration::Unit::kMinutes, "minutes", {"m", "min", "mins", "minute", "minutes"}},
    {Duration::Unit::kHours, "hours", {"h", "hour", "hours"}},
    {Duration::Unit::kDays, "days", {"d", "day", "days"}},
};

bool valid_name(std::string_view s, std::size_t max) {
  return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool valid_email(std::string_view e) {
  static const std::regex re(R"([a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,63})");
  return std::regex_match(e.begin(), e.end(), re);
}

// Docker image reference: [host[:port]/]path[:tag][@digest]
bool valid_image(std::string_view ref) {
  if (ref.empty() || ref.size() > 2048) return false;
  std::string_view rest = ref;
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    static const std::regex digest(R"([A-Za-z][A-Za-z0-9]*:[0-9a-fA-F]{32,})");
    const std::string_view d = rest.substr(at + 1);
    if (!std::regex_match(d.begin(), d.end(), digest)) return false;
    rest = rest.substr(0, at);
  }
  const auto slash = rest.rfind('/');
  const auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    static const std::regex tag(R"([a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127})");
    const std::string_view t = rest.substr(colon + 1);
    if (!std::regex_match(t.begin(), t.end(), tag)) return false;
    rest = rest.substr(0, colon);
  }
  // Optional registry host: first component with '.' or ':' or "localhost".
  if (const auto first = rest.find('/'); first != std::string_view::npos) {
    const std::string_view host = rest.substr(0, first);
    if (host.find('.') != std::string_view::npos || host.find(':') != std::string_view::npos ||
        host == "localhost") {
      static const std::regex host_re(
          R"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*(:[0-9]{1,5})?)");
      if (!std::regex_match(host.begin(), host.end(), host_re)) return false;
      rest = rest.substr(first + 1);
    }
  }
  static const std::regex path(R"([a-z0-9]+([._-]+[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*)");
  return std::regex_match(rest.begin(), rest.end(), path);
}

void collect_leaves(const Task& t, std::vector<const Task*>& out) {
  if (const auto* c = std::get_if<CompositeTask>(&t.spec)) {
    for (const Task& child : c->tasks)
      collect_leaves(child, out);
  } else {
    out.push_back(&t);
  }
}

void check_task(const Task& t, const std::string& path, std::vector<std::string>& errors,
                std::set<std::string>& names) {
  const auto check_name = [&](const std::string& name) {
    if (!valid_name(name, 255)) {
      errors.push_back(path + ".taskName: must be 1-255 characters of [a-zA-Z0-9_-]");
    } else if (!names.insert(name).second) {
      errors.push_back(path + ".taskName: '" + name + "' is used by another task of the topology");
    }
  };
  if (const auto* c = std::get_if<ContainerTask>(&t.spec)) {
    check_name(c->task_name);
    if (c->executable.url.empty()) errors.push_back(path + ".executable.url: must not be empty");
    if (c->resources.empty()) {
      errors.push_back(path + ".resources: CPU/Memory requirements must be specified");
    }
    for (std::size_t i = 0; i < c->resources.size(); ++i) {
      if (c->resources[i].amount <= 0) {
        errors.push_back(path + ".resources[" + std::to_string(i) + "]: must be positive");
      }
    }
    if (c->args && c->args->size() > 2048) errors.push_back(path + ".args: at most 2048");
  } else if (const auto* p = std::get_if<ProcessTask>(&t.spec)) {
    check_name(p->task_name);
    if (p->command.empty()) errors.push_back(path + ".command: must not be empty");
    if (p->args.size() > 2048) errors.push_back(path + ".args: at most 2048");
  } else {
    const auto& comp = std::get<CompositeTask>(t.spec);
    if (comp.tasks.empty()) errors.push_back(path + ".tasks: must not be empty");
    for (std::size_t i = 0; i < comp.tasks.size(); ++i) {
      check_task(comp.tasks[i], path + ".tasks[" + std::to_string(i) + "]", errors, names);
    }
  }
}

Status to_status(const std::vector<std::string>& errors) {
  if (errors.empty()) return ok_status();
  std::string m;
  for (const std::string& e : errors)
    m += (m.empty() ? "" : "; ") + e;
  return invalid_argument(m);
}

}  // namespace

std::chrono::milliseconds Duration::to_millis() const noexcept {
  using std::chrono::milliseconds;
  switch (unit) {
    case Unit::kNanoseconds:
      return milliseconds{count / 1000000};
    case Unit::kMicroseconds:
      return milliseconds{count / 1000};
    case Unit::kMilliseconds:
      return milliseconds{count};
    case Unit::kSeconds:
      return milliseconds{count * 1000};
    case Unit::kMinutes:
      return milliseconds{count * 60000};
    case Unit::kHours:
      return milliseconds{count * 3600000};
    case Unit::kDays:
      return milliseconds{count * 86400000};
  }
  return milliseconds{0};
}

std::string to_string(const Duration& d) {
  for (const UnitName& u : kUnits) {
    if (u.unit == d.unit) return std::to_string(d.count) + " " + u.plural;
  }
  return std::to_string(d.count) + " seconds";
}

StatusOr<Duration> parse_duration(std::string_view text) {
  const auto bad = [&] {
    return invalid_argument("invalid duration '" + std::string(text) +
                            "' (expected a count and a unit, e.g. \"120 seconds\", \"2 minutes\", "
                            "\"500ms\")");
  };
  std::size_t i = 0;
  while (i < text.size() && text[i] == ' ')
    ++i;
  const std::size_t digits = i;
  std::int64_t count = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (count > (INT64_MAX - 9) / 10) return bad();
    count = count * 10 + (text[i] - '0');
    ++i;
  }
  if (i == digits) return bad();
  while (i < text.size() && text[i] == ' ')
    ++i;
  std::size_t end = text.size();
  while (end > i && text[end - 1] == ' ')
    --end;
  const std::string_view unit = text.substr(i, end - i);
  for (const UnitName& u : kUnits) {
    for (const char* n : u.names) {
      if (n != nullptr && iequals(unit, n)) {
        const Duration d{count, u.unit};
        if (d.unit >= Duration::Unit::kSeconds && count > INT64_MAX / 86400000) return bad();
        return d;
      }
    }
  }
  return bad();
}

std::vector<const Task*> leaf_tasks(const Task& root) {
  std::vector<const Task*> out;
  collect_leaves(root, out);
  return out;
}

const std::string& task_name(const Task& task) {
  static const std::string kEmpty;
  if (const auto* c = std::get_if<ContainerTask>(&task.spec)) return c->task_name;
  if (const auto* p = std::get_if<ProcessTask>(&task.spec)) return p->task_name;
  return kEmpty;
}

bool is_terminal(RunState s) noexcept {
  return s != RunState::kRunning;
}
bool is_terminal(TaskState s) noexcept {
  return s == TaskState::kCompleted || s == TaskState::kCancelled || s == TaskState::kFailed;
}

std::string_view to_string(TopologyState s) noexcept {
  return name_of(s, kTopologyStates);
}
std::string_view to_string(RunState s) noexcept {
  return name_of(s, kRunStates);
}
std::string_view to_string(RunType t) noexcept {
  return name_of(t, kRunTypes);
}
std::string_view to_string(TaskState s) noexcept {
  return name_of(s, kTaskStates);
}
std::string_view to_string(OverlapMode m) noexcept {
  return name_of(m, kOverlapModes);
}
std::string_view to_string(CatchUpMode m) noexcept {
  return name_of(m, kCatchUpModes);
}

StatusOr<RunState> parse_run_state(std::string_view n) {
  return parse_enum(n, "run state", kRunStates);
}
StatusOr<TaskState> parse_task_state(std::string_view n) {
  return parse_enum(n, "task state", kTaskStates);
}
StatusOr<RunType> parse_run_type(std::string_view n) {
  return parse_enum(n, "run type", kRunTypes);
}

namespace model_detail {
StatusOr<TopologyState> parse_topology_state(std::string_view n) {
  return parse_enum(n, "topology state", kTopologyStates);
}
StatusOr<OverlapMode> parse_overlap_mode(std::string_view n) {
  return parse_enum(n, "overlap mode", kOverlapModes);
}
StatusOr<CatchUpMode> parse_catch_up_mode(std::string_view n) {
  return parse_enum(n, "catch-up mode", kCatchUpModes);
}
}  // namespace model_detail

std::string make_run_id(RunType type, Instant t) {
  char buf[32] = {'E', type == RunType::kScheduled ? 'S' : 'I', 'R', '-'};
  const std::int64_t ms = to_epoch_millis(t);
  const std::int64_t s = civil::floor_div(ms, 1000);
  const std::size_t n =
      civil::write_datetime(buf + 4, s, static_cast<int>(ms - s * 1000), '-', '-', '-', '-');
  if (n == 0) {  // a year outside 0..9999
    std::string iso = format_utc(t);
    std::string id(buf, 4);
    for (char c : iso.substr(0, iso.size() - 1))
      id += (c == 'T' || c == ':' || c == '.') ? '-' : c;
    return id;
  }
  return std::string(buf, 4 + n);
}

std::string make_task_id(std::string_view topology_id, std::string_view run_id,
                         std::string_view task_name, int attempt) {
  std::string id;
  id.reserve(topology_id.size() + run_id.size() + task_name.size() + 8);
  id.append(topology_id).append("-").append(run_id).append("-").append(task_name);
  if (attempt > 1) id.append("-").append(std::to_string(attempt));
  return id;
}

Topology to_topology(const SimpleTopologyRequest& r, const std::string& name) {
  ContainerTask c;
  c.task_name = "docker-task";
  c.executable.url = r.docker;
  c.resources = {{Resource::Type::kCpu, r.cpus}, {Resource::Type::kMemory, r.memory}};
  c.volumes = r.volumes;
  c.configs = RawJson{"[]"};
  c.logging = RawJson{R"({"type":"LOCAL","maxSize":"10m","maxFiles":3,"compress":true})"};
  c.placement_policy = RawJson{R"({"type":"ANY"})"};
  c.tags = std::map<std::string, std::string>{};
  c.env = r.env ? r.env : std::map<std::string, std::string>{};
  Topology t;
  t.name = name;
  t.task.spec = std::move(c);
  t.trigger = CronTrigger{r.cron, r.time_zone};
  MailNotification mail;
  // Epoch splits on ',' without trimming (§11.9); we trim.
  std::size_t start = 0;
  while (start <= r.notify_email.size()) {
    std::size_t end = r.notify_email.find(',', start);
    if (end == std::string::npos) end = r.notify_email.size();
    std::string e = r.notify_email.substr(start, end - start);
    const auto b = e.find_first_not_of(" \t");
    const auto l = e.find_last_not_of(" \t");
    if (b != std::string::npos) mail.emails.push_back(e.substr(b, l - b + 1));
    start = end + 1;
  }
  t.notify = std::move(mail);
  return t;
}

const std::vector<std::string>& notify_event_names() {
  static const std::vector<std::string> names = {"RUN_SUCCEEDED", "RUN_FAILED",
                                                 "RUN_TIMED_OUT", "RUN_MISSED",
                                                 "RUN_SKIPPED",   "RUN_RUNNING_LONG"};
  return names;
}

Status validate(const Topology& t) {
  std::vector<std::string> errors;
  if (t.name.empty()) {
    errors.push_back("name: - Please provide an understandable name for the topology");
  } else if (!valid_name(t.name, 255)) {
    errors.push_back("name: - Only alphanumeric - and _ allowed (1-255 characters)");
  }
  std::set<std::string> names;
  check_task(t.task, "task", errors, names);
  if (const auto* cron = std::get_if<CronTrigger>(&t.trigger)) {
    if (cron->time_spec.empty()) {
      errors.push_back("trigger.timeSpec: must not be empty");
    } else if (auto e = CronExpression::check(cron->time_spec)) {
      errors.push_back("trigger.timeSpec: " + e->message());
    }
    if (cron->time_zone) {
      if (auto z = TimeZone::locate(*cron->time_zone); !z.ok()) {
        errors.push_back("trigger.timeZone: " + z.status().message());
      }
    }
  }
  if (t.notify) {
    const NotifyRouting& routing = routing_of(*t.notify);
    if (routing.webhooks.size() > 10) errors.push_back("notify.webhooks: at most 10 URLs");
    for (std::size_t i = 0; i < routing.webhooks.size(); ++i) {
      const std::string& u = routing.webhooks[i];
      const bool scheme = u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0;
      const std::size_t host = u.find("://") + 3;
      if (!scheme || u.size() <= host || u.size() > 2048 ||
          u.find_first_of(" \t\r\n") != std::string::npos) {
        errors.push_back("notify.webhooks[" + std::to_string(i) + "]: '" + u +
                         "' is not an http:// or https:// URL");
      }
    }
    if (routing.events) {
      const auto& known = notify_event_names();
      for (std::size_t i = 0; i < routing.events->size(); ++i) {
        const std::string& e = (*routing.events)[i];
        if (std::find(known.begin(), known.end(), e) == known.end()) {
          errors.push_back("notify.events[" + std::to_string(i) + "]: '" + e +
                           "' is unknown (RUN_SUCCEEDED, RUN_FAILED, RUN_TIMED_OUT, RUN_MISSED, "
                           "RUN_SKIPPED, RUN_RUNNING_LONG)");
        }
      }
    }
    if (const auto* mail = std::get_if<MailNotification>(&*t.notify)) {
      if (mail->emails.empty()) errors.push_back("notify.emails: must not be empty");
      for (std::size_t i = 0; i < mail->emails.size(); ++i) {
        if (!valid_email(mail->emails[i])) {
          errors.push_back("notify.emails[" + std::to_string(i) + "]: '" + mail->emails[i] +
                           "' is not an email address");
        }
      }
    }
  }
  if (t.policies) {
    const Policies& p = *t.policies;
    if (p.overlap && p.overlap->mode == OverlapMode::kAllow &&
        (p.overlap->max_concurrent < 1 || p.overlap->max_concurrent > 1000)) {
      errors.push_back("policies.overlap.maxConcurrent: must be 1-1000");
    }
    if (p.catch_up) {
      if (p.catch_up->window.to_millis().count() <= 0) {
        errors.push_back("policies.catchUp.window: must be positive");
      }
      if (p.catch_up->max_runs < 1 || p.catch_up->max_runs > 10000) {
        errors.push_back("policies.catchUp.maxRuns: must be 1-10000");
      }
    }
    if (p.retry) {
      const RetryPolicy& r = *p.retry;
      if (r.max_attempts < 1 || r.max_attempts > 100) {
        errors.push_back("policies.retry.maxAttempts: must be 1-100");
      }
      if (r.initial_backoff.to_millis().count() < 0 || r.max_backoff.to_millis().count() < 0) {
        errors.push_back("policies.retry: backoffs must not be negative");
      }
      if (!(r.multiplier >= 1.0 && r.multiplier <= 100.0)) {
        errors.push_back("policies.retry.multiplier: must be 1-100");
      }
      if (!(r.jitter >= 0.0 && r.jitter <= 1.0)) {
        errors.push_back("policies.retry.jitter: must be 0-1");
      }
    }
    if (p.timeout && p.timeout->to_millis().count() <= 0) {
      errors.push_back("policies.timeout: must be positive");
    }
    if (p.start_deadline && p.start_deadline->to_millis().count() <= 0) {
      errors.push_back("policies.startDeadline: must be positive");
    }
    if (p.retention) {
      if (p.retention->max_runs && (*p.retention->max_runs < 1)) {
        errors.push_back("policies.retention.maxRuns: must be at least 1");
      }
      if (p.retention->max_age && p.retention->max_age->to_millis().count() <= 0) {
        errors.push_back("policies.retention.maxAge: must be positive");
      }
    }
  }
  return to_status(errors);
}

Status validate(const SimpleTopologyRequest& r, bool creating) {
  std::vector<std::string> errors;
  if (creating) {
    if (r.name.empty()) {
      errors.push_back("name: - Please provide an understandable name for the topology");
    } else if (!valid_name(r.name, 255)) {
      errors.push_back("name: - Only alphanumeric - and _ allowed (1-255 characters)");
    }
  }
  if (r.cron.empty()) {
    errors.push_back("cron: must not be empty");
  } else if (auto e = CronExpression::check(r.cron)) {
    errors.push_back("cron: " + e->message());
  }
  if (r.time_zone) {
    if (auto z = TimeZone::locate(*r.time_zone); !z.ok()) {
      errors.push_back("timeZone: " + z.status().message());
    }
  }
  if (!valid_image(r.docker)) {
    errors.push_back("docker: '" + r.docker + "' is not a docker image reference");
  }
  if (r.cpus < 1 || r.cpus > 40) errors.push_back("cpus: must be 1-40");
  if (r.memory < 128 || r.memory > 100000) errors.push_back("memory: must be 128-100000 (MB)");
  static const std::regex emails(
      R"([a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,6}(,\s*[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,6})*)");
  if (!std::regex_match(r.notify_email, emails))
    errors.push_back("notifyEmail: Invalid email(s) format");
  if (r.volumes) {
    for (std::size_t i = 0; i < r.volumes->size(); ++i) {
      const Volume& v = (*r.volumes)[i];
      if (v.path_in_container.empty() || v.path_on_host.empty()) {
        errors.push_back("volumes[" + std::to_string(i) + "]: both paths are required");
      }
    }
  }
  return to_status(errors);
}

}  // namespace epoch
