// DroveExecutor: the Executor seam on Drove's task API (see
// epoch/drove_executor.h). Each thread owns a keep-alive Beast connection
// to the current leader controller; calls are synchronous on those threads,
// with timeouts through an io_context per connection.
#include "epoch/drove_executor.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "../support/base64.h"
#include "../support/work_queue.h"

namespace epoch {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Endpoint {
  std::string url;  // as configured, without a trailing '/'
  std::string host, port;
  bool tls = false;
};

StatusOr<Endpoint> parse_endpoint(std::string url) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  const bool tls = url.rfind("https://", 0) == 0;
  if (!tls && url.rfind("http://", 0) != 0) {
    return invalid_argument("Drove endpoint '" + url + "': expected http(s)://host:port");
  }
  const std::string rest = url.substr(tls ? 8 : 7);
  if (rest.empty() || rest.find('/') != std::string::npos) {
    return invalid_argument("Drove endpoint '" + url + "': expected http(s)://host:port");
  }
  Endpoint e{url, rest, tls ? "443" : "80", tls};
  if (const auto colon = rest.rfind(':'); colon != std::string::npos) {
    e.host = rest.substr(0, colon);
    e.port = rest.substr(colon + 1);
    if (e.port.empty() || e.port.find_first_not_of("0123456789") != std::string::npos) {
      return invalid_argument("Drove endpoint '" + url + "': bad port");
    }
  }
  return e;
}

struct Reply {
  int status = 0;  // 0: no answer
  std::string body;
  std::string error;  // why there was no answer
  json::value json;   // the body, when it is JSON

  bool success() const {
    const auto* o = json.if_object();
    if (o == nullptr) return false;
    const auto* s = o->if_contains("status");
    return s != nullptr && s->is_string() && s->as_string() == "SUCCESS";
  }
  std::string message() const {
    const auto* o = json.if_object();
    if (o != nullptr) {
      if (const auto* m = o->if_contains("message"); m != nullptr && m->is_string())
        return std::string(m->as_string());
    }
    return body.substr(0, 200);
  }
  // Drove's validationErrors, joined.
  std::string validation_errors() const {
    std::string out;
    const auto* o = json.if_object();
    const auto* d = o != nullptr ? o->if_contains("data") : nullptr;
    const auto* v =
        d != nullptr && d->is_object() ? d->as_object().if_contains("validationErrors") : nullptr;
    if (v != nullptr && v->is_array()) {
      for (const auto& e : v->as_array()) {
        if (!e.is_string()) continue;
        if (!out.empty()) out += "; ";
        out += e.as_string();
      }
    }
    return out;
  }
};

// One keep-alive connection, used by one thread at a time.
class Connection {
 public:
  Connection(const DroveExecutorOptions& o, asio::ssl::context& tls) : options_(o), tls_ctx_(tls) {}

  Reply call(const Endpoint& ep, http::verb verb, const std::string& target,
             const std::string& body) {
    Reply r = attempt(ep, verb, target, body);
    // A kept-alive connection the server closed meanwhile: once more, fresh.
    if (r.status == 0 && reused_) {
      close();
      r = attempt(ep, verb, target, body);
    }
    return r;
  }

  void close() {
    if (tls_) {
      beast::error_code ec;
      beast::get_lowest_layer(*tls_).socket().shutdown(tcp::socket::shutdown_both, ec);
      beast::get_lowest_layer(*tls_).close();
    }
    if (stream_) {
      beast::error_code ec;
      stream_->socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_->close();
    }
    tls_.reset();
    stream_.reset();
    connected_to_.clear();
  }

