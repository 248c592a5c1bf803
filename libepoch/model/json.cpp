// JSON mapping of the model (Boost.JSON; the only translation unit of
// libepoch's model that includes it).
//
// Decoding walks the document with the JSON path of every value at hand, so
// an error says where it is: "$.task.resources[1].count: expected an integer".
#include <boost/json.hpp>
#include <cmath>
#include <limits>
#include <set>

#include "epoch/model.h"

namespace json = boost::json;

namespace epoch {

namespace model_detail {
StatusOr<TopologyState> parse_topology_state(std::string_view n);
StatusOr<OverlapMode> parse_overlap_mode(std::string_view n);
StatusOr<CatchUpMode> parse_catch_up_mode(std::string_view n);
}  // namespace model_detail

namespace {

struct DecodeError {
  std::string message;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw DecodeError{path + ": " + what};
}

const char* kind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

// Reading helpers. `path` is the path of `v`.
const json::object& as_object(const json::value& v, const std::string& path) {
  if (!v.is_object()) fail(path, std::string("expected an object, found ") + kind(v));
  return v.get_object();
}
const json::array& as_array(const json::value& v, const std::string& path) {
  if (!v.is_array()) fail(path, std::string("expected an array, found ") + kind(v));
  return v.get_array();
}
std::string as_string(const json::value& v, const std::string& path) {
  if (!v.is_string()) fail(path, std::string("expected a string, found ") + kind(v));
  return std::string(v.get_string());
}
std::int64_t as_int(const json::value& v, const std::string& path) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.get_uint64());
  }
  if (v.is_double() && std::trunc(v.get_double()) == v.get_double() &&
      std::abs(v.get_double()) < 9.0e15) {
    return static_cast<std::int64_t>(v.get_double());
  }
  fail(path, std::string("expected an integer, found ") + kind(v));
}
bool as_bool(const json::value& v, const std::string& path) {
  if (!v.is_bool()) fail(path, std::string("expected a boolean, found ") + kind(v));
  return v.as_bool();
}

int as_int32(const json::value& v, const std::string& path) {
  const std::int64_t n = as_int(v, path);
  if (n < INT32_MIN || n > INT32_MAX) fail(path, "integer out of range");
  return static_cast<int>(n);
}
double as_double(const json::value& v, const std::string& path) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  fail(path, std::string("expected a number, found ") + kind(v));
}
Instant as_instant(const json::value& v, const std::string& path) {
  if (v.is_string()) {
    auto t = parse_instant(v.get_string());
    if (!t.ok()) fail(path, t.status().message());
    return *t;
  }
  if (!v.is_number()) {
    fail(path, std::string("expected epoch milliseconds or an ISO-8601 string, found ") + kind(v));
  }
  return from_epoch_millis(as_int(v, path));
}
Duration as_duration(const json::value& v, const std::string& path) {
  auto d = parse_duration(as_string(v, path));
  if (!d.ok()) fail(path, d.status().message());
  return *d;
}
template <typename T>
T as_enum(const json::value& v, const std::string& path, StatusOr<T> (*parse)(std::string_view)) {
  auto e = parse(as_string(v, path));
  if (!e.ok()) fail(path, e.status().message());
  return *e;
}
std::map<std::string, std::string> as_string_map(const json::value& v, const std::string& path) {
  std::map<std::string, std::string> m;
  for (const auto& kv : as_object(v, path)) {
    m[std::string(kv.key())] = as_string(kv.value(), path + "." + std::string(kv.key()));
  }
  return m;
}
std::vector<std::string> as_string_list(const json::value& v, const std::string& path) {
  std::vector<std::string> out;
  const json::array& a = as_array(v, path);
  for (std::size_t i = 0; i < a.size(); ++i) {
    out.push_back(as_string(a[i], path + "[" + std::to_string(i) + "]"));
  }
  return out;
}

