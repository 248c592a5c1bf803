// A fake Drove controller, written from drove-reference.md §9: the task API
// (/apis/v1/ping, /apis/v1/tasks/operations, GET/DELETE
// /apis/v1/tasks/{app}/instances/{id}, GET /apis/v1/tasks), Drove's
// envelope, HTTP codes and validation messages, leader and non-leader
// controllers (several ports of one process share one task database, as
// Drove's controllers share ZooKeeper), Basic auth, and tasks moving
// through Drove's states on a simulated clock with scripted outcomes.
//
// A task's script is its env entry DROVE_FAKE (or --default-script):
//   run=<ms>        time RUNNING (default 1000)
//   exit=<n>        exit code (default 0)
//   appear=<ms>     time before the first report (default 200)
//   pull-fail       the image cannot be pulled
//   lost            LOST after running for run=<ms>
//   never           never reported (as when no executor could take it)
//   slow-start=<ms> time in PROVISIONING (default 100)
// e.g. "run=500,exit=3". Fault injection and inspection, outside /apis:
//   POST /fake/leader?controller=<i>      make controller i (0-based) the leader
//   POST /fake/faults?status500=<n>&delay=<ms>&drop=<n>&maintenance=<0|1>
//                    &deletefalse=<n>      (the next n DELETEs: deleted:false)
//   GET  /fake/launches                    {"accepted":{id:n},"requests":{id:n},
//                                           "apiCalls":n,"statusCalls":n,"deletes":n}
//
//   fake_drove [--ports N] [--port P] [--user name:password:rw|ro]...
//              [--cores N] [--memory-mb M] [--default-script S]
//              [--tls-cert chain.pem --tls-key key.pem]   (HTTPS)
// Prints "fake-drove listening ports=p1,p2,..." on stderr when ready.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Script {
  std::int64_t run_ms = 1000, appear_ms = 200, provisioning_ms = 100;
  int exit_code = 0;
  bool pull_fail = false, lost = false, never = false;
};

Script parse_script(const std::string& text, Script s = {}) {
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, end - pos);
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    try {
      if (key == "run") s.run_ms = std::stoll(value);
      if (key == "exit") s.exit_code = std::stoi(value);
      if (key == "appear") s.appear_ms = std::stoll(value);
      if (key == "slow-start") s.provisioning_ms = std::stoll(value);
    } catch (...) {
    }
    if (key == "pull-fail") s.pull_fail = true;
    if (key == "lost") s.lost = true;
    if (key == "never") s.never = true;
    pos = end + 1;
  }
  return s;
}

struct Task {
  std::string app, id, instance_id, executor_id;
  json::object spec;
  Script script;
  Clock::time_point created;
  std::int64_t created_ms = 0;
  std::optional<Clock::time_point> killed;  // kill accepted at
  std::int64_t cores = 0, memory = 0;
};

// The state of a task at `now`, computed from its script.
struct View {
  bool visible = false;
  std::string state;
  std::optional<std::pair<std::string, std::int64_t>> result;
  std::string error;
  bool terminal = false;
  Clock::time_point terminal_at{};
};

constexpr std::int64_t kStarting = 100, kCompleted = 100, kDeprovisioning = 100;