 private:
  Reply attempt(const Endpoint& ep, http::verb verb, const std::string& target,
                const std::string& body) {
    Reply r;
    reused_ = (stream_ || tls_) && connected_to_ == ep.url;
    if (!reused_) {
      close();
      if (ep.tls) {
        tls_.emplace(ioc_, tls_ctx_);
      } else {
        stream_.emplace(ioc_);
      }
      beast::tcp_stream& socket = ep.tls ? beast::get_lowest_layer(*tls_) : *stream_;
      tcp::resolver resolver(ioc_);
      beast::error_code ec;
      const auto addresses = resolver.resolve(ep.host, ep.port, ec);
      if (ec) {
        r.error = "cannot resolve " + ep.host + ": " + ec.message();
        close();
        return r;
      }
      socket.expires_after(options_.connect_timeout);
      socket.async_connect(addresses, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
      run();
      if (!ec && ep.tls) {
        // SNI, and the certificate must name the host.
        SSL_set_tlsext_host_name(tls_->native_handle(), ep.host.c_str());
        if (!options_.tls_insecure) {
          tls_->set_verify_callback(asio::ssl::host_name_verification(ep.host));
        }
        tls_->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
        run();
        if (ec) {
          r.error = "TLS handshake with " + ep.url + " failed: " + tls_error(ec);
          close();
          return r;
        }
      }
      if (ec) {
        r.error = "cannot connect to " + ep.url + ": " + describe(ec);
        close();
        return r;
      }
      connected_to_ = ep.url;
    }
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, ep.host + ":" + ep.port);
    req.set(http::field::accept, "application/json");
    if (!options_.username.empty()) {
      req.set(http::field::authorization,
              "Basic " + base64(options_.username + ":" + options_.password));
    }
    if (verb == http::verb::post || verb == http::verb::put) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    beast::error_code ec;
    http::response<http::string_body> res;
    const auto exchange = [&](auto& stream) {
      beast::get_lowest_layer(stream).expires_after(options_.operation_timeout);
      http::async_write(stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
      run();
      if (!ec) {
        http::async_read(stream, buffer_, res, [&](beast::error_code e, std::size_t) { ec = e; });
        run();
      }
    };
    if (tls_) {
      exchange(*tls_);
    } else {
      exchange(*stream_);
    }
    if (ec) {
      r.error = "no answer from " + ep.url + ": " + describe(ec);
      close();
      return r;
    }
    r.status = static_cast<int>(res.result_int());
    r.body = std::move(res.body());
    beast::error_code jec;
    r.json = json::parse(r.body, jec);
    if (jec) r.json = nullptr;
    if (!res.keep_alive()) close();
    return r;
  }

  static std::string describe(const beast::error_code& ec) {
    return ec == beast::error::timeout ? std::string("timed out") : ec.message();
  }

  static std::string tls_error(const beast::error_code& ec) {
    if (ec.category() == asio::error::get_ssl_category()) {
      char buf[256];
      ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof buf);
      return buf;
    }
    return describe(ec);
  }

  void run() {
    ioc_.restart();
    ioc_.run();
  }

  const DroveExecutorOptions& options_;
  asio::ssl::context& tls_ctx_;
  asio::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  std::string connected_to_;
  bool reused_ = false;
};

struct Tracked {
  TaskLaunch launch;
  TaskObserver observer;
  bool accepted = false;  // Drove has it (created, or it already existed)
  // Killed before Drove accepted it: the create loop stops, or kills what
  // its last CREATE made; each kill's `done` is answered then.
  bool cancelled = false;
  std::vector<std::function<void(Status)>> kill_dones;
  std::optional<TaskUpdate> last;
  std::uint64_t generation = 0;
  // The create loop: one CREATE per try on a worker; between tries no
  // worker waits (the next try is queued with later()).
  Steady::time_point create_started{}, give_up{};
  std::chrono::milliseconds create_pause{0};  // before the next try; doubles
  bool maybe_created = false;                 // a try whose outcome Drove did not tell
  bool between_tries = false;                 // a kill now ends the launch at once
};

bool same(const TaskUpdate& a, const TaskUpdate& b) {
  return a.state == b.state && a.upstream_id == b.upstream_id &&
         a.error_message == b.error_message && a.exit_code == b.exit_code &&
         a.not_found == b.not_found;
}