// The field `key` of `o` when present and not null.
const json::value* field(const json::object& o, std::string_view key) {
  const auto it = o.find(key);
  return it == o.end() || it->value().is_null() ? nullptr : &it->value();
}
const json::value& required(const json::object& o, std::string_view key, const std::string& path) {
  const json::value* v = field(o, key);
  if (v == nullptr) fail(path + "." + std::string(key), "required");
  return *v;
}

std::string upper(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The "type" discriminator, upper-cased.
std::string type_of(const json::object& o, const std::string& path) {
  return upper(as_string(required(o, "type", path), path + ".type"));
}

// ---- decoding ----

Volume decode_volume(const json::value& v, const std::string& path) {
  const json::object& o = as_object(v, path);
  Volume vol;
  vol.path_in_container =
      as_string(required(o, "pathInContainer", path), path + ".pathInContainer");
  vol.path_on_host = as_string(required(o, "pathOnHost", path), path + ".pathOnHost");
  const std::string mode = upper(as_string(required(o, "mode", path), path + ".mode"));
  if (mode == "READ_WRITE") {
    vol.mode = Volume::Mode::kReadWrite;
  } else if (mode == "READ_ONLY") {
    vol.mode = Volume::Mode::kReadOnly;
  } else {
    fail(path + ".mode", "unknown volume mode '" + mode + "' (expected READ_WRITE, READ_ONLY)");
  }
  return vol;
}

std::vector<Volume> decode_volumes(const json::value& v, const std::string& path) {
  std::vector<Volume> out;
  const json::array& a = as_array(v, path);
  for (std::size_t i = 0; i < a.size(); ++i) {
    out.push_back(decode_volume(a[i], path + "[" + std::to_string(i) + "]"));
  }
  return out;
}

bool has_double(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_:
      return true;
    case json::kind::array:
      for (const json::value& e : v.get_array())
        if (has_double(e)) return true;
      return false;
    case json::kind::object:
      for (const auto& kv : v.get_object())
        if (has_double(kv.value())) return true;
      return false;
    default:
      return false;
  }
}

// The stored text of a passed-through spec. Boost.JSON 1.81 does not parse
// long numbers correctly rounded, so serialize(parse(text)) can differ from
// text when a double is present; such text is re-read until it no longer
// changes (at most a few rounds), so a spec reads back as itself.
RawJson raw(const json::value& v, const std::string& path, json::kind expected) {
  if (v.kind() != expected) {
    fail(path, std::string("expected ") +
                   (expected == json::kind::array ? "an array" : "an object") + ", found " +
                   kind(v));
  }
  std::string text = json::serialize(v);
  if (has_double(v)) {
    for (int round = 0; round < 8; ++round) {
      std::string again = json::serialize(json::parse(text));
      if (again == text) break;
      text = std::move(again);
    }
  }
  return RawJson{std::move(text)};
}

// "secretEnv" of a task object: merged into `env`, names into `secrets`. A
// name in both env and secretEnv is an error (an entry is one or the other).
void decode_secret_env(const json::object& o, const std::string& path,
                       std::map<std::string, std::string>& env,
                       Boxed<std::set<std::string>>& secrets) {
  const auto* f = field(o, "secretEnv");
  if (f == nullptr) return;
  std::set<std::string> names;
  for (auto& [name, value] : as_string_map(*f, path + ".secretEnv")) {
    if (env.count(name) > 0) {
      fail(path + ".secretEnv." + name, "also given in env (an entry is either env or secretEnv)");
    }
    names.insert(name);
    env[name] = std::move(value);
  }
  if (!names.empty()) secrets = std::move(names);
}