View view_of(const Task& t, Clock::time_point now) {
  View v;
  const auto at = [&](std::int64_t ms) { return t.created + milliseconds(ms); };
  const Script& s = t.script;
  if (s.never || now < at(s.appear_ms)) return v;
  v.visible = true;
  std::int64_t edge = s.appear_ms + s.provisioning_ms;
  const std::string image = std::string(t.spec.at("executable").at("url").as_string());
  if (s.pull_fail) {
    v.error = "Error while pulling image " + image + ": manifest unknown";
    if (now < at(edge)) {
      v.state = "PROVISIONING";
      v.error.clear();
    } else if (now < at(edge + 100)) {
      v.state = "PROVISIONING_FAILED";
    } else if (now < at(edge + 100 + kDeprovisioning)) {
      v.state = "DEPROVISIONING";
    } else {
      v.state = "STOPPED";
      v.terminal = true;
      v.terminal_at = at(edge + 100 + kDeprovisioning);
    }
    return v;
  }
  if (now < at(edge)) {
    v.state = "PROVISIONING";
    return v;
  }
  const std::int64_t running_from = edge + kStarting;
  if (now < at(running_from)) {
    v.state = "STARTING";
    return v;
  }
  // The run ends at its scripted time, or 100 ms after an accepted kill.
  Clock::time_point run_end = at(running_from + s.run_ms);
  bool cancelled = false;
  if (t.killed) {
    const auto effective = std::max(*t.killed, at(running_from)) + milliseconds(100);
    if (effective < run_end) {
      run_end = effective;
      cancelled = true;
    }
  }
  if (now < run_end) {
    v.state = "RUNNING";
    return v;
  }
  if (s.lost && !cancelled) {
    v.state = "LOST";
    v.result = {"LOST", -1};
    v.error = "Instance lost";
    v.terminal = true;
    v.terminal_at = run_end;
    return v;
  }
  if (cancelled) {
    v.result = {"CANCELLED", -1};
  } else if (s.exit_code == 0) {
    v.result = {"SUCCESSFUL", 0};
  } else {
    v.result = {"FAILED", s.exit_code};
    v.error = "Task instance exited with status: " + std::to_string(s.exit_code);
  }
  if (now < run_end + milliseconds(kCompleted)) {
    v.state = "RUN_COMPLETED";
  } else if (now < run_end + milliseconds(kCompleted + kDeprovisioning)) {
    v.state = "DEPROVISIONING";
  } else {
    v.state = "STOPPED";
    v.terminal = true;
    v.terminal_at = run_end + milliseconds(kCompleted + kDeprovisioning);
  }
  return v;
}

struct User {
  std::string password;
  bool read_write = true;
};

struct Faults {
  int status500 = 0;
  int drop = 0;
  int delete_false = 0;  // DELETEs answered deleted:false (nothing deleted)
  std::int64_t delay_ms = 0;
  bool maintenance = false;
};

class Controller {
 public:
  std::mutex mu;
  std::map<std::string, Task> tasks;  // by "<app>-<id>"
  std::map<std::string, int> accepted, requests;
  std::uint64_t api_calls = 0, status_calls = 0;  // all /apis calls; GET instance calls
  std::uint64_t deletes = 0;                      // DELETE instance calls
  std::map<std::string, User> users;
  std::int64_t total_cores = 64, total_memory = 256 * 1024;
  std::size_t leader = 0;
  Faults faults;
  Script default_script;
  std::mt19937_64 rng{std::random_device{}()};

  std::string uuid() {
    const std::uint64_t a = rng(), b = rng();
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                  static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                  static_cast<unsigned>(b >> 48),
                  static_cast<unsigned long long>(b & 0xffffffffffffULL));
    return buf;
  }
};

using Response = http::response<http::string_body>;

Response reply(unsigned status, const json::value& body) {
  Response r{static_cast<http::status>(status), 11};
  r.set(http::field::content_type, "application/json");
  r.body() = json::serialize(body);
  r.prepare_payload();
  return r;
}

json::object success(json::value data) {
  json::object o{{"status", "SUCCESS"}};
  if (!data.is_null()) o["data"] = std::move(data);
  o["message"] = "success";
  return o;
}

json::object failure(const std::string& message, json::value data = nullptr) {
  json::object o{{"status", "FAILED"}};
  if (!data.is_null()) o["data"] = std::move(data);
  o["message"] = message;
  return o;
}

Response validation(const std::vector<std::string>& errors,
                    const std::string& message = "Command validation failure") {
  json::array list;
  for (const auto& e : errors)
    list.emplace_back(e);
  return reply(400, failure(message, json::object{{"validationErrors", list}}));
}

