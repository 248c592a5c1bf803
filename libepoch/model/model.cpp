// The model's plain helpers: durations, enum names, ids, the simple request
// conversion, and validation.
#include "epoch/model.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
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
    {TaskState::kFailed, "FAILED"},       {TaskState::kTimedOut, "TIMED_OUT"}};
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

// ---- checks used by validate(): linear scans, no regex, no recursion on input ----

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || is_digit(c);
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}
bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), is_control);
}
bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

// `s` for a message: at most 64 characters, control characters as \xNN.
std::string shown(std::string_view s) {
  std::string out;
  const std::size_t n = std::min<std::size_t>(s.size(), 64);
  for (std::size_t i = 0; i < n; ++i) {
    if (is_control(s[i])) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(s[i]));
      out += buf;
    } else {
      out += s[i];
    }
  }
  if (s.size() > n) out += "...";
  return out;
}
std::string quoted(std::string_view s) {
  return "'" + shown(s) + "'";
}

// Error collection for validate(): every rule broken, each with its path.
struct Errors {
  std::vector<std::string> list;

  void add(const std::string& path, const std::string& what) { list.push_back(path + ": " + what); }

  // False (and an error) when `value` is longer than `max` bytes.
  bool length(const std::string& path, std::string_view value, std::size_t max) {
    if (value.size() <= max) return true;
    add(path, std::to_string(value.size()) + " characters, at most " + std::to_string(max));
    return false;
  }
  // False (and an error) when a list or map has more than `max` entries.
  bool count(const std::string& path, std::size_t n, std::size_t max) {
    if (n <= max) return true;
    add(path, std::to_string(n) + " entries, at most " + std::to_string(max));
    return false;
  }
  // A string handed to a process: at most `max` bytes and no NUL.
  void process_string(const std::string& path, std::string_view value, std::size_t max) {
    if (length(path, value, max) && has_nul(value)) add(path, "must not contain a NUL character");
  }
};

Status to_status(const std::vector<std::string>& errors) {
  if (errors.empty()) return ok_status();
  std::string m;
  for (const std::string& e : errors)
    m += (m.empty() ? "" : "; ") + e;
  return invalid_argument(m);
}

// [a-zA-Z0-9._%+-]+ @ [a-zA-Z0-9.-]+ \. [a-zA-Z]{2,max_tld}: the TLD follows
// the last '.', since neither it nor the local part may hold a '.'-free
// alternative split.
bool valid_email(std::string_view e, std::size_t max_tld) {
  const std::size_t at = e.find('@');
  if (at == 0 || at == std::string_view::npos) return false;
  for (std::size_t i = 0; i < at; ++i) {
    const char c = e[i];
    if (!is_alnum(c) && c != '.' && c != '_' && c != '%' && c != '+' && c != '-') return false;
  }
  const std::string_view domain = e.substr(at + 1);
  for (const char c : domain) {
    if (!is_alnum(c) && c != '.' && c != '-') return false;
  }
  const std::size_t dot = domain.rfind('.');
  if (dot == 0 || dot == std::string_view::npos) return false;
  const std::string_view tld = domain.substr(dot + 1);
  return tld.size() >= 2 && tld.size() <= max_tld && std::all_of(tld.begin(), tld.end(), is_alpha);
}