Task decode_task(const json::value& v, const std::string& path) {
  const json::object& o = as_object(v, path);
  const std::string type = type_of(o, path);
  Task task;
  if (type == "CONTAINER_EXECUTION") {
    ContainerTask c;
    if (const auto* f = field(o, "taskName")) c.task_name = as_string(*f, path + ".taskName");
    const std::string ep = path + ".executable";
    const json::object& e = as_object(required(o, "executable", path), ep);
    if (const auto* f = field(e, "type")) c.executable.type = upper(as_string(*f, ep + ".type"));
    if (const auto* f = field(e, "url")) c.executable.url = as_string(*f, ep + ".url");
    if (const auto* f = field(e, "dockerPullTimeout")) {
      c.executable.docker_pull_timeout = as_duration(*f, ep + ".dockerPullTimeout");
    }
    const std::string rp = path + ".resources";
    const json::array& res = as_array(required(o, "resources", path), rp);
    for (std::size_t i = 0; i < res.size(); ++i) {
      const std::string p = rp + "[" + std::to_string(i) + "]";
      const json::object& r = as_object(res[i], p);
      const std::string rtype = type_of(r, p);
      if (rtype == "CPU") {
        c.resources.push_back(
            {Resource::Type::kCpu, as_int(required(r, "count", p), p + ".count")});
      } else if (rtype == "MEMORY") {
        c.resources.push_back(
            {Resource::Type::kMemory, as_int(required(r, "sizeInMB", p), p + ".sizeInMB")});
      } else {
        fail(p + ".type", "unknown resource type '" + rtype + "' (expected CPU, MEMORY)");
      }
    }
    if (const auto* f = field(o, "volumes")) c.volumes = decode_volumes(*f, path + ".volumes");
    if (const auto* f = field(o, "configs"))
      c.configs = raw(*f, path + ".configs", json::kind::array);
    if (const auto* f = field(o, "logging"))
      c.logging = raw(*f, path + ".logging", json::kind::object);
    if (const auto* f = field(o, "placementPolicy")) {
      c.placement_policy = raw(*f, path + ".placementPolicy", json::kind::object);
    }
    if (const auto* f = field(o, "tags")) c.tags = as_string_map(*f, path + ".tags");
    if (const auto* f = field(o, "env")) c.env = as_string_map(*f, path + ".env");
    if (field(o, "secretEnv") != nullptr) {
      if (!c.env) c.env.emplace();
      decode_secret_env(o, path, *c.env, c.secret_names);
    }
    if (const auto* f = field(o, "args")) c.args = as_string_list(*f, path + ".args");
    task.spec = std::move(c);
  } else if (type == "PROCESS") {
    ProcessTask p;
    if (const auto* f = field(o, "taskName")) p.task_name = as_string(*f, path + ".taskName");
    p.command = as_string(required(o, "command", path), path + ".command");
    if (const auto* f = field(o, "args")) p.args = as_string_list(*f, path + ".args");
    if (const auto* f = field(o, "env")) p.env = as_string_map(*f, path + ".env");
    decode_secret_env(o, path, p.env, p.secret_names);
    if (const auto* f = field(o, "workingDirectory")) {
      p.working_directory = as_string(*f, path + ".workingDirectory");
    }
    task.spec = std::move(p);
  } else if (type == "FUNCTION") {
    FunctionTask f;
    if (const auto* n = field(o, "taskName")) f.task_name = as_string(*n, path + ".taskName");
    f.job = as_string(required(o, "job", path), path + ".job");
    if (const auto* d = field(o, "data")) f.data = raw(*d, path + ".data", json::kind::object);
    task.spec = std::move(f);
  } else if (type == "COMPOSITE") {
    CompositeTask c;
    const std::string tp = path + ".tasks";
    const json::array& children = as_array(required(o, "tasks", path), tp);
    for (std::size_t i = 0; i < children.size(); ++i) {
      c.tasks.push_back(decode_task(children[i], tp + "[" + std::to_string(i) + "]"));
    }
    if (const auto* f = field(o, "compositionType")) {
      const std::string ct = upper(as_string(*f, path + ".compositionType"));
      if (ct == "ALL") {
        c.composition = CompositionType::kAll;
      } else if (ct == "ANY") {
        c.composition = CompositionType::kAny;
      } else {
        fail(path + ".compositionType",
             "unknown composition type '" + ct + "' (expected ALL, ANY)");
      }
    }
    task.spec = std::move(c);
  } else {
    fail(path + ".type", "unknown task type '" + type +
                             "' (expected CONTAINER_EXECUTION, COMPOSITE, PROCESS, FUNCTION)");
  }
  return task;
}