json::object task_info(const Task& t, const View& v) {
  json::object o;
  o["sourceAppName"] = t.app;
  o["taskId"] = t.id;
  o["instanceId"] = t.instance_id;
  o["executorId"] = t.executor_id;
  if (v.state != "PROVISIONING" && v.state != "STARTING" && v.state != "PROVISIONING_FAILED")
    o["hostname"] = "fake-executor-1.local";
  json::object executable = t.spec.at("executable").as_object();
  if (!executable.contains("type")) executable["type"] = "DOCKER";
  o["executable"] = executable;
  o["resources"] =
      json::array{json::object{{"type", "CPU"}, {"cores", json::object{{"0", json::array{3}}}}},
                  json::object{{"type", "MEMORY"}, {"memoryInMB", json::object{{"0", t.memory}}}}};
  if (const auto* vol = t.spec.if_contains("volumes")) o["volumes"] = *vol;
  if (const auto* l = t.spec.if_contains("logging")) o["loggingSpec"] = *l;
  if (const auto* e = t.spec.if_contains("env")) o["env"] = *e;
  o["state"] = v.state;
  o["metadata"] = json::object{};
  if (v.result) o["taskResult"] = {{"status", v.result->first}, {"exitCode", v.result->second}};
  o["errorMessage"] = v.error;
  o["created"] = t.created_ms;
  o["updated"] = wall_ms();
  return o;
}

bool valid_name(const std::string& s) {
  static const std::regex re("[a-zA-Z\\d\\-_]*");
  return std::regex_match(s, re);
}

std::int64_t resource(const json::object& spec, const char* type, const char* field) {
  std::int64_t n = 0;
  if (const auto* rs = spec.if_contains("resources"); rs && rs->is_array()) {
    for (const auto& r : rs->as_array()) {
      if (!r.is_object()) continue;
      const auto* t = r.as_object().if_contains("type");
      const auto* v = r.as_object().if_contains(field);
      if (t && t->is_string() && t->as_string() == type && v && v->is_int64()) n += v->as_int64();
    }
  }
  return n;
}