bool is_regex_space(char c) {  // ECMAScript \s over ASCII
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Epoch's UI rule: E(,\s*E)* with a TLD of 2-6 letters.
bool valid_email_list(std::string_view s) {
  std::size_t start = 0;
  for (bool first = true;; first = false) {
    const std::size_t end = s.find(',', start);
    std::string_view one = s.substr(start, end == std::string_view::npos ? s.npos : end - start);
    if (!first) {
      while (!one.empty() && is_regex_space(one.front()))
        one.remove_prefix(1);
    }
    if (!valid_email(one, 6)) return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

// [a-z0-9]+([._-]+[a-z0-9]+)*
bool valid_path_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  return std::all_of(c.begin(), c.end(),
                     [](char x) { return is_lower_alnum(x) || x == '.' || x == '_' || x == '-'; });
}

// [a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?
bool valid_label(std::string_view l) {
  if (l.empty() || l.size() > 63 || !is_alnum(l.front()) || !is_alnum(l.back())) return false;
  return std::all_of(l.begin(), l.end(), [](char x) { return is_alnum(x) || x == '-'; });
}

// label(\.label)*(:[0-9]{1,5})?
bool valid_registry(std::string_view host) {
  if (const std::size_t colon = host.find(':'); colon != std::string_view::npos) {
    const std::string_view port = host.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) {
      return false;
    }
    host = host.substr(0, colon);
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = host.find('.', start);
    if (!valid_label(host.substr(start, dot == std::string_view::npos ? host.npos : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// Docker image reference: [host[:port]/]path[:tag][@digest].
bool valid_image_grammar(std::string_view rest) {
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    // [A-Za-z][A-Za-z0-9]*:[0-9a-fA-F]{32,}
    const std::string_view d = rest.substr(at + 1);
    const std::size_t colon = d.find(':');
    if (colon == 0 || colon == std::string_view::npos || !is_alpha(d.front())) return false;
    if (!std::all_of(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(colon), is_alnum)) {
      return false;
    }
    const std::string_view hex = d.substr(colon + 1);
    if (hex.size() < 32 || !std::all_of(hex.begin(), hex.end(), is_hex)) return false;
    rest = rest.substr(0, at);
  }
  const auto slash = rest.rfind('/');
  const auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    // [a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}
    const std::string_view t = rest.substr(colon + 1);
    if (t.empty() || t.size() > 128 || !(is_alnum(t.front()) || t.front() == '_')) return false;
    if (!std::all_of(t.begin(), t.end(),
                     [](char x) { return is_alnum(x) || x == '_' || x == '.' || x == '-'; })) {
      return false;
    }
    rest = rest.substr(0, colon);
  }
  // Optional registry host: a first component with '.' or ':', or "localhost".
  if (const auto first = rest.find('/'); first != std::string_view::npos) {
    const std::string_view host = rest.substr(0, first);
    if (host.find('.') != std::string_view::npos || host.find(':') != std::string_view::npos ||
        host == "localhost") {
      if (!valid_registry(host)) return false;
      rest = rest.substr(first + 1);
    }
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t next = rest.find('/', start);
    if (!valid_path_component(
            rest.substr(start, next == std::string_view::npos ? rest.npos : next - start))) {
      return false;
    }
    if (next == std::string_view::npos) return true;
    start = next + 1;
  }
}

// What is wrong with a webhook URL, or "" when nothing.
std::string webhook_problem(std::string_view u) {
  std::string_view rest;
  if (u.rfind("http://", 0) == 0) {
    rest = u.substr(7);
  } else if (u.rfind("https://", 0) == 0) {
    rest = u.substr(8);
  } else {
    return "is not an http:// or https:// URL";
  }
  if (std::any_of(u.begin(), u.end(), [](char c) { return c == ' ' || is_control(c); })) {
    return "must not contain whitespace or control characters";
  }
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return "must not contain user information (user:password@host)";
  }
  if (authority.find('\\') != std::string_view::npos) return "must not contain '\\' in its host";
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return "has an unterminated IPv6 address";
    const std::string_view after = host.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "has a malformed host";
      port = after.substr(1);
      if (port.empty()) return "has an empty port";
    }
    host = host.substr(0, close + 1);
    if (host.size() <= 2) return "has no host";
  } else if (const std::size_t colon = host.find(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    if (port.empty()) return "has an empty port";
  }
  if (host.empty()) return "has no host";
  if (!port.empty() && (port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit) ||
                        std::stoi(std::string(port)) > 65535)) {
    return "has a bad port (expected 1-65535)";
  }
  return {};
}

// A path Epoch hands to docker -v or chdir: absolute, no "..", no ':' or ','
// (docker's -v syntax), no control characters. `volume`: the ':'/',' rule.
void check_path(Errors& e, const std::string& path, std::string_view p, bool volume) {
  if (!e.length(path, p, limits::kPath)) return;
  if (p.empty()) return e.add(path, "required");
  if (has_control(p)) return e.add(path, quoted(p) + " must not contain control characters");
  if (p.front() != '/')
    return e.add(path, quoted(p) + " must be an absolute path (start with '/')");
  if (volume && p.find_first_of(":,") != std::string_view::npos) {
    return e.add(path, quoted(p) + " must not contain ':' or ','");
  }
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    if (p.substr(start, end - start) == "..") {
      return e.add(path, quoted(p) + " must not contain a '..' component");
    }
    start = end + 1;
  }
}