Trigger decode_trigger(const json::value& v, const std::string& path) {
  const json::object& o = as_object(v, path);
  const std::string type = type_of(o, path);
  if (type == "CRON") {
    CronTrigger c;
    c.time_spec = as_string(required(o, "timeSpec", path), path + ".timeSpec");
    if (const auto* f = field(o, "timeZone")) c.time_zone = as_string(*f, path + ".timeZone");
    return c;
  }
  if (type == "AT") return AtTrigger{as_instant(required(o, "time", path), path + ".time")};
  fail(path + ".type", "unknown trigger type '" + type + "' (expected CRON, AT)");
}

Notification decode_notify(const json::value& v, const std::string& path) {
  const json::object& o = as_object(v, path);
  const std::string type = type_of(o, path);
  NotifyRouting routing;
  if (const auto* f = field(o, "webhooks"))
    routing.webhooks = as_string_list(*f, path + ".webhooks");
  if (const auto* f = field(o, "events")) routing.events = as_string_list(*f, path + ".events");
  // Only a routing that says something is kept (and written back).
  Boxed<NotifyRouting> boxed;
  if (!routing.webhooks.empty() || routing.events) boxed = std::move(routing);
  if (type == "MAIL") {
    MailNotification m;
    if (const auto* f = field(o, "emails")) m.emails = as_string_list(*f, path + ".emails");
    m.routing = std::move(boxed);
    return m;
  }
  if (type == "BLACKHOLE") return BlackholeNotification{std::move(boxed)};
  fail(path + ".type", "unknown notification type '" + type + "' (expected MAIL, BLACKHOLE)");
}

Policies decode_policies(const json::value& v, const std::string& path) {
  const json::object& o = as_object(v, path);
  Policies p;
  if (const auto* f = field(o, "overlap")) {
    const std::string op = path + ".overlap";
    const json::object& x = as_object(*f, op);
    OverlapPolicy ov;
    if (const auto* g = field(x, "mode")) {
      ov.mode = as_enum(*g, op + ".mode", model_detail::parse_overlap_mode);
    }
    if (const auto* g = field(x, "maxConcurrent")) {
      ov.max_concurrent = as_int32(*g, op + ".maxConcurrent");
    }
    p.overlap = ov;
  }
  if (const auto* f = field(o, "catchUp")) {
    const std::string cp = path + ".catchUp";
    const json::object& x = as_object(*f, cp);
    CatchUpPolicy c;
    if (const auto* g = field(x, "mode")) {
      c.mode = as_enum(*g, cp + ".mode", model_detail::parse_catch_up_mode);
    }
    if (const auto* g = field(x, "window")) c.window = as_duration(*g, cp + ".window");
    if (const auto* g = field(x, "maxRuns")) c.max_runs = as_int32(*g, cp + ".maxRuns");
    p.catch_up = c;
  }
  if (const auto* f = field(o, "retry")) {
    const std::string rp = path + ".retry";
    const json::object& x = as_object(*f, rp);
    RetryPolicy r;
    if (const auto* g = field(x, "maxAttempts")) r.max_attempts = as_int32(*g, rp + ".maxAttempts");
    if (const auto* g = field(x, "initialBackoff")) {
      r.initial_backoff = as_duration(*g, rp + ".initialBackoff");
    }
    if (const auto* g = field(x, "maxBackoff")) r.max_backoff = as_duration(*g, rp + ".maxBackoff");
    if (const auto* g = field(x, "multiplier")) r.multiplier = as_double(*g, rp + ".multiplier");
    if (const auto* g = field(x, "jitter")) r.jitter = as_double(*g, rp + ".jitter");
    if (const auto* g = field(x, "on")) {
      r.on.clear();
      const json::array& a = as_array(*g, rp + ".on");
      for (std::size_t i = 0; i < a.size(); ++i) {
        const std::string ip = rp + ".on[" + std::to_string(i) + "]";
        const std::string s = upper(as_string(a[i], ip));
        if (s == "FAILED") {
          r.on.push_back(RetryOn::kFailed);
        } else if (s == "TIMED_OUT") {
          r.on.push_back(RetryOn::kTimedOut);
        } else if (s == "LOST") {
          r.on.push_back(RetryOn::kLost);
        } else {
          fail(ip, "unknown outcome '" + s + "' (expected FAILED, TIMED_OUT, LOST)");
        }
      }
    }
    p.retry = r;
  }
  if (const auto* f = field(o, "timeout")) p.timeout = as_duration(*f, path + ".timeout");
  if (const auto* f = field(o, "startDeadline")) {
    p.start_deadline = as_duration(*f, path + ".startDeadline");
  }
  if (const auto* f = field(o, "retention")) {
    const std::string rp = path + ".retention";
    const json::object& x = as_object(*f, rp);
    RetentionPolicy r;
    if (const auto* g = field(x, "maxRuns")) r.max_runs = as_int32(*g, rp + ".maxRuns");
    if (const auto* g = field(x, "maxAge")) r.max_age = as_duration(*g, rp + ".maxAge");
    p.retention = r;
  }
  return p;
}