// Drove's TaskInfo → our TaskUpdate (drove-reference.md §3, §6, fixed).
TaskUpdate map_task(const json::object& info, const std::string& task_id) {
  TaskUpdate u;
  u.upstream_id = task_id;
  const auto str = [&](const char* k) -> std::string {
    const auto* v = info.if_contains(k);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const std::string state = str("state");
  u.error_message = str("errorMessage");
  std::optional<std::string> result;
  if (const auto* tr = info.if_contains("taskResult"); tr != nullptr && tr->is_object()) {
    if (const auto* s = tr->as_object().if_contains("status"); s && s->is_string())
      result = std::string(s->as_string());
    if (const auto* e = tr->as_object().if_contains("exitCode");
        e && e->is_int64() && e->as_int64() >= 0)
      u.exit_code = static_cast<int>(e->as_int64());
  }
  if (state == "PENDING" || state == "PROVISIONING" || state == "STARTING") {
    u.state = TaskState::kStarting;
  } else if (state == "RUNNING" || state == "RUN_COMPLETED" || state == "DEPROVISIONING") {
    u.state = TaskState::kRunning;
    u.exit_code.reset();
  } else if (state == "PROVISIONING_FAILED" || state == "RUN_FAILED" || state == "LOST") {
    u.state = TaskState::kFailed;
    if (u.error_message.empty()) u.error_message = "Drove reports the task " + state;
  } else if (state == "STOPPED") {
    if (!result) {
      u.state = TaskState::kFailed;  // Epoch took this for success (an image pull failure)
      if (u.error_message.empty()) u.error_message = "the task stopped without a result";
    } else if (*result == "SUCCESSFUL") {
      u.state = TaskState::kCompleted;
    } else if (*result == "CANCELLED") {
      u.state = TaskState::kCancelled;
    } else {
      u.state = TaskState::kFailed;
      if (u.error_message.empty()) u.error_message = "Drove task result " + *result;
    }
  } else {
    u.state = TaskState::kUnknown;
    if (u.error_message.empty()) u.error_message = "Drove reports state " + state;
  }
  return u;
}

class DroveExecutor final : public Executor {
 public:
  DroveExecutor(DroveExecutorOptions options, std::vector<Endpoint> endpoints,
                std::unique_ptr<asio::ssl::context> tls)
      : options_(std::move(options)), endpoints_(std::move(endpoints)), tls_(std::move(tls)) {
    poller_ = std::thread([this] { poll_loop(); });
  }

  ~DroveExecutor() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    poll_cv_.notify_all();
    jobs_.stop();
    poller_.join();
  }

  std::string_view name() const noexcept override { return "drove"; }

  void launch(const TaskLaunch& l, TaskObserver observer) override {
    if (!std::holds_alternative<ContainerTask>(l.task.spec)) {
      TaskUpdate u;
      u.state = TaskState::kFailed;
      u.upstream_id = "UNKNOWN";
      u.error_message = "only CONTAINER_EXECUTION tasks run on Drove";
      enqueue([observer = std::move(observer), u](Connection&) { observer(u); });
      return;
    }
    std::uint64_t gen;
    {
      std::lock_guard lock(mu_);
      Tracked& t = tracked_[l.task_id];
      t.launch = l;
      t.observer = std::move(observer);
      t.last.reset();
      t.accepted = false;  // a kill asked for before (cancelled, kill_dones) still holds
      t.create_started = Steady::now();
      t.give_up = t.create_started + options_.launch_give_up;
      t.create_pause = options_.retry_backoff;
      t.maybe_created = false;
      t.between_tries = false;
      gen = t.generation = ++generation_;
    }
    enqueue([this, id = l.task_id, gen](Connection& c) { create(c, id, gen); });
  }

  // A kill still waiting on the create loop is answered (on a worker): the
  // loop stops with the launch, so that kill was not carried out.
  void detach(const std::string& task_id) override {
    std::vector<std::function<void(Status)>> dones;
    {
      std::lock_guard lock(mu_);
      const auto it = tracked_.find(task_id);
      if (it == tracked_.end()) return;
      dones = std::move(it->second.kill_dones);
      tracked_.erase(it);
    }
    if (dones.empty()) return;
    enqueue([task_id, dones = std::move(dones)](Connection&) {
      for (const auto& done : dones)
        done(unavailable("task " + task_id +
                         " was detached before Drove accepted it; the kill was not carried out"));
    });
  }

  void kill(const std::string& task_id, std::function<void(Status)> done) override {
    {
      // A task whose CREATE Drove has not accepted yet: its create loop
      // stops (or kills what it made) and answers — at once when it is
      // between two tries.
      std::lock_guard lock(mu_);
      if (const auto it = tracked_.find(task_id); it != tracked_.end() && !it->second.accepted) {
        Tracked& t = it->second;
        t.cancelled = true;
        t.kill_dones.push_back(std::move(done));
        if (t.between_tries) {
          t.between_tries = false;
          enqueue([this, task_id, gen = t.generation](Connection& c) { create(c, task_id, gen); });
        }
        return;
      }
    }
    enqueue(
        [this, task_id, done = std::move(done)](Connection& c) { done(send_kill(c, task_id)); });
  }

  void cleanup(const std::string& task_id, std::function<void(Status)> done) override {
    enqueue([this, task_id, done = std::move(done)](Connection& c) mutable {
      delete_task(c, task_id, 1, std::move(done));
    });
  }

  StatusOr<TaskLogs> logs(const std::string& task_id) override {
    TaskLogs l;
    std::lock_guard lock(leader_mu_);
    const Endpoint& ep = endpoints_[leader_.value_or(0)];
    l.url = ep.url + "/tasks/" + options_.app_name + "/" + task_id;
    return l;
  }

 private:
  using Job = std::function<void(Connection&)>;

  // Runs `job` on a worker after `delay` (the poller hands it over).
  void later(milliseconds delay, Job job) {
    {
      std::lock_guard lock(mu_);
      later_.emplace(Steady::now() + delay, std::move(job));
    }
    poll_cv_.notify_one();
  }

  void enqueue(Job job) { jobs_.push(std::move(job)); }

  std::string instance_path(const std::string& task_id) const {
    return "/apis/v1/tasks/" + options_.app_name + "/instances/" + task_id;
  }

  static std::string failure_text(const Reply& r) {
    if (r.status == 0) return r.error;
    return "[" + std::to_string(r.status) + "] " + r.body.substr(0, 300);
  }

  // DELETE of a task's metadata. Drove answering `deleted: false` (or
  // failing) is tried again kCleanupTries times, kCleanupPause apart and
  // doubling, off the worker threads; then `done` hears why.
  static constexpr int kCleanupTries = 3;
  static constexpr milliseconds kCleanupPause{2000};

  void delete_task(Connection& c, const std::string& task_id, int attempt,
                   std::function<void(Status)> done) {
    const Reply r = call(c, http::verb::delete_, instance_path(task_id), "");
    const auto* o = r.json.if_object();
    const auto* d = o != nullptr ? o->if_contains("data") : nullptr;
    const auto* deleted =
        d != nullptr && d->is_object() ? d->as_object().if_contains("deleted") : nullptr;
    const bool answered =
        r.status == 200 && r.success() && deleted != nullptr && deleted->is_bool();
    if (answered && deleted->as_bool()) return done(ok_status());
    if (attempt < kCleanupTries) {
      return later(kCleanupPause * (1 << (attempt - 1)),
                   [this, task_id, attempt, done = std::move(done)](Connection& c2) mutable {
                     delete_task(c2, task_id, attempt + 1, std::move(done));
                   });
    }
    done(unavailable("Could not delete Drove task " + options_.app_name + "/" + task_id + " in " +
                     std::to_string(attempt) + " tries: " +
                     (answered ? std::string("Drove answered deleted: false") : failure_text(r))));
  }

  Status send_kill(Connection& c, const std::string& task_id) {
    json::object op{{"type", "KILL"},
                    {"sourceAppName", options_.app_name},
                    {"taskId", task_id},
                    {"opSpec", op_spec_}};
    const Reply r = call(c, http::verb::post, "/apis/v1/tasks/operations", json::serialize(op));
    if (r.status == 200 && r.success()) return ok_status();
    if (r.status == 0 || r.status >= 500) {
      return unavailable("Could not send kill command to drove: " + failure_text(r));
    }
    return failed_precondition("Drove refused the kill: " + refusal_text(r));
  }

  // What a 4xx answer says, in words even when Drove's body has none.
  static std::string refusal_text(const Reply& r) {
    if (r.status == 401) {
      return "Drove did not accept epochd's credentials (401 Unauthorized; check the Drove "
             "username and password)";
    }
    if (r.status == 403) {
      return "the Drove user may not operate tasks (403 Forbidden; it needs write access)";
    }
    std::string why = r.validation_errors();
    if (why.empty()) why = r.message();
    if (why.empty()) why = "no reason given";
    return why + " [" + std::to_string(r.status) + "]";
  }

  // ---- leader discovery ------------------------------------------------------------

  // The leader's index; pings the endpoints when none is known (`why`
  // then says what each answered).
  std::optional<std::size_t> leader(Connection& c, std::string* why = nullptr) {
    if (endpoints_.size() == 1) return 0;
    {
      std::lock_guard lock(leader_mu_);
      if (leader_) return leader_;
    }
    for (std::size_t i = 0; i < endpoints_.size(); ++i) {
      const Reply r = c.call(endpoints_[i], http::verb::get, "/apis/v1/ping", "");
      if (r.status == 200) {
        std::lock_guard lock(leader_mu_);
        leader_ = i;
        return i;
      }
      if (why != nullptr) {
        *why += (i == 0 ? "" : "; ") + endpoints_[i].url + ": " +
                (r.status == 0 ? r.error : "[" + std::to_string(r.status) + "] " + r.message());
      }
    }
    return std::nullopt;
  }

  void forget_leader(std::size_t i) {
    std::lock_guard lock(leader_mu_);
    if (leader_ == i) leader_.reset();
  }

  // One call to the leader. `retry` tells whether another try may do
  // better: a transport error, a 5xx, "not the leader" (the leader is then
  // looked for again).
  Reply call_leader(Connection& c, http::verb verb, const std::string& target,
                    const std::string& body, bool& retry) {
    std::string why;
    const auto l = leader(c, &why);
    retry = true;
    if (!l) {
      Reply r;
      r.error =
          "no Drove leader among " + std::to_string(endpoints_.size()) + " endpoints (" + why + ")";
      return r;
    }
    Reply r = c.call(endpoints_[*l], verb, target, body);
    const bool not_leader =
        r.status == 400 && r.message() == "This node is not the leader controller";
    if (r.status == 0 || not_leader) forget_leader(*l);
    retry = r.status == 0 || r.status >= 500 || not_leader;
    return r;
  }

  // A call to the leader, tried max_attempts times with backoff (kill,
  // delete: short calls whose caller waits for the answer).
  Reply call(Connection& c, http::verb verb, const std::string& target, const std::string& body) {
    Reply r;
    milliseconds backoff = options_.retry_backoff;
    for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
      bool retry = false;
      r = call_leader(c, verb, target, body, retry);
      if (!retry || attempt == options_.max_attempts || stopping()) break;
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
    return r;
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  // ---- create ----------------------------------------------------------------------

  std::string create_body(const TaskLaunch& l) const {
    const auto& c = std::get<ContainerTask>(l.task.spec);
    json::object spec;
    spec["sourceAppName"] = options_.app_name;
    spec["taskId"] = l.task_id;
    spec["executable"] = {{"type", c.executable.type.empty() ? "DOCKER" : c.executable.type},
                          {"url", c.executable.url},
                          {"dockerPullTimeout", to_string(c.executable.docker_pull_timeout)}};
    json::array volumes;
    for (const Volume& v : c.volumes.value_or(std::vector<Volume>{})) {
      volumes.push_back(
          {{"pathInContainer", v.path_in_container},
           {"pathOnHost", v.path_on_host},
           {"mode", v.mode == Volume::Mode::kReadWrite ? "READ_WRITE" : "READ_ONLY"}});
    }
    spec["volumes"] = std::move(volumes);
    const auto raw = [](const Boxed<RawJson>& b, json::value fallback) -> json::value {
      if (!b.has_value()) return fallback;
      beast::error_code ec;
      json::value v = json::parse(b->text, ec);
      return ec ? fallback : v;
    };
    spec["configs"] = raw(c.configs, json::array{});
    spec["logging"] = raw(
        c.logging,
        json::object{{"type", "LOCAL"}, {"maxSize", "10m"}, {"maxFiles", 3}, {"compress", true}});
    json::array resources;
    for (const Resource& r : c.resources) {
      if (r.type == Resource::Type::kCpu) {
        resources.push_back({{"type", "CPU"}, {"count", r.amount}});
      } else {
        resources.push_back({{"type", "MEMORY"}, {"sizeInMB", r.amount}});
      }
    }
    spec["resources"] = std::move(resources);
    spec["placementPolicy"] = raw(c.placement_policy, json::object{{"type", "ANY"}});
    json::object tags;
    for (const auto& [k, v] : c.tags.value_or(std::map<std::string, std::string>{}))
      tags[k] = v;
    spec["tags"] = std::move(tags);
    json::object env;
    for (const auto& [k, v] : c.env.value_or(std::map<std::string, std::string>{}))
      env[k] = v;
    for (const auto& [k, v] : epoch_task_env(l))
      env[k] = v;
    spec["env"] = std::move(env);
    if (c.args) {
      json::array args;
      for (const auto& a : *c.args)
        args.emplace_back(a);
      spec["args"] = std::move(args);
    }
    spec["devices"] = json::array{};
    return json::serialize(json::object{{"type", "CREATE"}, {"spec", spec}, {"opSpec", op_spec_}});
  }

  // One try of a task's CREATE in Drove (on a worker). Transport errors,
  // 5xx and "not the leader" are tried again until `launch_give_up`, after
  // a pause that doubles (to 5 s) and holds no worker: the next try is
  // queued with later(). A kill stops it (see kill()).
  void create(Connection& conn, const std::string& task_id, std::uint64_t gen) {
    std::string body;
    bool cancelled = false, maybe_created = false;
    {
      std::lock_guard lock(mu_);
      Tracked* t = current(task_id, gen);
      if (t == nullptr) return;  // detached, finished or launched again
      t->between_tries = false;
      cancelled = t->cancelled;
      maybe_created = t->maybe_created;
      if (!cancelled) body = create_body(t->launch);
    }
    if (cancelled) return cancel_launch(conn, task_id, gen, maybe_created);
    bool retry = false;
    const Reply r = call_leader(conn, http::verb::post, "/apis/v1/tasks/operations", body, retry);
    TaskUpdate u;
    u.upstream_id = task_id;
    const bool exists =
        r.status == 400 && r.validation_errors().find("Task already exists") != std::string::npos;
    if ((r.status == 200 && r.success()) || exists) {
      // (cancel_launch and kill_created do nothing for a launch that is gone.)
      if (stop_creating(task_id, gen)) return kill_created(conn, task_id, gen);
      if (exists) return accepted(task_id, gen, std::nullopt);  // attach: the poll tells
      u.state = TaskState::kStarting;
      return accepted(task_id, gen, u);
    }
    const auto now = Steady::now();
    Steady::time_point started, give_up;
    milliseconds pause{0};
    bool again = false;  // another try comes
    {
      std::lock_guard lock(mu_);
      Tracked* t = current(task_id, gen);
      if (t == nullptr) return;
      if (r.status == 0 || r.status >= 500) t->maybe_created = true;
      cancelled = t->cancelled;
      maybe_created = t->maybe_created;
      started = t->create_started;
      give_up = t->give_up;
      pause = t->create_pause;
      t->create_pause = std::min(t->create_pause * 2, milliseconds(5000));
      // From here a kill ends the launch at once (see kill()).
      again = t->between_tries = !cancelled && retry && now < give_up && !stopping_;
    }
    if (cancelled) return cancel_launch(conn, task_id, gen, maybe_created);
    if (!retry) {
      u.state = TaskState::kFailed;
      u.upstream_id = "UNKNOWN";
      u.error_message = "Drove refused the task: " + refusal_text(r);
      return finish(task_id, gen, u);
    }
    if (!again) {
      const auto tried = std::chrono::duration_cast<milliseconds>(now - started).count();
      u.state = TaskState::kFailed;
      u.upstream_id = "UNKNOWN";
      u.error_message = "Drove did not accept the task in " + std::to_string(tried / 1000) + "." +
                        std::to_string(tried % 1000 / 100) + " s of trying (launch give-up " +
                        std::to_string(options_.launch_give_up.count() / 1000) +
                        " s): " + failure_text(r);
      return finish(task_id, gen, u);
    }
    // The last try is made at the give-up time, not a backoff before it.
    later(
        std::chrono::duration_cast<milliseconds>(std::min<Steady::duration>(pause, give_up - now)),
        [this, task_id, gen](Connection& c) { create(c, task_id, gen); });
  }

  // REQUIRES: mu_ held. This launch's entry, or null once it was detached,
  // finished or launched again.
  Tracked* current(const std::string& task_id, std::uint64_t gen) {
    const auto it = tracked_.find(task_id);
    return it != tracked_.end() && it->second.generation == gen ? &it->second : nullptr;
  }

  // Whether a create loop should stop: its launch is gone or was killed.
  bool stop_creating(const std::string& task_id, std::uint64_t gen) {
    std::lock_guard lock(mu_);
    const Tracked* t = current(task_id, gen);
    return t == nullptr || t->cancelled;
  }

  // Killed before Drove accepted it: the task ends CANCELLED. When a CREATE
  // may have reached Drove unanswered, a KILL follows (a "does not exist"
  // answer to it is the expected one).
  void cancel_launch(Connection& conn, const std::string& task_id, std::uint64_t gen,
                     bool maybe_created) {
    std::vector<std::function<void(Status)>> dones;
    {
      std::lock_guard lock(mu_);
      Tracked* t = current(task_id, gen);
      if (t == nullptr) return;
      dones = std::move(t->kill_dones);
    }
    TaskUpdate u;
    u.state = TaskState::kCancelled;
    u.upstream_id = "UNKNOWN";
    u.error_message = "killed before Drove accepted the task";
    finish(task_id, gen, u);
    for (auto& done : dones)
      done(ok_status());
    if (maybe_created) (void)send_kill(conn, task_id);  // "does not exist" is expected
  }

  // Killed while the CREATE that made it was in flight: track it (the poll
  // reports its end) and kill it.
  void kill_created(Connection& conn, const std::string& task_id, std::uint64_t gen) {
    std::vector<std::function<void(Status)>> dones;
    {
      std::lock_guard lock(mu_);
      Tracked* t = current(task_id, gen);
      if (t == nullptr) return;
      dones = std::move(t->kill_dones);
      t->accepted = true;
      poll_soon_ = true;
    }
    poll_cv_.notify_one();
    const Status s = send_kill(conn, task_id);
    for (auto& done : dones)
      done(s);
  }

  void accepted(const std::string& task_id, std::uint64_t gen, std::optional<TaskUpdate> u) {
    {
      std::lock_guard lock(mu_);
      Tracked* t = current(task_id, gen);
      if (t == nullptr) return;
      t->accepted = true;
      poll_soon_ = true;
    }
    poll_cv_.notify_one();
    if (u) report(task_id, gen, *u);
  }

  // Reports a terminal update and stops tracking.
  // A kill still waiting on the create loop (it came after the loop's last
  // look) is answered: the task ended first.
  void finish(const std::string& task_id, std::uint64_t gen, const TaskUpdate& u) {
    TaskObserver observer;
    std::vector<std::function<void(Status)>> dones;
    {
      std::lock_guard lock(mu_);
      Tracked* t = current(task_id, gen);
      if (t == nullptr) return;
      observer = std::move(t->observer);
      dones = std::move(t->kill_dones);
      tracked_.erase(task_id);
    }
    if (observer) observer(u);
    for (auto& done : dones)
      done(failed_precondition("task " + task_id + " ended (" + std::string(to_string(u.state)) +
                               ") before it could be killed"));
  }

  // Reports `u` if it differs from the last report (terminal: finish()).
  void report(const std::string& task_id, std::uint64_t gen, const TaskUpdate& u) {
    if (!u.not_found && is_terminal(u.state)) return finish(task_id, gen, u);
    TaskObserver observer;
    {
      std::lock_guard lock(mu_);
      Tracked* t = current(task_id, gen);
      if (t == nullptr) return;
      if (t->last && same(*t->last, u)) return;
      t->last = u;
      observer = t->observer;
    }
    if (observer) observer(u);
  }

  // ---- polling ---------------------------------------------------------------------

  void poll_loop() {
    Connection conn(options_, *tls_);
    auto next_leader_check = Steady::now();
    auto next_poll = Steady::now() + options_.poll_interval;
    while (true) {
      std::vector<std::pair<std::string, std::uint64_t>> live;
      {
        std::unique_lock lock(mu_);
        const auto deadline = next_poll;
        const auto due = [&] { return !later_.empty() && later_.begin()->first <= Steady::now(); };
        while (!stopping_ && !poll_soon_ && !due() && Steady::now() < deadline) {
          poll_cv_.wait_until(
              lock, later_.empty() ? deadline : std::min(deadline, later_.begin()->first));
        }
        if (stopping_) return;
        while (due()) {
          jobs_.push(std::move(later_.begin()->second));
          later_.erase(later_.begin());
        }
        if (!poll_soon_ && Steady::now() < deadline) continue;
        poll_soon_ = false;
        next_poll = Steady::now() + options_.poll_interval;
        for (const auto& [id, t] : tracked_)
          if (t.accepted) live.emplace_back(id, t.generation);
      }
      if (endpoints_.size() > 1 && Steady::now() >= next_leader_check) {
        check_leader(conn);
        next_leader_check = Steady::now() + options_.leader_check_interval;
      }
      for (const auto& [id, gen] : live) {
        if (stopping()) return;
        poll_one(conn, id, gen);
      }
    }
  }

  // Pings the known leader; a leader that stopped answering 200 is
  // forgotten, so the next call looks for the new one.
  void check_leader(Connection& conn) {
    std::optional<std::size_t> l;
    {
      std::lock_guard lock(leader_mu_);
      l = leader_;
    }
    if (!l) {
      leader(conn);
      return;
    }
    if (conn.call(endpoints_[*l], http::verb::get, "/apis/v1/ping", "").status != 200) {
      forget_leader(*l);
      leader(conn);
    }
  }

  void poll_one(Connection& conn, const std::string& task_id, std::uint64_t gen) {
    const Reply r = call(conn, http::verb::get, instance_path(task_id), "");
    TaskUpdate u;
    u.upstream_id = task_id;
    if (r.status == 200 && r.success()) {
      const auto* data = r.json.as_object().if_contains("data");
      if (data != nullptr && data->is_object())
        return report(task_id, gen, map_task(data->as_object(), task_id));
    }
    if (r.status == 200 && r.message().rfind("No such task instance", 0) == 0) {
      u.not_found = true;
      u.state = TaskState::kUnknown;
      return report(task_id, gen, u);
    }
    // Drove unreachable or confused: say so, keep polling.
    u.state = TaskState::kUnknown;
    u.error_message = "Status could not be ascertained: " + failure_text(r);
    report(task_id, gen, u);
  }

  DroveExecutorOptions options_;
  std::vector<Endpoint> endpoints_;
  std::unique_ptr<asio::ssl::context> tls_;  // TLS 1.2+, verifying peers
  json::value op_spec_ = json::parse(options_.cluster_op_spec);

  std::mutex leader_mu_;
  std::optional<std::size_t> leader_;

  std::mutex mu_;
  std::map<std::string, Tracked> tracked_;
  std::uint64_t generation_ = 0;
  std::multimap<Steady::time_point, Job> later_;  // cleanup retries, by when
  std::condition_variable poll_cv_;
  bool poll_soon_ = false;
  bool stopping_ = false;
  // The workers, each with its own connection; jobs not yet taken when the
  // executor goes are dropped.
  WorkQueue<Job> jobs_{{.threads = options_.workers, .on_stop = OnStop::kDrop},
                       [this]() -> WorkQueue<Job>::Handler {
                         auto conn = std::make_shared<Connection>(options_, *tls_);
                         return [conn](Job& job) { job(*conn); };
                       }};
  std::thread poller_;
};

}  // namespace

