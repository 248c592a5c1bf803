// epochd's configuration: command-line flags, an INI file (--config) and
// EPOCH_* environment variables, in that order of precedence, over the
// embedded defaults (SQLite store in the working directory, local executor,
// standalone leader, 127.0.0.1:8080).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "auth.h"
#include "epoch/drove_executor.h"
#include "epoch/local_executor.h"
#include "epoch/mail_sink.h"
#include "epoch/model.h"
#include "epoch/sqlite_store.h"
#include "epoch/status.h"
#include "epoch/webhook_sink.h"
#include "epoch/zookeeper.h"
#include "jwt.h"
#include "log.h"
#include "names.h"

namespace epochd {

enum class StoreKind { kMemory, kSqlite, kZookeeper };
inline constexpr NameTable<StoreKind> kStoreKinds[] = {{StoreKind::kMemory, "memory"},
                                                       {StoreKind::kSqlite, "sqlite"},
                                                       {StoreKind::kZookeeper, "zookeeper"}};
enum class ExecutorKind { kLocal, kDrove };
inline constexpr NameTable<ExecutorKind> kExecutorKinds[] = {{ExecutorKind::kLocal, "local"},
                                                             {ExecutorKind::kDrove, "drove"}};
inline std::string_view to_string(StoreKind k) {
  return name_in(k, kStoreKinds);
}
inline std::string_view to_string(ExecutorKind k) {
  return name_in(k, kExecutorKinds);
}

// Every field is set by load_config() from the option table in config.cpp
// (what --help prints). Where a library option struct is embedded (sqlite,
// zk, local, drove, webhook, mail), the table's defaults are that struct's
// own, read from it, so a default is written once; the table overrides one
// only where epochd wants another value, and says so there. epochd's own
// fields have no initializers here: their defaults are the table's alone.
struct Config {
  // HTTP server
  std::string listen_address{};
  std::uint16_t port{};
  std::string advertised_url;               // default http://<listen address>:<port>
  bool advertised_explicit{};               // set by --advertised-url (else HOST/PORT_<n> apply)
  std::string tls_cert_file, tls_key_file;  // HTTPS when set
  std::string tls_ca_file;                  // to verify an https leader
  // Requests: host names besides loopback, IP literals, the listen address
  // and the advertised URL's host; origins allowed cross-site (CORS).
  std::vector<std::string> allowed_hosts;
  std::vector<std::string> cors_origins;
  std::size_t body_limit{};
  std::size_t max_connections{};  // 0: from the file-descriptor limit
  std::chrono::milliseconds request_timeout{};
  int io_threads{};
  // Store
  StoreKind store{};
  epoch::SqliteStoreOptions sqlite;  // path, synchronous_full (store = sqlite)
  epoch::ZkOptions zk;               // hosts, name_space, timeouts (store = zookeeper)
  std::chrono::milliseconds proxy_timeout{};
  std::uint64_t forward_body_limit{};  // bytes a follower relays
  // Executor
  ExecutorKind executor{};
  // work_dir, docker_cli, kill_grace, env_passthrough (executor = local; the
  // pass-through list also decides what the docker CLI gets)
  epoch::LocalExecutorOptions local;
  // endpoints, app_name (default $DROVE_APP_NAME), credentials, TLS,
  // timeouts, attempts, launch give-up, cluster op spec (executor = drove)
  epoch::DroveExecutorOptions drove;
  // Scheduling
  std::string default_time_zone{};
  int retention_runs{};
  std::optional<epoch::Duration> retention_max_age;
  std::chrono::milliseconds retention_interval{};
  std::chrono::milliseconds unknown_task_timeout{};
  // RUN_RUNNING_LONG for runs still going this long after they started (0: never).
  std::chrono::milliseconds running_long_after{};
  // Authentication
  AuthMode auth_mode{};
  std::map<std::string, AuthUser> auth_users;
  TokenOptions token;
  bool auth_open_health{};
  int auth_workers{};              // threads checking passwords
  int auth_failures_per_minute{};  // per client address (0: no limit)
  // Who may create or change topologies that run code on this host
  // (PROCESS tasks; container tasks on the local executor): nullopt nobody.
  // Default: READ_WRITE with auth none on loopback, else ADMIN.
  std::optional<Role> host_exec_role{};
  std::vector<std::string> volume_roots;  // host volumes only from under these
  std::int64_t audit_retention{};         // newest audit entries kept (0: all)
  // Notifications
  epoch::WebhookOptions webhook;
  std::optional<epoch::MailOptions> mail;  // set: e-mails go out
  // Logging
  LogFormat log_format{};
  LogLevel log_level{};
};

// Reads the configuration from `args` (without the program name), the INI
// file named by --config, and the environment as read by `getenv`.
// Precedence: flags, then the file, then EPOCH_* variables (EPOCH_PORT,
// EPOCH_STORE, EPOCH_SQLITE_PATH, ...: the option's name upper-cased, '-'
// as '_'), then the option table's defaults.
// Returns nullopt with `help` filled when --help was asked for.
// Errors: kInvalidArgument naming the option and where it came from (flag,
// file or variable) and what is wrong with the value.
epoch::StatusOr<std::optional<Config>> load_config(
    const std::vector<std::string>& args, const std::function<const char*(const char*)>& getenv,
    std::string& help);

// The URL other nodes forward to: --advertised-url when given, else Epoch's
// rule — the host from HOST (or the listen address; the host name when
// listening on all addresses), the port from PORT_<bound port> (Drove's port
// mapping) or the bound port.
std::string advertised_url(const Config& config, std::uint16_t bound_port,
                           const std::function<const char*(const char*)>& getenv);

// The --help text: every option with its default.
std::string config_help();

}  // namespace epochd