Topology decode_topology(const json::value& v, const std::string& path) {
  const json::object& o = as_object(v, path);
  Topology t;
  if (const auto* f = field(o, "name")) t.name = as_string(*f, path + ".name");
  t.task = decode_task(required(o, "task", path), path + ".task");
  t.trigger = decode_trigger(required(o, "trigger", path), path + ".trigger");
  if (const auto* f = field(o, "notify")) t.notify = decode_notify(*f, path + ".notify");
  if (const auto* f = field(o, "policies")) t.policies = decode_policies(*f, path + ".policies");
  return t;
}

TaskRunInfo decode_task_run(const json::value& v, const std::string& path) {
  const json::object& o = as_object(v, path);
  TaskRunInfo t;
  if (const auto* f = field(o, "taskId")) t.task_id = as_string(*f, path + ".taskId");
  if (const auto* f = field(o, "state")) t.state = as_enum(*f, path + ".state", parse_task_state);
  if (const auto* f = field(o, "upstreamId")) t.upstream_id = as_string(*f, path + ".upstreamId");
  if (const auto* f = field(o, "errorMessage")) {
    t.error_message = as_string(*f, path + ".errorMessage");
  }
  if (const auto* f = field(o, "exitCode")) t.exit_code = as_int32(*f, path + ".exitCode");
  if (const auto* f = field(o, "attempt")) t.attempt = as_int32(*f, path + ".attempt");
  if (const auto* f = field(o, "started")) t.started = as_instant(*f, path + ".started");
  if (const auto* f = field(o, "finished")) t.finished = as_instant(*f, path + ".finished");
  if (const auto* f = field(o, "notBefore")) t.not_before = as_instant(*f, path + ".notBefore");
  if (const auto* f = field(o, "claimed")) t.claimed = as_bool(*f, path + ".claimed");
  return t;
}

template <typename T>
StatusOr<T> decode(std::string_view text, T (*fn)(const json::value&, const std::string&)) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return invalid_argument("malformed JSON: " + ec.message());
  try {
    return fn(v, "$");
  } catch (const DecodeError& e) {
    return invalid_argument(e.message);
  }
}

// ---- encoding ----

json::value parse_raw(const RawJson& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.text, ec);
  return ec ? json::value(nullptr) : v;
}

json::object encode_string_map(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m)
    o[k] = v;
  return o;
}

json::array encode_strings(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v)
    a.emplace_back(s);
  return a;
}

// Writes a task's env: the entries that are not secret under "env", the
// secret ones (if any) under "secretEnv", as given or redacted.
void encode_env(json::object& o, const std::map<std::string, std::string>& env,
                const Boxed<std::set<std::string>>& secrets, Secrets mode) {
  if (!secrets || secrets->empty()) {
    o["env"] = encode_string_map(env);
    return;
  }
  json::object plain, secret;
  for (const auto& [k, v] : env) {
    if (secrets->count(k) > 0) {
      secret[k] = mode == Secrets::kRedact ? json::string(kRedactedSecret) : json::string(v);
    } else {
      plain[k] = v;
    }
  }
  o["env"] = std::move(plain);
  o["secretEnv"] = std::move(secret);
}