StatusOr<std::unique_ptr<Executor>> make_drove_executor(DroveExecutorOptions options) {
  if (options.endpoints.empty()) return invalid_argument("drove: no controller endpoints");
  static const auto valid = [](const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
  };
  if (!valid(options.app_name)) {
    return invalid_argument("drove: app name '" + options.app_name +
                            "' must be letters, digits, '-' or '_' (Drove's sourceAppName; "
                            "set it or DROVE_APP_NAME)");
  }
  beast::error_code ec;
  const json::value op = json::parse(options.cluster_op_spec, ec);
  if (ec || !op.is_object() || !op.as_object().contains("timeout")) {
    return invalid_argument("drove: cluster op spec must be a JSON object with a timeout: " +
                            options.cluster_op_spec);
  }
  if (options.workers < 1 || options.max_attempts < 1 || options.poll_interval.count() <= 0) {
    return invalid_argument("drove: workers, attempts and poll interval must be positive");
  }
  std::vector<Endpoint> endpoints;
  for (const std::string& e : options.endpoints) {
    EPOCH_ASSIGN_OR_RETURN(auto ep, parse_endpoint(e));
    endpoints.push_back(std::move(ep));
  }
  auto tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  const bool any_tls =
      std::any_of(endpoints.begin(), endpoints.end(), [](const Endpoint& e) { return e.tls; });
  if (!any_tls && options.tls_ca_file.empty()) {
    // Plain HTTP: the context is never used, so the system's CA bundle is
    // not read (that costs some 20 ms of parsing). A CA file given is
    // still checked.
  } else if (options.tls_insecure) {
    tls->set_verify_mode(asio::ssl::verify_none);
  } else {
    tls->set_verify_mode(asio::ssl::verify_peer);
    if (options.tls_ca_file.empty()) {
      tls->set_default_verify_paths(ec);
    } else {
      tls->load_verify_file(options.tls_ca_file, ec);
    }
    if (ec) {
      return invalid_argument(
          "drove: cannot load CA certificates" +
          (options.tls_ca_file.empty() ? std::string() : " from '" + options.tls_ca_file + "'") +
          ": " + ec.message());
    }
  }
  return std::unique_ptr<Executor>(
      std::make_unique<DroveExecutor>(std::move(options), std::move(endpoints), std::move(tls)));
}

}  // namespace epoch
