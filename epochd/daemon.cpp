#include "daemon.h"

#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/url/parse.hpp>
#include <cstdlib>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "api.h"
#include "audit.h"
#include "auth.h"
#include "epoch/clock.h"
#include "epoch/drove_executor.h"
#include "epoch/leader.h"
#include "epoch/local_executor.h"
#include "epoch/scheduler.h"
#include "epoch/sqlite_store.h"
#include "epoch/zookeeper.h"
#include "front_door.h"
#include "http_server.h"
#include "jwt.h"
#include "leader_router.h"
#include "metrics.h"

namespace epochd {

namespace asio = boost::asio;

namespace {

epoch::StatusOr<std::unique_ptr<epoch::Store>> make_store(
    const Config& c, const std::shared_ptr<epoch::ZkConnection>& zk) {
  switch (c.store) {
    case StoreKind::kMemory:
      return epoch::make_memory_store();
    case StoreKind::kZookeeper:
      return epoch::make_zk_store(zk);
    case StoreKind::kSqlite:
      break;
  }
  return epoch::make_sqlite_store(c.sqlite);
}

epoch::StatusOr<std::unique_ptr<epoch::Executor>> make_executor(const Config& c) {
  if (c.executor == ExecutorKind::kLocal) return epoch::make_local_executor(c.local);
  return epoch::make_drove_executor(c.drove);
}

// Logs this node's leadership changes, forwarding everything else.
class LoggingElector final : public epoch::LeaderElector {
 public:
  LoggingElector(std::unique_ptr<epoch::LeaderElector> inner, Logger& log, std::string url)
      : inner_(std::move(inner)), log_(log), url_(std::move(url)) {}
  void start(std::function<void()> on_elected, std::function<void()> on_revoked) override {
    inner_->start(
        [this, on_elected = std::move(on_elected)] {
          log_.info("elected leader", {{"url", url_}});
          on_elected();
        },
        [this, on_revoked = std::move(on_revoked)] {
          log_.warn("leadership lost: scheduling stopped", {{"url", url_}});
          on_revoked();
        });
  }
  void stop() override { inner_->stop(); }
  bool is_leader() const override { return inner_->is_leader(); }
  std::optional<std::string> leader() const override { return inner_->leader(); }
  std::optional<epoch::FencingToken> fencing_token() const override {
    return inner_->fencing_token();
  }