json::object encode_task(const Task& task, Secrets mode) {
  json::object o;
  if (const auto* c = std::get_if<ContainerTask>(&task.spec)) {
    o["type"] = "CONTAINER_EXECUTION";
    o["taskName"] = c->task_name;
    o["executable"] = {{"type", c->executable.type},
                       {"url", c->executable.url},
                       {"dockerPullTimeout", to_string(c->executable.docker_pull_timeout)}};
    json::array res;
    for (const Resource& r : c->resources) {
      if (r.type == Resource::Type::kCpu) {
        res.push_back(json::object{{"type", "CPU"}, {"count", r.amount}});
      } else {
        res.push_back(json::object{{"type", "MEMORY"}, {"sizeInMB", r.amount}});
      }
    }
    o["resources"] = std::move(res);
    if (c->volumes) {
      json::array vols;
      for (const Volume& v : *c->volumes) {
        vols.push_back(json::object{
            {"pathInContainer", v.path_in_container},
            {"pathOnHost", v.path_on_host},
            {"mode", v.mode == Volume::Mode::kReadWrite ? "READ_WRITE" : "READ_ONLY"}});
      }
      o["volumes"] = std::move(vols);
    }
    if (c->configs) o["configs"] = parse_raw(*c->configs);
    if (c->logging) o["logging"] = parse_raw(*c->logging);
    if (c->placement_policy) o["placementPolicy"] = parse_raw(*c->placement_policy);
    if (c->tags) o["tags"] = encode_string_map(*c->tags);
    if (c->env) encode_env(o, *c->env, c->secret_names, mode);
    if (c->args) o["args"] = encode_strings(*c->args);
  } else if (const auto* p = std::get_if<ProcessTask>(&task.spec)) {
    o["type"] = "PROCESS";
    o["taskName"] = p->task_name;
    o["command"] = p->command;
    o["args"] = encode_strings(p->args);
    encode_env(o, p->env, p->secret_names, mode);
    if (!p->working_directory.empty()) o["workingDirectory"] = p->working_directory;
  } else if (const auto* f = std::get_if<FunctionTask>(&task.spec)) {
    o["type"] = "FUNCTION";
    o["taskName"] = f->task_name;
    o["job"] = f->job;
    if (f->data) o["data"] = parse_raw(*f->data);
  } else {
    const auto& comp = std::get<CompositeTask>(task.spec);
    o["type"] = "COMPOSITE";
    json::array children;
    for (const Task& t : comp.tasks)
      children.push_back(encode_task(t, mode));
    o["tasks"] = std::move(children);
    o["compositionType"] = comp.composition == CompositionType::kAll ? "ALL" : "ANY";
  }
  return o;
}

json::object encode_policies(const Policies& p) {
  json::object o;
  if (p.overlap) {
    o["overlap"] = {{"mode", to_string(p.overlap->mode)},
                    {"maxConcurrent", p.overlap->max_concurrent}};
  }
  if (p.catch_up) {
    o["catchUp"] = {{"mode", to_string(p.catch_up->mode)},
                    {"window", to_string(p.catch_up->window)},
                    {"maxRuns", p.catch_up->max_runs}};
  }
  if (p.retry) {
    json::array on;
    for (RetryOn r : p.retry->on) {
      on.emplace_back(r == RetryOn::kFailed     ? "FAILED"
                      : r == RetryOn::kTimedOut ? "TIMED_OUT"
                                                : "LOST");
    }
    o["retry"] = {{"maxAttempts", p.retry->max_attempts},
                  {"initialBackoff", to_string(p.retry->initial_backoff)},
                  {"maxBackoff", to_string(p.retry->max_backoff)},
                  {"multiplier", p.retry->multiplier},
                  {"jitter", p.retry->jitter},
                  {"on", std::move(on)}};
  }
  if (p.timeout) o["timeout"] = to_string(*p.timeout);
  if (p.start_deadline) o["startDeadline"] = to_string(*p.start_deadline);
  if (p.retention) {
    json::object r;
    if (p.retention->max_runs) r["maxRuns"] = *p.retention->max_runs;
    if (p.retention->max_age) r["maxAge"] = to_string(*p.retention->max_age);
    o["retention"] = std::move(r);
  }
  return o;
}