void check_volumes(Errors& e, const std::string& path, const std::vector<Volume>& volumes) {
  if (!e.count(path, volumes.size(), limits::kVolumes)) return;
  for (std::size_t i = 0; i < volumes.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    check_path(e, p + ".pathInContainer", volumes[i].path_in_container, true);
    check_path(e, p + ".pathOnHost", volumes[i].path_on_host, true);
  }
}

// The path of env entry `name`: "<task>.env.NAME", or ".secretEnv." for a secret.
std::string env_path(const std::string& task_path, bool secret, std::string_view name) {
  return task_path + (secret ? ".secretEnv" : ".env") + "." + shown(name);
}

void check_env_entry(Errors& e, const std::string& path, std::string_view name,
                     std::string_view value) {
  if (name.empty()) {
    e.add(path, "an empty name");
  } else if (name.size() > limits::kEnvKey) {
    e.add(path, "a name of " + std::to_string(name.size()) + " characters, at most " +
                    std::to_string(limits::kEnvKey));
  } else if (name.find('=') != std::string_view::npos || has_control(name)) {
    e.add(path, "the name must not contain '=' or control characters");
  }
  e.process_string(path, value, limits::kEnvValue);
}

// A task's env map (secrets included) and its secret names.
void check_env(Errors& e, const std::string& task_path,
               const std::map<std::string, std::string>* env,
               const Boxed<std::set<std::string>>& secrets) {
  const std::size_t n = env ? env->size() : 0;
  if (!e.count(task_path + ".env", n, limits::kEnvEntries)) return;
  if (secrets) {
    for (const std::string& name : *secrets) {
      if (env == nullptr || env->find(name) == env->end()) {
        e.add(env_path(task_path, true, name), "names no env entry of the task");
      }
    }
  }
  if (env == nullptr) return;
  for (const auto& [name, value] : *env) {
    const bool secret = secrets && secrets->count(name) > 0;
    check_env_entry(e, env_path(task_path, secret, name), name, value);
  }
}

void check_args(Errors& e, const std::string& path, const std::vector<std::string>& args) {
  if (!e.count(path, args.size(), limits::kArgs)) return;
  for (std::size_t i = 0; i < args.size(); ++i) {
    e.process_string(path + "[" + std::to_string(i) + "]", args[i], limits::kArg);
  }
}

// A policy duration: positive (or, with allow_zero, not negative) and at most
// limits::kMaxDuration.
void check_duration(Errors& e, const std::string& path, const Duration& d, bool allow_zero) {
  const std::int64_t ms = d.to_millis().count();
  if (d.count < 0 || ms < 0 || (!allow_zero && ms == 0) || ms > limits::kMaxDuration.count()) {
    e.add(path, std::string("must be ") + (allow_zero ? "0 ms" : "1 ms") + " to 3650 days, got '" +
                    to_string(d) + "'");
  }
}