Response create(Controller& c, const json::object& op) {
  const auto* spec_v = op.if_contains("spec");
  const auto* opspec = op.if_contains("opSpec");
  std::vector<std::string> errors;
  if (!spec_v || !spec_v->is_object()) errors.push_back("spec must not be null");
  if (!opspec || !opspec->is_object()) {
    errors.push_back("opSpec must not be null");
  } else {
    const auto* par = opspec->as_object().if_contains("parallelism");
    if (!par || !par->is_int64() || par->as_int64() < 1)
      errors.push_back("opSpec.parallelism must be greater than or equal to 1");
    if (!opspec->as_object().contains("timeout"))
      errors.push_back("opSpec.timeout must not be null");
  }
  if (!errors.empty()) return validation(errors);
  const json::object& spec = spec_v->as_object();
  const auto str = [&](const char* k) -> std::string {
    const auto* v = spec.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const std::string app = str("sourceAppName"), id = str("taskId");
  if (app.empty())
    errors.push_back("spec.sourceAppName - Source Application name is mandatory");
  else if (!valid_name(app))
    errors.push_back(
        "spec.sourceAppName - Only characters, numbers, hyphen and underscore is allowed");
  if (id.empty())
    errors.push_back("spec.taskId - Task ID is mandatory");
  else if (!valid_name(id))
    errors.push_back("spec.taskId - Only characters, numbers, hyphen and underscore is allowed");
  const auto* exe = spec.if_contains("executable");
  if (!exe || !exe->is_object()) {
    errors.push_back("spec.executable - Executable details is required");
  } else {
    const auto* url = exe->as_object().if_contains("url");
    if (!url || !url->is_string() || url->as_string().empty())
      errors.push_back("spec.executable.url - Specify url for container");
    if (!exe->as_object().contains("dockerPullTimeout"))
      errors.push_back(
          "spec.executable.dockerPullTimeout - Specify container fetch (docker pull) timeout");
  }
  const auto* res = spec.if_contains("resources");
  if (!res || !res->is_array() || res->as_array().empty())
    errors.push_back("spec.resources - CPU/Memory requirements must be specified");
  if (!errors.empty()) return validation(errors);
  if (c.faults.maintenance) return validation({"Cluster is in maintenance mode"});
  const std::string key = app + "-" + id;
  ++c.requests[id];
  const std::int64_t cores = resource(spec, "CPU", "count"),
                     memory = resource(spec, "MEMORY", "sizeInMB");
  std::int64_t used_cores = 0, used_memory = 0;
  const auto now = Clock::now();
  for (const auto& [k, t] : c.tasks) {
    if (view_of(t, now).terminal) continue;
    used_cores += t.cores;
    used_memory += t.memory;
  }
  if (cores > c.total_cores - used_cores)
    errors.push_back("Cluster does not have enough CPU. Required: " + std::to_string(cores) +
                     " Available: " + std::to_string(c.total_cores - used_cores));
  if (memory > c.total_memory - used_memory)
    errors.push_back("Cluster does not have enough Memory. Required: " + std::to_string(memory) +
                     " Available: " + std::to_string(c.total_memory - used_memory));
  if (!errors.empty()) return validation(errors);
  if (const auto it = c.tasks.find(key); it != c.tasks.end()) {
    // A task that never got an executor leaves no record: its id is free.
    if (!it->second.script.never)
      return validation({"Task already exists for " + app + "/" + id + " with taskID: " + key});
  }
  Task t;
  t.app = app;
  t.id = id;
  t.spec = spec;
  t.instance_id = "TI-" + c.uuid();
  t.executor_id = c.uuid();
  t.created = now;
  t.created_ms = wall_ms();
  t.cores = cores;
  t.memory = memory;
  std::string script;
  if (const auto* env = spec.if_contains("env"); env && env->is_object()) {
    if (const auto* s = env->as_object().if_contains("DROVE_FAKE"); s && s->is_string())
      script = std::string(s->as_string());
  }
  t.script = parse_script(script, c.default_script);
  c.tasks[key] = std::move(t);
  ++c.accepted[id];
  return reply(200, success(json::object{{"taskId", key}}));
}

Response kill(Controller& c, const json::object& op) {
  const auto* app = op.if_contains("sourceAppName");
  const auto* id = op.if_contains("taskId");
  std::vector<std::string> errors;
  if (!app || !app->is_string() || app->as_string().empty())
    errors.push_back("sourceAppName must not be empty");
  if (!id || !id->is_string() || id->as_string().empty())
    errors.push_back("taskId must not be empty");
  if (!op.contains("opSpec")) errors.push_back("opSpec must not be null");
  if (!errors.empty()) return validation(errors);
  if (c.faults.maintenance) return validation({"Cluster is in maintenance mode"});
  const std::string a(app->as_string()), i(id->as_string());
  const auto it = c.tasks.find(a + "-" + i);
  const auto now = Clock::now();
  bool runner = false;
  if (it != c.tasks.end() && !it->second.script.never) {
    const View v = view_of(it->second, now);
    runner = !v.terminal || now < v.terminal_at + std::chrono::seconds(5);
  }
  if (!runner)
    return validation({"Either task does not exist or has already finished for " + a + "/" + i});
  if (!it->second.killed) it->second.killed = now;
  return reply(200, success(json::object{{"taskId", i}}));
}

// Handles one API request on controller `index`.
Response handle(Controller& c, std::size_t index, const http::request<http::string_body>& req,
                bool& drop) {
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  const std::string query =
      target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
  const auto param = [&](const std::string& name) -> std::optional<std::string> {
    const std::regex re("(^|&)" + name + "=([^&]*)");
    std::smatch m;
    if (std::regex_search(query, m, re)) return m[2].str();
    return std::nullopt;
  };
  std::unique_lock lock(c.mu);
  // Inspection and fault injection.
  if (path == "/fake/leader" && req.method() == http::verb::post) {
    c.leader = static_cast<std::size_t>(std::stoul(param("controller").value_or("0")));
    return reply(200, success(json::value(static_cast<std::int64_t>(c.leader))));
  }
  if (path == "/fake/faults" && req.method() == http::verb::post) {
    if (auto v = param("status500")) c.faults.status500 = std::stoi(*v);
    if (auto v = param("drop")) c.faults.drop = std::stoi(*v);
    if (auto v = param("deletefalse")) c.faults.delete_false = std::stoi(*v);
    if (auto v = param("delay")) c.faults.delay_ms = std::stoll(*v);
    if (auto v = param("maintenance")) c.faults.maintenance = *v == "1" || *v == "true";
    return reply(200, success(nullptr));
  }
  if (path == "/fake/launches") {
    json::object a, r;
    for (const auto& [k, n] : c.accepted)
      a[k] = n;
    for (const auto& [k, n] : c.requests)
      r[k] = n;
    return reply(200, json::object{{"accepted", a},
                                   {"requests", r},
                                   {"apiCalls", c.api_calls},
                                   {"deletes", c.deletes},
                                   {"statusCalls", c.status_calls}});
  }
  if (path.rfind("/apis/", 0) != 0) {
    Response r{http::status::not_found, 11};
    r.body() = "Not Found";
    r.prepare_payload();
    return r;
  }
  ++c.api_calls;
  if (c.faults.drop > 0) {
    --c.faults.drop;
    drop = true;
    return {};
  }
  if (c.faults.delay_ms > 0) {
    const auto d = c.faults.delay_ms;
    lock.unlock();
    std::this_thread::sleep_for(milliseconds(d));
    lock.lock();
  }
  // Authentication, then leadership, as Drove's filters.
  bool read_write = true;
  if (!c.users.empty()) {
    const std::string auth(req[http::field::authorization]);
    bool ok = false;
    if (auth.rfind("Basic ", 0) == 0) {
      const std::string enc = auth.substr(6);
      std::string dec(beast::detail::base64::decoded_size(enc.size()), '\0');
      const auto n = beast::detail::base64::decode(dec.data(), enc.data(), enc.size());
      dec.resize(n.first);
      const auto colon = dec.find(':');
      if (colon != std::string::npos) {
        const auto u = c.users.find(dec.substr(0, colon));
        if (u != c.users.end() && u->second.password == dec.substr(colon + 1)) {
          ok = true;
          read_write = u->second.read_write;
        }
      }
    }
    if (!ok) {
      Response r{http::status::unauthorized, 11};
      r.set(http::field::content_type, "text/plain");
      r.set(http::field::www_authenticate, "Basic realm=\"realm\"");
      r.body() = "Credentials are required to access this resource.";
      r.prepare_payload();
      return r;
    }
  }
  if (index != c.leader) return reply(400, failure("This node is not the leader controller"));
  if (c.faults.status500 > 0) {
    --c.faults.status500;
    return reply(500,
                 failure("Unexpected Server error", json::object{{"failure", "injected fault"}}));
  }
  if (path == "/apis/v1/ping" && req.method() == http::verb::get)
    return reply(200, success("pong"));
  if (path == "/apis/v1/tasks/operations" && req.method() == http::verb::post) {
    if (!read_write) {
      Response r{http::status::forbidden, 11};
      r.set(http::field::content_type, "application/json");
      r.body() = R"({"code":403,"message":"HTTP 403 Forbidden"})";
      r.prepare_payload();
      return r;
    }
    boost::system::error_code ec;
    const json::value body = json::parse(req.body(), ec);
    if (ec || !body.is_object())
      return validation({ec ? ec.message() : "not an object"}, "JSON validation failure");
    const auto* type = body.as_object().if_contains("type");
    if (!type || !type->is_string())
      return validation({"missing type id property 'type'"}, "JSON validation failure");
    if (type->as_string() == "CREATE") return create(c, body.as_object());
    if (type->as_string() == "KILL") return kill(c, body.as_object());
    return validation({"Could not resolve type id '" + std::string(type->as_string()) + "'"},
                      "JSON validation failure");
  }
  static const std::regex instance("/apis/v1/tasks/([^/]+)/instances/([^/]+)");
  std::smatch m;
  if (std::regex_match(path, m, instance)) {
    const std::string app = m[1].str(), id = m[2].str();
    const auto it = c.tasks.find(app + "-" + id);
    if (req.method() == http::verb::get) {
      ++c.status_calls;
      if (it == c.tasks.end())
        return reply(200, failure("No such task instance " + app + "/" + id));
      const View v = view_of(it->second, Clock::now());
      if (!v.visible) return reply(200, failure("No such task instance " + app + "/" + id));
      return reply(200, success(task_info(it->second, v)));
    }
    if (req.method() == http::verb::delete_) {
      ++c.deletes;
      if (c.faults.delete_false > 0) {
        --c.faults.delete_false;
        return reply(200, success(json::object{{"deleted", false}}));
      }
      if (it != c.tasks.end()) c.tasks.erase(it);
      return reply(200, success(json::object{{"deleted", true}}));
    }
  }
  if (path == "/apis/v1/tasks" && req.method() == http::verb::get) {
    json::array list;
    const auto now = Clock::now();
    for (const auto& [k, t] : c.tasks) {
      const View v = view_of(t, now);
      if (v.visible && !v.terminal && v.state != "PROVISIONING_FAILED")
        list.push_back(task_info(t, v));
    }
    return reply(200, success(list));
  }
  Response r{http::status::not_found, 11};
  r.body() = "Not Found";
  r.prepare_payload();
  return r;
}

template <typename Stream>
void exchange(Controller& c, std::size_t index, Stream& socket) {
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  while (true) {
    http::request<http::string_body> req;
    http::read(socket, buffer, req, ec);
    if (ec) break;
    bool drop = false;
    Response res = handle(c, index, req, drop);
    if (drop) break;
    res.keep_alive(req.keep_alive());
    http::write(socket, res, ec);
    if (ec || !req.keep_alive()) break;
  }
}

void serve(Controller& c, std::size_t index, tcp::socket socket, asio::ssl::context* tls) {
  boost::system::error_code ec;
  if (tls != nullptr) {
    asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls);
    stream.handshake(asio::ssl::stream_base::server, ec);
    if (!ec) exchange(c, index, stream);
    stream.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    return;
  }
  exchange(c, index, socket);
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

}  // namespace

