// epochd's configuration: precedence, defaults, help, and clear errors.
#include "config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

using epochd::AuthMode;
using epochd::Config;
using epochd::ExecutorKind;
using epochd::load_config;
using epochd::LogFormat;
using epochd::LogLevel;
using epochd::StoreKind;

namespace {

struct Env {
  std::map<std::string, std::string> vars;
  std::function<const char*(const char*)> fn() {
    return [this](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

Config load(const std::vector<std::string>& args, Env env = {}) {
  std::string help;
  auto c = load_config(args, env.fn(), help);
  REQUIRE_MESSAGE(c.ok(), c.status().message());
  REQUIRE(c->has_value());
  return **c;
}

std::string error(const std::vector<std::string>& args, Env env = {}) {
  std::string help;
  auto c = load_config(args, env.fn(), help);
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == epoch::StatusCode::kInvalidArgument);
  return c.status().message();
}

struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/epoch-config-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    ::close(fd);
    path = tmpl;
    std::ofstream(path) << text;
  }
  ~TempFile() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("defaults of the library's options are the library's own, written once") {
  const Config c = load({});
  const epoch::SqliteStoreOptions sqlite;
  CHECK(c.sqlite.path == sqlite.path);
  CHECK(c.sqlite.synchronous_full == sqlite.synchronous_full);
  const epoch::ZkOptions zk;
  CHECK(c.zk.name_space == zk.name_space);
  CHECK(c.zk.operation_timeout == zk.operation_timeout);
  CHECK(c.zk.session_timeout == std::chrono::seconds(10));  // epochd's own choice
  const epoch::LocalExecutorOptions local;
  CHECK(c.local.work_dir == local.work_dir);
  CHECK(c.local.docker_cli == local.docker_cli);
  CHECK(c.local.kill_grace == local.kill_grace);
  const epoch::DroveExecutorOptions drove;
  CHECK(c.drove.connect_timeout == drove.connect_timeout);
  CHECK(c.drove.operation_timeout == drove.operation_timeout);
  CHECK(c.drove.poll_interval == drove.poll_interval);
  CHECK(c.drove.leader_check_interval == drove.leader_check_interval);
  CHECK(c.drove.max_attempts == drove.max_attempts);
  CHECK(c.drove.launch_give_up == drove.launch_give_up);
  CHECK(c.drove.cluster_op_spec == drove.cluster_op_spec);
  CHECK(c.drove.tls_insecure == drove.tls_insecure);
  const epoch::WebhookOptions webhook;
  CHECK(c.webhook.timeout == webhook.timeout);
  CHECK(c.webhook.max_attempts == webhook.max_attempts);
  // --help shows them as the parser reads them back.
  const std::string help = epochd::config_help();
  CHECK(help.find("(=3 seconds)") != std::string::npos);  // drove-poll-interval
  CHECK(help.find("(=epoch-tasks)") != std::string::npos);
}

TEST_CASE("no configuration at all: the embedded defaults") {
  const Config c = load({});
  CHECK(c.listen_address == "127.0.0.1");
  CHECK(c.port == 8080);
  CHECK(c.advertised_url == "http://127.0.0.1:8080");
  CHECK(c.store == StoreKind::kSqlite);
  CHECK(c.sqlite.path == "epoch.db");
  CHECK(c.executor == ExecutorKind::kLocal);
  CHECK(c.default_time_zone == "UTC");
  CHECK(c.body_limit == 1024 * 1024);
  CHECK(c.retention_runs == 20);
  CHECK_FALSE(c.retention_max_age.has_value());
  CHECK(c.retention_interval == std::chrono::minutes(5));
  // Config has no initializers for epochd's own fields: each default here
  // comes from the option table.
  CHECK(c.max_connections == 0);
  CHECK(c.request_timeout == std::chrono::seconds(30));
  CHECK(c.io_threads == 2);
  CHECK(c.proxy_timeout == std::chrono::seconds(10));
  CHECK(c.forward_body_limit == std::uint64_t{32} << 20);
  CHECK(c.unknown_task_timeout == std::chrono::minutes(10));
  CHECK(c.running_long_after == std::chrono::milliseconds(0));
  CHECK(c.auth_mode == AuthMode::kNone);
  CHECK(c.auth_open_health);
  CHECK(c.auth_workers == 1);
  CHECK(c.auth_failures_per_minute == 10);
  CHECK(c.host_exec_role == epochd::Role::kReadWrite);  // auth none, on loopback
  CHECK(c.audit_retention == 100000);
  CHECK(c.log_format == LogFormat::kText);
  CHECK(c.log_level == LogLevel::kInfo);
  CHECK_FALSE(c.advertised_explicit);
  CHECK_FALSE(c.mail.has_value());
}

TEST_CASE("flags beat the config file, which beats EPOCH_* variables") {
  TempFile ini("port = 9000\nstore = memory\ntime-zone = Asia/Kolkata\n");
  Env env;
  env.vars = {{"EPOCH_PORT", "7000"},
              {"EPOCH_STORE", "zookeeper"},
              {"EPOCH_LOG_FORMAT", "json"},
              {"EPOCH_RETENTION_MAX_AGE", "30 days"},
              {"EPOCH_TOPOLOGY_ID", "ignored"}};
  const Config c = load({"--config", ini.path.string(), "--port", "9100"}, env);
  CHECK(c.port == 9100);                         // flag
  CHECK(c.store == StoreKind::kMemory);          // file over variable
  CHECK(c.default_time_zone == "Asia/Kolkata");  // file
  CHECK(c.log_format == LogFormat::kJson);       // variable
  CHECK(c.retention_max_age == epoch::Duration{30, epoch::Duration::Unit::kDays});
  // The file can also come from EPOCH_CONFIG.
  env.vars["EPOCH_CONFIG"] = ini.path.string();
  CHECK(load({}, env).port == 9000);
}

TEST_CASE("help lists every option with its default and variable") {
  std::string help;
  auto c = load_config({"--help"}, Env{}.fn(), help);
  REQUIRE(c.ok());
  CHECK_FALSE(c->has_value());
  for (const char* part :
       {"--port", "(=8080)", "[EPOCH_PORT]", "--store", "(=sqlite)", "--sqlite-path", "(=epoch.db)",
        "--executor", "--time-zone", "--retention-runs", "--log-format", "--config"}) {
    INFO(part);
    CHECK(help.find(part) != std::string::npos);
  }
}

TEST_CASE("a bad option or value stops start-up with a clear message") {
  CHECK(error({"--bogus"}).find("unrecognised option '--bogus'") != std::string::npos);
  CHECK(error({"--port", "9000", "extra"}).find("too many positional options") !=
        std::string::npos);
  CHECK(error({"--port", "65536"}) ==
        "epochd: flag --port = '65536': expected a whole number 0-65535");
  CHECK(error({"--port", "80x"}).find("expected a whole number") != std::string::npos);
  CHECK(error({"--store", "mongo"}) ==
        "epochd: flag --store = 'mongo': expected one of memory, sqlite, zookeeper");
  CHECK(error({"--store", "zookeeper"}).find("needs the ZooKeeper servers") != std::string::npos);
  CHECK(error({"--time-zone", "Mars/Base"}).find("unknown time zone 'Mars/Base'") !=
        std::string::npos);
  CHECK(error({"--request-timeout", "forever"}).find("invalid duration 'forever'") !=
        std::string::npos);
  CHECK(error({"--advertised-url", "host:8080"}).find("http://") != std::string::npos);
  CHECK(error({"--config", "/nonexistent/epoch.ini"}) ==
        "epochd: cannot read the config file '/nonexistent/epoch.ini'");
  TempFile ini("port = 9000\nshoe-size = 44\n");
  CHECK(error({"--config", ini.path.string()}).find("shoe-size") != std::string::npos);
  Env env;
  env.vars = {{"EPOCH_IO_THREADS", "0"}};
  CHECK(error({}, env) == "epochd: variable EPOCH_IO_THREADS = '0': expected a whole number 1-64");
}

TEST_CASE("the advertised URL follows Epoch's HOST and PORT_<n> rule unless given") {
  Env env;
  Config c = load({"--port", "0"});
  CHECK(epochd::advertised_url(c, 41234, env.fn()) == "http://127.0.0.1:41234");
  env.vars["HOST"] = "node7.example.com";
  env.vars["PORT_41234"] = "31000";  // Drove maps the container port
  CHECK(epochd::advertised_url(c, 41234, env.fn()) == "http://node7.example.com:31000");
  CHECK(epochd::advertised_url(c, 5000, env.fn()) == "http://node7.example.com:5000");
  Config all = load({"--listen", "0.0.0.0", "--auth-force-none", "true"});
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  CHECK(epochd::advertised_url(all, 8080, Env{}.fn()) == "http://" + std::string(host) + ":8080");
  Config given = load({"--advertised-url", "https://epoch.example.com"});
  CHECK(epochd::advertised_url(given, 8080, env.fn()) == "https://epoch.example.com");
}

TEST_CASE("Drove options: endpoints, app name from DROVE_APP_NAME, clear errors") {
  Env env;
  env.vars["DROVE_APP_NAME"] = "epoch-app";
  Config c = load({"--executor", "drove", "--drove-endpoints", "http://d1:10000, https://d2:10000",
                   "--drove-poll-interval", "500ms", "--drove-insecure", "true"},
                  env);
  CHECK(c.drove.endpoints == std::vector<std::string>{"http://d1:10000", "https://d2:10000"});
  CHECK(c.drove.app_name == "epoch-app");
  CHECK(c.drove.poll_interval == std::chrono::milliseconds(500));
  CHECK(c.drove.tls_insecure);
  CHECK(
      load({"--executor", "drove", "--drove-endpoints", "http://d1", "--drove-app-name", "x"}, env)
          .drove.app_name == "x");
  CHECK(error({"--executor", "drove"}).find("--drove-endpoints") != std::string::npos);
  CHECK(error({"--executor", "drove", "--drove-endpoints", "http://d1"}).find("DROVE_APP_NAME") !=
        std::string::npos);
  CHECK(error({"--drove-endpoints", "d1:10000"}).find("is not an http:// or https:// URL") !=
        std::string::npos);
  CHECK(error({"--drove-insecure", "maybe"}).find("drove-insecure") != std::string::npos);
}

TEST_CASE("auth options: basic users, roles, the loopback rule for none") {
  Env env;
  const std::string dir = std::filesystem::temp_directory_path() / "epochd-auth-users";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/users") << "# comment\ncarol:pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$"
                                   "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=:ADMIN\n";
  Config c = load({"--auth", "basic", "--auth-users",
                   "alice:pw1:READ_WRITE, bob:pw2:EPOCH_EXTERNAL_READ_ONLY", "--auth-users-file",
                   dir + "/users"});
  CHECK(c.auth_mode == AuthMode::kBasic);
  REQUIRE(c.auth_users.size() == 3);
  CHECK(c.auth_users.at("alice").role == epochd::Role::kReadWrite);
  CHECK(c.auth_users.at("bob").role == epochd::Role::kReadOnly);
  CHECK(c.auth_users.at("carol").role == epochd::Role::kAdmin);
  CHECK(error({"--auth", "basic"}).find("--auth-users") != std::string::npos);
  CHECK(error({"--auth", "basic", "--auth-users", "alice:pw:SUPERUSER"}).find("unknown role") !=
        std::string::npos);
  CHECK(error({"--auth", "basic", "--auth-users", "alice:pw:READ_ONLY,alice:x:ADMIN"})
            .find("listed twice") != std::string::npos);
  CHECK(error({"--auth", "basic", "--auth-users", "alice"}).find("name:password-or-hash:ROLE") !=
        std::string::npos);
  // none on all addresses only when forced.
  CHECK(error({"--listen", "0.0.0.0"}).find("only allowed on a loopback address") !=
        std::string::npos);
  CHECK(
      load({"--listen", "0.0.0.0", "--auth", "basic", "--auth-users", "a:b:READ_ONLY"}).auth_mode ==
      AuthMode::kBasic);
  std::filesystem::remove_all(dir);
}

TEST_CASE("token auth options") {
  Config c = load({"--auth", "token", "--token-public-keys", "a.pem, b.pem", "--token-issuer",
                   "https://idp", "--token-audience", "epoch", "--token-skew", "10 seconds",
                   "--token-role-claim", "groups", "--token-role-map",
                   "epoch-admins=ADMIN,epoch-ops=READ_WRITE"});
  CHECK(c.token.public_key_files == std::vector<std::string>{"a.pem", "b.pem"});
  CHECK(c.token.skew == std::chrono::seconds(10));
  CHECK(c.token.role_claim == "groups");
  CHECK(c.token.role_map.at("epoch-admins") == epochd::Role::kAdmin);
  CHECK(error({"--auth", "token"}).find("needs keys") != std::string::npos);
  CHECK(error({"--auth", "token", "--token-jwks", "k.json", "--token-role-map", "x=BOSS"})
            .find("unknown role") != std::string::npos);
  CHECK(error({"--auth", "token", "--token-jwks", "k.json", "--token-role-map", "x"})
            .find("is not value=ROLE") != std::string::npos);
}