 private:
  std::unique_ptr<epoch::LeaderElector> inner_;
  Logger& log_;
  std::string url_;
};

}  // namespace

int run_daemon(const Config& config, Logger& log, const DaemonControl& control) {
  std::shared_ptr<epoch::ZkConnection> zk;
  if (config.store == StoreKind::kZookeeper) {
    auto c = epoch::connect_zookeeper(config.zk);
    if (!c.ok()) {
      log.error("cannot use ZooKeeper", {{"error", c.status().message()}});
      return 1;
    }
    zk = *c;
  }
  auto store = make_store(config, zk);
  if (!store.ok()) {
    log.error("cannot open the store",
              {{"store", to_string(config.store)}, {"error", store.status().message()}});
    return 1;
  }
  auto base_executor = make_executor(config);
  if (!base_executor.ok()) {
    log.error("cannot start the executor", {{"executor", to_string(config.executor)},
                                            {"error", base_executor.status().message()}});
    return 1;
  }
  Metrics metrics;
  auto executor = make_instrumented_executor(**base_executor, metrics, log);
  auto event_log = make_event_logger(log);
  epoch::FanoutSink events;
  events.add(metrics.sink());
  events.add(*event_log);
  // A notification's outcome, for either channel: counted, and logged when it failed.
  const auto notified = [&metrics, &log](std::string channel, std::string_view target_field) {
    return [&metrics, &log, channel, target_field](const std::string& target, bool delivered,
                                                   const std::string& why) {
      metrics.notification(channel, delivered);
      if (!delivered) {
        log.warn(channel + " notification failed", {{target_field, target}, {"error", why}});
      }
    };
  };
  // Webhooks always: topologies may name their own URLs.
  epoch::WebhookOptions wo = config.webhook;
  wo.on_result = notified("webhook", "url");
  auto webhooks = epoch::make_webhook_sink(std::move(wo));
  if (!webhooks.ok()) {
    log.error("cannot send webhooks", {{"error", webhooks.status().message()}});
    return 1;
  }
  events.add(**webhooks);
  std::unique_ptr<epoch::EventSink> mail;
  if (config.mail) {
    epoch::MailOptions mo = *config.mail;
    mo.on_result = notified("mail", "to");
    auto sink = epoch::make_mail_sink(std::move(mo));
    if (!sink.ok()) {
      log.error("cannot send mail", {{"error", sink.status().message()}});
      return 1;
    }
    mail = std::move(*sink);
    events.add(*mail);
  }
  auto clock = epoch::make_system_clock();

  asio::io_context ioc(config.io_threads);
  auto work = asio::make_work_guard(ioc);

  // The elector needs the advertised URL, which needs the bound port, so
  // the server is bound before the API exists. No request is handled before
  // it does: nothing runs the io_context until the threads below start.
  FrontDoor door;
  door.metrics = &metrics;
  door.auth_mode = config.auth_mode;
  AuthOptions auth_options;
  auth_options.mode = config.auth_mode;
  auth_options.users = config.auth_users;
  auth_options.open_health = config.auth_open_health;
  auth_options.workers = config.auth_workers;
  auth_options.failures_per_minute = config.auth_failures_per_minute;
  // Password checks end on the auth workers; the request goes on on an
  // I/O thread.
  auth_options.deliver = [&ioc](std::function<void()> f) { asio::post(ioc, std::move(f)); };
  // A throttled client's 429 waits on a timer (one per connection at most).
  auth_options.deliver_after = [&ioc](std::chrono::milliseconds delay, std::function<void()> f) {
    auto timer = std::make_shared<asio::steady_timer>(ioc, delay);
    timer->async_wait([timer, f = std::move(f)](boost::system::error_code) { f(); });
  };
  if (config.auth_mode == AuthMode::kToken) {
    auto tokens = TokenVerifier::make(config.token);
    if (!tokens.ok()) {
      log.error("cannot use token authentication", {{"error", tokens.status().message()}});
      return 1;
    }
    auth_options.tokens = std::move(*tokens);
  }
  Auth auth(auth_options);
  if (config.auth_mode == AuthMode::kBasic && auth.has_plain_passwords()) {
    log.warn("some users' passwords are plain text; store hashes from `epochd hash-password`");
  }
  HttpServerOptions http;
  http.address = config.listen_address;
  http.port = config.port;
  http.body_limit = config.body_limit;
  http.request_timeout = config.request_timeout;
  http.max_connections =
      config.max_connections != 0 ? config.max_connections : default_max_connections();
  http.tls_cert_file = config.tls_cert_file;
  http.tls_key_file = config.tls_key_file;
  door.auth = &auth;
  auto server = HttpServer::start(ioc, http, [&door](HttpRequest req, Responder respond) {
    door.handle(std::move(req), std::move(respond));
  });
  if (!server.ok()) {
    log.error("cannot start the HTTP server", {{"error", server.status().message()}});
    return 1;
  }
  const std::uint16_t port = (*server)->port();
  const std::string advertised = advertised_url(config, port, &std::getenv);
  // The names this node answers to (besides loopback names and IP literals).
  door.policy.hosts = config.allowed_hosts;
  door.policy.hosts.push_back(config.listen_address);
  if (auto u = boost::urls::parse_absolute_uri(advertised); u && !u->host().empty())
    door.policy.hosts.push_back(u->host());
  door.policy.cors_origins = config.cors_origins;
  auto elector = std::make_unique<LoggingElector>(
      zk ? epoch::make_zk_elector(zk, advertised) : epoch::make_standalone_elector(advertised), log,
      advertised);

  epoch::SchedulerOptions so;
  so.default_time_zone = config.default_time_zone;
  so.unknown_task_timeout = config.unknown_task_timeout;
  so.running_long_after = config.running_long_after;
  so.default_retention = epoch::RetentionPolicy{config.retention_runs, config.retention_max_age};
  so.retention_interval = config.retention_interval;
  // The engine has a thread of its own: requests, TLS handshakes and
  // forwarding on the I/O threads never delay a fire, and a burst of fires
  // never delays a request. Its callbacks answer through Responders, which
  // may be called from any thread.
  asio::io_context engine_ioc(1);
  auto engine_work = asio::make_work_guard(engine_ioc);
  epoch::Scheduler scheduler(engine_ioc, **store, *executor, *elector, *clock, events, so);

  ApiOptions ao;
  ao.advertised_url = advertised;
  ao.default_time_zone = config.default_time_zone;
  ao.host.exec_role = config.host_exec_role;
  ao.host.containers_on_host = config.executor == ExecutorKind::kLocal;
  ao.host.volume_roots = config.volume_roots;
  ao.host.volumes_unrestricted =
      config.executor != ExecutorKind::kLocal && config.volume_roots.empty();
  Api rest(scheduler, **store, *elector, *executor, metrics, ao);
  door.api = &rest;
  AuditRecorder recorder(scheduler, **store, *elector, log, config.audit_retention);
  door.audit = &recorder;
  std::optional<LeaderRouter> proxy;
  if (zk) {
    RouterOptions ro;
    ro.self_url = advertised;
    ro.response_timeout = config.proxy_timeout;
    ro.tls_ca_file = config.tls_ca_file;
    ro.body_limit = config.forward_body_limit;
    proxy.emplace(ioc, *elector, ro);
    door.router = &*proxy;
  }

  std::promise<int> stop_signal;
  std::once_flag stopping;
  const auto stop_with = [&](int sig) {
    std::call_once(stopping, [&] { stop_signal.set_value(sig); });
  };
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) stop_with(sig);
  });
  const std::stop_callback stop_asked(control.stop, [&] { stop_with(0); });

  std::vector<std::thread> threads;
  for (int i = 0; i < config.io_threads; ++i)
    threads.emplace_back([&ioc] { ioc.run(); });
  std::thread engine_thread([&engine_ioc] { engine_ioc.run(); });

  scheduler.start();
  log.info("epochd listening",
           {{"address", config.listen_address},
            {"port", std::to_string(port)},
            {"url", advertised},
            {"store", config.store == StoreKind::kSqlite ? "sqlite:" + config.sqlite.path
                      : config.store == StoreKind::kZookeeper
                          ? "zookeeper:" + config.zk.hosts + "/" + config.zk.name_space
                          : std::string(to_string(config.store))},
            {"executor", to_string(config.executor)},
            {"hostExecRole", config.host_exec_role ? to_string(*config.host_exec_role) : "NONE"},
            {"maxConnections", std::to_string(http.max_connections)}});

  if (control.ready) control.ready(port);

  const int sig = stop_signal.get_future().get();
  log.info("shutting down", {{"signal", sig == SIGTERM  ? "SIGTERM"
                                        : sig == SIGINT ? "SIGINT"
                                                        : "none (asked)"}});
  (*server)->stop_accepting();
  if (!(*server)->wait_idle(std::chrono::seconds(10)))
    log.warn("requests still in flight after 10 s; closing them");
  scheduler.stop();
  engine_work.reset();
  engine_ioc.stop();
  engine_thread.join();
  work.reset();
  ioc.stop();
  for (auto& t : threads)
    t.join();
  log.info("stopped");
  return 0;
}

}  // namespace epochd