int main(int argc, char** argv) {
  Controller c;
  int ports = 1;
  unsigned short first_port = 0;
  std::string cert, key;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--ports")
      ports = std::stoi(value);
    else if (flag == "--port")
      first_port = static_cast<unsigned short>(std::stoi(value));
    else if (flag == "--cores")
      c.total_cores = std::stoll(value);
    else if (flag == "--memory-mb")
      c.total_memory = std::stoll(value);
    else if (flag == "--default-script")
      c.default_script = parse_script(value);
    else if (flag == "--tls-cert")
      cert = value;
    else if (flag == "--tls-key")
      key = value;
    else if (flag == "--user") {
      const auto a = value.find(':'), b = value.rfind(':');
      c.users[value.substr(0, a)] =
          User{value.substr(a + 1, b - a - 1), value.substr(b + 1) != "ro"};
    } else {
      std::cerr << "fake_drove: unknown option " << flag << "\n";
      return 2;
    }
  }
  std::unique_ptr<asio::ssl::context> tls;
  if (!cert.empty()) {
    tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls->use_certificate_chain_file(cert);
    tls->use_private_key_file(key, asio::ssl::context::pem);
  }
  asio::io_context ioc;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::string listening;
  for (int i = 0; i < ports; ++i) {
    const unsigned short p = first_port == 0 ? 0 : static_cast<unsigned short>(first_port + i);
    auto a =
        std::make_unique<tcp::acceptor>(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), p));
    listening += (i ? "," : "") + std::to_string(a->local_endpoint().port());
    acceptors.push_back(std::move(a));
  }
  std::cerr << "fake-drove listening ports=" << listening << std::endl;
  std::vector<std::thread> loops;
  for (std::size_t i = 0; i < acceptors.size(); ++i) {
    loops.emplace_back([&c, &acceptors, &tls, i] {
      while (true) {
        boost::system::error_code ec;
        tcp::socket s = acceptors[i]->accept(ec);
        if (ec) continue;
        std::thread(serve, std::ref(c), i, std::move(s), tls.get()).detach();
      }
    });
  }
  for (auto& t : loops)
    t.join();
}