json::object encode_topology(const Topology& t, Secrets mode) {
  json::object o;
  o["name"] = t.name;
  o["task"] = encode_task(t.task, mode);
  if (const auto* c = std::get_if<CronTrigger>(&t.trigger)) {
    json::object tr{{"type", "CRON"}, {"timeSpec", c->time_spec}};
    if (c->time_zone) tr["timeZone"] = *c->time_zone;
    o["trigger"] = std::move(tr);
  } else {
    o["trigger"] = {{"type", "AT"}, {"time", to_epoch_millis(std::get<AtTrigger>(t.trigger).time)}};
  }
  if (t.notify) {
    json::object n;
    if (const auto* m = std::get_if<MailNotification>(&*t.notify)) {
      n = {{"type", "MAIL"}, {"emails", encode_strings(m->emails)}};
    } else {
      n = {{"type", "BLACKHOLE"}};
    }
    const NotifyRouting& r = routing_of(*t.notify);
    if (!r.webhooks.empty()) n["webhooks"] = encode_strings(r.webhooks);
    if (r.events) n["events"] = encode_strings(*r.events);
    o["notify"] = std::move(n);
  }
  if (t.policies) o["policies"] = encode_policies(*t.policies);
  return o;
}

TopologyDetails decode_details(const json::value& v, const std::string& path) {
  const json::object& o = as_object(v, path);
  TopologyDetails d;
  d.id = as_string(required(o, "id", path), path + ".id");
  d.topology = decode_topology(required(o, "topology", path), path + ".topology");
  if (const auto* f = field(o, "state")) {
    d.state = as_enum(*f, path + ".state", model_detail::parse_topology_state);
  }
  if (const auto* f = field(o, "created")) d.created = as_instant(*f, path + ".created");
  if (const auto* f = field(o, "updated")) d.updated = as_instant(*f, path + ".updated");
  return d;
}

RunInfo decode_run(const json::value& v, const std::string& path) {
  const json::object& o = as_object(v, path);
  RunInfo r;
  r.topology_id = as_string(required(o, "topologyId", path), path + ".topologyId");
  r.run_id = as_string(required(o, "runId", path), path + ".runId");
  if (const auto* f = field(o, "state")) r.state = as_enum(*f, path + ".state", parse_run_state);
  if (const auto* f = field(o, "message")) r.message = as_string(*f, path + ".message");
  if (const auto* f = field(o, "tasks")) {
    for (const auto& kv : as_object(*f, path + ".tasks")) {
      const std::string name(kv.key());
      r.tasks[name] = decode_task_run(kv.value(), path + ".tasks." + name);
    }
  }
  if (const auto* f = field(o, "runType")) {
    r.run_type = as_enum(*f, path + ".runType", parse_run_type);
  }
  if (const auto* f = field(o, "created")) r.created = as_instant(*f, path + ".created");
  if (const auto* f = field(o, "updated")) r.updated = as_instant(*f, path + ".updated");
  if (const auto* f = field(o, "scheduledTime")) {
    r.scheduled_time = as_instant(*f, path + ".scheduledTime");
  }
  if (const auto* f = field(o, "reason")) r.reason = as_string(*f, path + ".reason");
  if (const auto* f = field(o, "runningLongAt")) {
    r.running_long = as_instant(*f, path + ".runningLongAt");
  }
  if (const auto* f = field(o, "queued")) r.queued = as_bool(*f, path + ".queued");
  return r;
}

