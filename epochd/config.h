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
#include "epoch/mail_sink.h"
#include "epoch/model.h"
#include "epoch/status.h"
#include "epoch/webhook_sink.h"
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

struct Config {
  // HTTP server
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string advertised_url;               // default http://<listen address>:<port>
  bool advertised_explicit = false;         // set by --advertised-url (else HOST/PORT_<n> apply)
  std::string tls_cert_file, tls_key_file;  // HTTPS when set
  std::string tls_ca_file;                  // to verify an https leader
  // Requests: host names besides loopback, IP literals, the listen address
  // and the advertised URL's host; origins allowed cross-site (CORS).
  std::vector<std::string> allowed_hosts;
  std::vector<std::string> cors_origins;
  std::size_t body_limit = 1024 * 1024;
  std::size_t max_connections = 0;  // 0: from the file-descriptor limit
  std::chrono::milliseconds request_timeout = std::chrono::seconds(30);
  int io_threads = 2;
  // Store
  StoreKind store = StoreKind::kSqlite;
  std::string sqlite_path = "epoch.db";
  bool sqlite_synchronous_full = true;
  std::string zk_connect;  // host:port[,host:port...] (store = zookeeper)
  std::string zk_namespace = "epoch";
  std::chrono::milliseconds zk_session_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds zk_operation_timeout = std::chrono::seconds(5);
  std::chrono::milliseconds proxy_timeout = std::chrono::seconds(10);
  std::uint64_t forward_body_limit = std::uint64_t{32} << 20;  // bytes a follower relays
  // Executor
  ExecutorKind executor = ExecutorKind::kLocal;
  std::string local_work_dir = "epoch-tasks";
  std::vector<std::string> drove_endpoints;
  std::string drove_app_name;  // default $DROVE_APP_NAME
  std::string drove_username, drove_password;
  std::string drove_ca_file;
  bool drove_insecure = false;
  std::chrono::milliseconds drove_connect_timeout = std::chrono::seconds(1);
  std::chrono::milliseconds drove_operation_timeout = std::chrono::seconds(5);
  std::chrono::milliseconds drove_poll_interval = std::chrono::seconds(3);
  std::chrono::milliseconds drove_leader_check_interval = std::chrono::seconds(1);
  int drove_attempts = 3;
  std::chrono::milliseconds drove_launch_give_up = std::chrono::seconds(60);
  std::string drove_cluster_op_spec;
  std::string docker_cli = "docker";
  std::chrono::milliseconds kill_grace = std::chrono::seconds(10);
  // Scheduling
  std::string default_time_zone = "UTC";
  int retention_runs = 20;
  std::optional<epoch::Duration> retention_max_age;
  std::chrono::milliseconds retention_interval = std::chrono::minutes(5);
  std::chrono::milliseconds unknown_task_timeout = std::chrono::minutes(10);
  // RUN_RUNNING_LONG for runs still going this long after they started (0: never).
  std::chrono::milliseconds running_long_after{0};
  // Authentication
  AuthMode auth_mode = AuthMode::kNone;
  std::map<std::string, AuthUser> auth_users;
  TokenOptions token;
  bool auth_open_health = true;
  int auth_workers = 1;               // threads checking passwords
  int auth_failures_per_minute = 10;  // per client address (0: no limit)
  // Who may create or change topologies that run code on this host
  // (PROCESS tasks; container tasks on the local executor): nullopt nobody.
  // Default: READ_WRITE with auth none on loopback, else ADMIN.
  std::optional<Role> host_exec_role = Role::kReadWrite;
  std::vector<std::string> volume_roots;          // host volumes only from under these
  std::vector<std::string> task_env_passthrough;  // epochd's variables local tasks get
  std::int64_t audit_retention = 100000;          // newest audit entries kept (0: all)
  // Notifications
  epoch::WebhookOptions webhook;
  std::optional<epoch::MailOptions> mail;  // set: e-mails go out
  // Logging
  LogFormat log_format = LogFormat::kText;
  LogLevel log_level = LogLevel::kInfo;
};

// Reads the configuration from `args` (without the program name), the INI
// file named by --config, and the environment as read by `getenv`.
// Precedence: flags, then the file, then EPOCH_* variables (EPOCH_PORT,
// EPOCH_STORE, EPOCH_SQLITE_PATH, ...: the option's name upper-cased, '-'
// as '_'), then the defaults above.
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