void collect_leaves(const Task& t, std::vector<const Task*>& out) {
  if (const auto* c = std::get_if<CompositeTask>(&t.spec)) {
    for (const Task& child : c->tasks)
      collect_leaves(child, out);
  } else {
    out.push_back(&t);
  }
}

// Visits every leaf task with its path ("task", "task.tasks[1]", ...).
template <typename T, typename Fn>
void for_each_leaf(T& task, const std::string& path, Fn&& fn) {
  if (auto* c = std::get_if<CompositeTask>(&task.spec)) {
    for (std::size_t i = 0; i < c->tasks.size(); ++i) {
      for_each_leaf(c->tasks[i], path + ".tasks[" + std::to_string(i) + "]", fn);
    }
  } else {
    fn(task, path);
  }
}

void check_task(const Task& t, const std::string& path, Errors& e, std::set<std::string>& names,
                std::size_t depth) {
  const auto check_name = [&](const std::string& name) {
    if (!e.length(path + ".taskName", name, limits::kName)) return;
    if (!valid_name(name, limits::kName)) {
      e.add(path + ".taskName", "must be 1-255 characters of [a-zA-Z0-9_-]");
    } else if (!names.insert(name).second) {
      e.add(path + ".taskName", "'" + name + "' is used by another task of the topology");
    }
  };
  if (const auto* c = std::get_if<ContainerTask>(&t.spec)) {
    check_name(c->task_name);
    e.length(path + ".executable.type", c->executable.type, limits::kExecutableType);
    if (Status s = check_image_reference(c->executable.url); !s.ok()) {
      e.add(path + ".executable.url", s.message());
    }
    check_duration(e, path + ".executable.dockerPullTimeout", c->executable.docker_pull_timeout,
                   true);
    if (c->resources.empty()) {
      e.add(path + ".resources", "CPU/Memory requirements must be specified");
    } else if (e.count(path + ".resources", c->resources.size(), limits::kResources)) {
      for (std::size_t i = 0; i < c->resources.size(); ++i) {
        if (c->resources[i].amount <= 0) {
          e.add(path + ".resources[" + std::to_string(i) + "]", "must be positive");
        }
      }
    }
    if (c->volumes) check_volumes(e, path + ".volumes", *c->volumes);
    const auto raw = [&](const char* name, const Boxed<RawJson>& r) {
      if (r) e.length(path + name, r->text, limits::kRawJson);
    };
    raw(".configs", c->configs);
    raw(".logging", c->logging);
    raw(".placementPolicy", c->placement_policy);
    if (c->tags && e.count(path + ".tags", c->tags->size(), limits::kTags)) {
      for (const auto& [key, value] : *c->tags) {
        const std::string p = path + ".tags." + shown(key);
        if (key.empty()) {
          e.add(path + ".tags", "an empty name");
        } else if (key.size() > limits::kTagKey) {
          e.add(p, "a name of " + std::to_string(key.size()) + " characters, at most " +
                       std::to_string(limits::kTagKey));
        } else if (has_nul(key)) {
          e.add(p, "the name must not contain a NUL character");
        }
        e.process_string(p, value, limits::kTagValue);
      }
    }
    check_env(e, path, c->env ? &*c->env : nullptr, c->secret_names);
    if (c->args) check_args(e, path + ".args", *c->args);
  } else if (const auto* p = std::get_if<ProcessTask>(&t.spec)) {
    check_name(p->task_name);
    if (e.length(path + ".command", p->command, limits::kCommand)) {
      if (p->command.empty()) {
        e.add(path + ".command", "must not be empty");
      } else if (has_nul(p->command)) {
        e.add(path + ".command", "must not contain a NUL character");
      }
    }
    check_args(e, path + ".args", p->args);
    check_env(e, path, &p->env, p->secret_names);
    if (!p->working_directory.empty()) {
      check_path(e, path + ".workingDirectory", p->working_directory, false);
    }
  } else if (const auto* f = std::get_if<FunctionTask>(&t.spec)) {
    check_name(f->task_name);
    if (e.length(path + ".job", f->job, limits::kName) && !valid_name(f->job)) {
      e.add(path + ".job", "must be 1-255 characters of [a-zA-Z0-9_-]");
    }
    if (f->data) e.length(path + ".data", f->data->text, limits::kRawJson);
  } else {
    const auto& comp = std::get<CompositeTask>(t.spec);
    if (depth >= limits::kTaskDepth) {
      return e.add(path, "composite tasks nested deeper than " +
                             std::to_string(limits::kTaskDepth) + " levels");
    }
    if (comp.tasks.empty()) e.add(path + ".tasks", "must not be empty");
    for (std::size_t i = 0; i < comp.tasks.size(); ++i) {
      check_task(comp.tasks[i], path + ".tasks[" + std::to_string(i) + "]", e, names, depth + 1);
    }
  }
}

}  // namespace