SimpleTopologyRequest decode_simple(const json::value& v, const std::string& path) {
  const json::object& o = as_object(v, path);
  SimpleTopologyRequest r;
  if (const auto* f = field(o, "name")) r.name = as_string(*f, path + ".name");
  if (const auto* f = field(o, "cron")) r.cron = as_string(*f, path + ".cron");
  if (const auto* f = field(o, "docker")) r.docker = as_string(*f, path + ".docker");
  if (const auto* f = field(o, "cpus")) r.cpus = as_int(*f, path + ".cpus");
  if (const auto* f = field(o, "memory")) r.memory = as_int(*f, path + ".memory");
  if (const auto* f = field(o, "notifyEmail"))
    r.notify_email = as_string(*f, path + ".notifyEmail");
  if (const auto* f = field(o, "env")) r.env = as_string_map(*f, path + ".env");
  if (const auto* f = field(o, "secretEnv")) {
    r.secret_env = as_string_map(*f, path + ".secretEnv");
  }
  if (const auto* f = field(o, "volumes")) r.volumes = decode_volumes(*f, path + ".volumes");
  if (const auto* f = field(o, "timeZone")) r.time_zone = as_string(*f, path + ".timeZone");
  return r;
}

}  // namespace

StatusOr<Topology> topology_from_json(std::string_view text) {
  return decode<Topology>(text, decode_topology);
}
StatusOr<TopologyDetails> topology_details_from_json(std::string_view text) {
  return decode<TopologyDetails>(text, decode_details);
}
StatusOr<RunInfo> run_info_from_json(std::string_view text) {
  return decode<RunInfo>(text, decode_run);
}
StatusOr<SimpleTopologyRequest> simple_request_from_json(std::string_view text) {
  return decode<SimpleTopologyRequest>(text, decode_simple);
}

std::string to_json(const Topology& t) {
  return to_json(t, Secrets::kKeep);
}

std::string to_json(const Topology& t, Secrets secrets) {
  return json::serialize(encode_topology(t, secrets));
}

std::string to_json(const TopologyDetails& d) {
  return to_json(d, Secrets::kKeep);
}

std::string to_json(const TopologyDetails& d, Secrets secrets) {
  json::object o;
  o["id"] = d.id;
  o["topology"] = encode_topology(d.topology, secrets);
  o["state"] = to_string(d.state);
  o["created"] = to_epoch_millis(d.created);
  o["updated"] = to_epoch_millis(d.updated);
  return json::serialize(o);
}

std::string to_json(const RunInfo& r) {
  json::object o;
  o["topologyId"] = r.topology_id;
  o["runId"] = r.run_id;
  o["state"] = to_string(r.state);
  o["message"] = r.message;
  json::object tasks;
  for (const auto& [name, t] : r.tasks) {
    json::object x{{"taskId", t.task_id},
                   {"state", to_string(t.state)},
                   {"upstreamId", t.upstream_id},
                   {"errorMessage", t.error_message}};
    if (t.exit_code) x["exitCode"] = *t.exit_code;
    if (t.attempt != 1) x["attempt"] = t.attempt;
    if (t.started) x["started"] = to_epoch_millis(*t.started);
    if (t.finished) x["finished"] = to_epoch_millis(*t.finished);
    if (t.not_before) x["notBefore"] = to_epoch_millis(*t.not_before);
    if (t.claimed) x["claimed"] = true;
    tasks[name] = std::move(x);
  }
  o["tasks"] = std::move(tasks);
  o["runType"] = to_string(r.run_type);
  o["created"] = to_epoch_millis(r.created);
  o["updated"] = to_epoch_millis(r.updated);
  if (r.scheduled_time) o["scheduledTime"] = to_epoch_millis(*r.scheduled_time);
  if (r.reason) o["reason"] = *r.reason;
  if (r.running_long) o["runningLongAt"] = to_epoch_millis(*r.running_long);
  if (r.queued) o["queued"] = true;
  return json::serialize(o);
}

}  // namespace epoch