bool valid_name(std::string_view s, std::size_t max) {
  return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::chrono::milliseconds Duration::to_millis() const noexcept {
  using std::chrono::milliseconds;
  std::int64_t per = 1;  // milliseconds per unit, or units per millisecond below
  switch (unit) {
    case Unit::kNanoseconds:
      return milliseconds{count / 1000000};
    case Unit::kMicroseconds:
      return milliseconds{count / 1000};
    case Unit::kMilliseconds:
      return milliseconds{count};
    case Unit::kSeconds:
      per = 1000;
      break;
    case Unit::kMinutes:
      per = 60000;
      break;
    case Unit::kHours:
      per = 3600000;
      break;
    case Unit::kDays:
      per = 86400000;
      break;
  }
  std::int64_t ms = 0;
  if (__builtin_mul_overflow(count, per, &ms))
    return milliseconds{count < 0 ? -INT64_MAX : INT64_MAX};
  return milliseconds{ms < -INT64_MAX ? -INT64_MAX : ms};
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
  if (const auto* f = std::get_if<FunctionTask>(&task.spec)) return f->task_name;
  return kEmpty;
}

std::optional<Instant> run_started(const RunInfo& run) {
  std::optional<Instant> first;
  for (const auto& [name, t] : run.tasks) {
    if (t.started && (!first || *t.started < *first)) first = t.started;
  }
  return first;
}

std::optional<Instant> run_finished(const RunInfo& run) {
  std::optional<Instant> last;
  for (const auto& [name, t] : run.tasks) {
    if (t.started && !t.finished) return std::nullopt;
    if (t.finished && (!last || *t.finished > *last)) last = t.finished;
  }
  return last;
}

bool is_terminal(RunState s) noexcept {
  return s != RunState::kRunning;
}
bool is_terminal(TaskState s) noexcept {
  return s == TaskState::kCompleted || s == TaskState::kCancelled || s == TaskState::kFailed ||
         s == TaskState::kTimedOut;
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
  if (r.secret_env && !r.secret_env->empty()) {
    std::set<std::string> names;
    for (const auto& [key, value] : *r.secret_env) {
      (*c.env)[key] = value;
      names.insert(key);
    }
    c.secret_names = std::move(names);
  }
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

Status check_image_reference(std::string_view ref) {
  if (ref.empty()) return invalid_argument("must not be empty");
  if (ref.size() > limits::kImage) {
    return invalid_argument(std::to_string(ref.size()) + " characters, at most " +
                            std::to_string(limits::kImage));
  }
  if (ref.front() == '-') {
    return invalid_argument(quoted(ref) +
                            " must not start with '-' (it would be read as a docker option)");
  }
  if (!valid_image_grammar(ref)) {
    return invalid_argument(quoted(ref) +
                            " is not a docker image reference ([host[:port]/]name[:tag][@digest])");
  }
  return ok_status();
}

Status validate(const Topology& t) {
  Errors e;
  if (t.name.empty()) {
    e.add("name", "- Please provide an understandable name for the topology");
  } else if (e.length("name", t.name, limits::kName) && !valid_name(t.name, limits::kName)) {
    e.add("name", "- Only alphanumeric - and _ allowed (1-255 characters)");
  }
  std::set<std::string> names;
  check_task(t.task, "task", e, names, 0);
  if (const auto* cron = std::get_if<CronTrigger>(&t.trigger)) {
    if (cron->time_spec.empty()) {
      e.add("trigger.timeSpec", "must not be empty");
    } else if (e.length("trigger.timeSpec", cron->time_spec, limits::kTimeSpec)) {
      if (auto err = CronExpression::check(cron->time_spec)) {
        e.add("trigger.timeSpec", err->message());
      }
    }
    if (cron->time_zone && e.length("trigger.timeZone", *cron->time_zone, limits::kTimeZone)) {
      if (auto z = TimeZone::locate(*cron->time_zone); !z.ok()) {
        e.add("trigger.timeZone", z.status().message());
      }
    }
  } else if (const auto* at = std::get_if<AtTrigger>(&t.trigger); !in_instant_range(at->time)) {
    e.add("trigger.time", std::to_string(to_epoch_millis(at->time)) +
                              " (epoch milliseconds) is outside the supported range " +
                              std::string(kInstantRangeText));
  }
  if (t.notify) {
    const NotifyRouting& routing = routing_of(*t.notify);
    if (e.count("notify.webhooks", routing.webhooks.size(), limits::kWebhooks)) {
      for (std::size_t i = 0; i < routing.webhooks.size(); ++i) {
        const std::string path = "notify.webhooks[" + std::to_string(i) + "]";
        const std::string& u = routing.webhooks[i];
        if (!e.length(path, u, limits::kWebhookUrl)) continue;
        if (std::string why = webhook_problem(u); !why.empty()) e.add(path, quoted(u) + " " + why);
      }
    }
    if (routing.events && e.count("notify.events", routing.events->size(), limits::kEvents)) {
      const auto& known = notify_event_names();
      for (std::size_t i = 0; i < routing.events->size(); ++i) {
        const std::string path = "notify.events[" + std::to_string(i) + "]";
        const std::string& ev = (*routing.events)[i];
        if (!e.length(path, ev, limits::kEventName)) continue;
        if (std::find(known.begin(), known.end(), ev) == known.end()) {
          e.add(path, quoted(ev) +
                          " is unknown (RUN_SUCCEEDED, RUN_FAILED, RUN_TIMED_OUT, RUN_MISSED, "
                          "RUN_SKIPPED, RUN_RUNNING_LONG)");
        }
      }
    }
    if (const auto* mail = std::get_if<MailNotification>(&*t.notify)) {
      if (mail->emails.empty()) e.add("notify.emails", "must not be empty");
      if (e.count("notify.emails", mail->emails.size(), limits::kEmails)) {
        for (std::size_t i = 0; i < mail->emails.size(); ++i) {
          const std::string path = "notify.emails[" + std::to_string(i) + "]";
          const std::string& m = mail->emails[i];
          if (e.length(path, m, limits::kEmail) && !valid_email(m, 63)) {
            e.add(path, quoted(m) + " is not an email address");
          }
        }
      }
    }
  }
  if (t.policies) {
    const Policies& p = *t.policies;
    if (p.overlap && p.overlap->mode == OverlapMode::kAllow &&
        (p.overlap->max_concurrent < 1 || p.overlap->max_concurrent > 1000)) {
      e.add("policies.overlap.maxConcurrent", "must be 1-1000");
    }
    if (p.catch_up) {
      check_duration(e, "policies.catchUp.window", p.catch_up->window, false);
      if (p.catch_up->max_runs < 1 || p.catch_up->max_runs > 10000) {
        e.add("policies.catchUp.maxRuns", "must be 1-10000");
      }
    }
    if (p.retry) {
      const RetryPolicy& r = *p.retry;
      if (r.max_attempts < 1 || r.max_attempts > 100) {
        e.add("policies.retry.maxAttempts", "must be 1-100");
      }
      check_duration(e, "policies.retry.initialBackoff", r.initial_backoff, true);
      check_duration(e, "policies.retry.maxBackoff", r.max_backoff, true);
      if (!(r.multiplier >= 1.0 && r.multiplier <= 100.0)) {
        e.add("policies.retry.multiplier", "must be 1-100");
      }
      if (!(r.jitter >= 0.0 && r.jitter <= 1.0)) e.add("policies.retry.jitter", "must be 0-1");
    }
    if (p.timeout) check_duration(e, "policies.timeout", *p.timeout, false);
    if (p.start_deadline) check_duration(e, "policies.startDeadline", *p.start_deadline, false);
    if (p.retention) {
      if (p.retention->max_runs && (*p.retention->max_runs < 1)) {
        e.add("policies.retention.maxRuns", "must be at least 1");
      }
      if (p.retention->max_age) {
        check_duration(e, "policies.retention.maxAge", *p.retention->max_age, false);
      }
    }
  }
  // Last, the whole record: what the stores and one audit entry must hold.
  if (const std::size_t size = to_json(t).size(); size > limits::kTopologyJson) {
    e.add("$", "the topology's JSON has " + std::to_string(size) + " bytes, at most " +
                   std::to_string(limits::kTopologyJson));
  }
  return to_status(e.list);
}

Status validate(const SimpleTopologyRequest& r, bool creating) {
  Errors e;
  if (creating) {
    if (r.name.empty()) {
      e.add("name", "- Please provide an understandable name for the topology");
    } else if (e.length("name", r.name, limits::kName) && !valid_name(r.name, limits::kName)) {
      e.add("name", "- Only alphanumeric - and _ allowed (1-255 characters)");
    }
  }
  if (r.cron.empty()) {
    e.add("cron", "must not be empty");
  } else if (e.length("cron", r.cron, limits::kTimeSpec)) {
    if (auto err = CronExpression::check(r.cron)) e.add("cron", err->message());
  }
  if (r.time_zone && e.length("timeZone", *r.time_zone, limits::kTimeZone)) {
    if (auto z = TimeZone::locate(*r.time_zone); !z.ok()) e.add("timeZone", z.status().message());
  }
  if (Status s = check_image_reference(r.docker); !s.ok()) e.add("docker", s.message());
  if (r.cpus < 1 || r.cpus > 40) e.add("cpus", "must be 1-40");
  if (r.memory < 128 || r.memory > 100000) e.add("memory", "must be 128-100000 (MB)");
  if (e.length("notifyEmail", r.notify_email, limits::kNotifyEmail)) {
    const std::size_t count =
        static_cast<std::size_t>(std::count(r.notify_email.begin(), r.notify_email.end(), ',')) + 1;
    if (e.count("notifyEmail", count, limits::kEmails)) {
      if (!valid_email_list(r.notify_email)) {
        e.add("notifyEmail", "Invalid email(s) format");
      } else {
        // Each address within the limit validate(const Topology&) applies.
        const std::string& s = r.notify_email;
        for (std::size_t start = 0, i = 0; start <= s.size(); ++i) {
          std::size_t end = s.find(',', start);
          if (end == std::string::npos) end = s.size();
          e.length("notifyEmail[" + std::to_string(i) + "]",
                   std::string_view(s).substr(start, end - start), limits::kEmail);
          start = end + 1;
        }
      }
    }
  }
  const std::size_t env_count =
      (r.env ? r.env->size() : 0) + (r.secret_env ? r.secret_env->size() : 0);
  if (e.count("env", env_count, limits::kEnvEntries)) {
    if (r.env) {
      for (const auto& [name, value] : *r.env)
        check_env_entry(e, "env." + shown(name), name, value);
    }
    if (r.secret_env) {
      for (const auto& [name, value] : *r.secret_env) {
        const std::string path = "secretEnv." + shown(name);
        check_env_entry(e, path, name, value);
        if (r.env && r.env->count(name) > 0) {
          e.add(path, "also given in env (an entry is either env or secretEnv)");
        }
      }
    }
  }
  if (r.volumes) check_volumes(e, "volumes", *r.volumes);
  return to_status(e.list);
}

bool has_secrets(const Topology& t) {
  bool any = false;
  for_each_leaf(t.task, "task", [&](const Task& leaf, const std::string&) {
    if (const auto* c = std::get_if<ContainerTask>(&leaf.spec)) {
      any = any || (c->secret_names && !c->secret_names->empty());
    } else if (const auto* p = std::get_if<ProcessTask>(&leaf.spec)) {
      any = any || (p->secret_names && !p->secret_names->empty());
    }
  });
  return any;
}

namespace {

// The env map and secret names of a leaf task (null for neither).
struct EnvRef {
  std::map<std::string, std::string>* env = nullptr;
  const std::set<std::string>* secrets = nullptr;
};
EnvRef env_of(Task& leaf) {
  if (auto* c = std::get_if<ContainerTask>(&leaf.spec)) {
    return {c->env ? &*c->env : nullptr, c->secret_names ? &*c->secret_names : nullptr};
  }
  if (auto* p = std::get_if<ProcessTask>(&leaf.spec)) {
    return {&p->env, p->secret_names ? &*p->secret_names : nullptr};
  }
  return {};
}

}  // namespace

Status restore_redacted_secrets(Topology& incoming, const Topology* current) {
  // The stored secret values, by task name and secret name.
  std::map<std::string, std::map<std::string, std::string>> stored;
  if (current != nullptr) {
    for_each_leaf(current->task, "task", [&](const Task& leaf, const std::string&) {
      const std::map<std::string, std::string>* env = nullptr;
      const Boxed<std::set<std::string>>* secrets = nullptr;
      if (const auto* c = std::get_if<ContainerTask>(&leaf.spec)) {
        env = c->env ? &*c->env : nullptr;
        secrets = &c->secret_names;
      } else if (const auto* p = std::get_if<ProcessTask>(&leaf.spec)) {
        env = &p->env;
        secrets = &p->secret_names;
      }
      if (env == nullptr || secrets == nullptr || !*secrets) return;
      for (const std::string& name : **secrets) {
        if (auto it = env->find(name); it != env->end()) stored[task_name(leaf)][name] = it->second;
      }
    });
  }
  // Check everything first, so that an error changes nothing.
  std::vector<std::string> errors;
  std::vector<std::pair<std::string*, const std::string*>> writes;
  for_each_leaf(incoming.task, "task", [&](Task& leaf, const std::string& path) {
    const EnvRef ref = env_of(leaf);
    if (ref.env == nullptr || ref.secrets == nullptr) return;
    for (const std::string& name : *ref.secrets) {
      auto it = ref.env->find(name);
      if (it == ref.env->end() || it->second != kRedactedSecret) continue;
      const std::string* value = nullptr;
      if (const auto task = stored.find(task_name(leaf)); task != stored.end()) {
        if (const auto v = task->second.find(name); v != task->second.end()) value = &v->second;
      }
      if (value == nullptr) {
        errors.push_back(env_path(path, true, name) + ": '" + std::string(kRedactedSecret) +
                         "' keeps a stored secret, but the topology has none by that name");
      } else {
        writes.emplace_back(&it->second, value);
      }
    }
  });
  if (!errors.empty()) return to_status(errors);
  for (auto& [to, from] : writes)
    *to = *from;
  return ok_status();
}

}  // namespace epoch
