#include "config.h"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "epoch/time_zone.h"

namespace po = boost::program_options;

namespace epochd {
namespace {

struct Option {
  const char* name;
  const char* default_value;  // nullptr: none
  const char* help;
};

// A duration as the option parser reads it back: "3 seconds", "500 ms".
std::string duration_text(std::chrono::milliseconds d) {
  const auto n = d.count();
  const auto unit = [n](std::int64_t per, const char* one, const char* many) {
    return std::to_string(n / per) + " " + (n / per == 1 ? one : many);
  };
  if (n != 0 && n % 3600000 == 0) return unit(3600000, "hour", "hours");
  if (n != 0 && n % 60000 == 0) return unit(60000, "minute", "minutes");
  if (n != 0 && n % 1000 == 0) return unit(1000, "second", "seconds");
  return std::to_string(n) + " ms";
}

// The defaults that come from the library's option structs, as text.
struct LibraryDefaults {
  const epoch::SqliteStoreOptions sqlite;
  const epoch::ZkOptions zk;
  const epoch::LocalExecutorOptions local;
  const epoch::DroveExecutorOptions drove;
  const std::string sqlite_sync = sqlite.synchronous_full ? "full" : "normal";
  const std::string zk_operation_timeout = duration_text(zk.operation_timeout);
  const std::string kill_grace = duration_text(local.kill_grace);
  const std::string drove_insecure = drove.tls_insecure ? "true" : "false";
  const std::string drove_connect_timeout = duration_text(drove.connect_timeout);
  const std::string drove_operation_timeout = duration_text(drove.operation_timeout);
  const std::string drove_poll_interval = duration_text(drove.poll_interval);
  const std::string drove_leader_check_interval = duration_text(drove.leader_check_interval);
  const std::string drove_attempts = std::to_string(drove.max_attempts);
  const std::string drove_launch_give_up = duration_text(drove.launch_give_up);
  const epoch::WebhookOptions webhook;
  const epoch::MailOptions mail;
  const std::string webhook_timeout = duration_text(webhook.timeout);
  const std::string webhook_attempts = std::to_string(webhook.max_attempts);
  const std::string mail_port = std::to_string(mail.port);
  const std::string mail_disable = mail.disable_for_successful_runs ? "true" : "false";
  const std::string mail_timeout = duration_text(mail.timeout);
  const std::string mail_attempts = std::to_string(mail.max_attempts);
};

// Every option, its default, and what it does (the --help text).
const std::vector<Option>& options() {
  static const LibraryDefaults lib;
  static const std::vector<Option> table = {
      {"listen", "127.0.0.1", "address the HTTP server listens on"},
      {"port", "8080", "port the HTTP server listens on (0: any free port, logged at start)"},
      {"advertised-url", nullptr,
       "URL other nodes reach this one at (default http://<HOST or listen address>:<PORT_<port> "
       "or port>, honouring the HOST and PORT_<n> variables like Epoch)"},
      {"tls-cert", nullptr,
       "serve HTTPS (TLS 1.2+) with this PEM certificate chain (with tls-key)"},
      {"tls-key", nullptr, "the PEM private key of tls-cert"},
      {"tls-ca-file", nullptr,
       "CA certificates (PEM) a follower verifies an https leader against (default: the system's)"},
      {"allowed-hosts", nullptr,
       "host names clients may reach this node by, besides loopback names, IP addresses, the "
       "listen address and the advertised URL's host (requests naming another Host are refused, "
       "against DNS rebinding); comma-separated, \"*.example.com\" for subdomains, \"*\" for any"},
      {"cors-origins", nullptr,
       "origins (scheme://host[:port]) whose pages may call the API cross-site: they get CORS "
       "headers and may send writes; comma-separated (default none: no CORS headers)"},
      {"body-limit", "1048576", "largest request body accepted, in bytes"},
      {"request-timeout", "30 seconds", "time allowed to read a request and write its answer"},
      {"io-threads", "2", "threads serving HTTP (1-64)"},
      {"max-connections", "0",
       "HTTP connections open at once; beyond it new clients wait until one closes (0: derived "
       "from the file-descriptor limit, leaving a quarter of it, 32-256, for everything else)"},
      {"store", "sqlite", "where state is kept: memory, sqlite or zookeeper"},
      {"sqlite-path", lib.sqlite.path.c_str(), "the SQLite database file (store = sqlite)"},
      {"sqlite-sync", lib.sqlite_sync.c_str(),
       "SQLite durability: full (survives power loss) or normal"},
      {"zk-connect", nullptr, "ZooKeeper servers host:port[,host:port] (store = zookeeper)"},
      {"zk-namespace", lib.zk.name_space.c_str(),
       "ZooKeeper namespace (Epoch's layout under /<namespace>)"},
      // epochd's own default (the library's is 5 s): a leader is not replaced
      // over a pause of a few seconds.
      {"zk-session-timeout", "10 seconds",
       "ZooKeeper session timeout (a dead leader is replaced after it)"},
      {"zk-operation-timeout", lib.zk_operation_timeout.c_str(),
       "how long a ZooKeeper call waits for a connection before it fails"},
      {"forward-body-limit", "33554432",
       "largest leader answer (bytes) a follower relays; larger ones are answered 502 (a follower "
       "holds an answer in memory while relaying it)"},
      {"proxy-timeout", "10 seconds",
       "time a follower waits for the leader's answer to a forwarded request"},
      {"executor", "local", "where tasks run: local or drove"},
      {"work-dir", lib.local.work_dir.c_str(),
       "directory of local tasks' logs and state (executor = local)"},
      {"drove-endpoints", nullptr,
       "Drove controller URLs, comma-separated: http://host:port[,...] (executor = drove)"},
      {"drove-app-name", nullptr,
       "Drove app the tasks are created under (sourceAppName; default: $DROVE_APP_NAME)"},
      {"drove-username", nullptr, "user for Basic auth to Drove"},
      {"drove-ca-file", nullptr,
       "CA certificates (PEM) that https Drove endpoints are verified against (default: the "
       "system's)"},
      {"drove-insecure", lib.drove_insecure.c_str(),
       "true: do not verify Drove's TLS certificates"},
      {"drove-password", nullptr, "password for Basic auth to Drove"},
      {"drove-connect-timeout", lib.drove_connect_timeout.c_str(),
       "time to connect to a Drove controller"},
      {"drove-operation-timeout", lib.drove_operation_timeout.c_str(),
       "time for one call to a Drove controller"},
      {"drove-poll-interval", lib.drove_poll_interval.c_str(),
       "how often every live Drove task's status is read"},
      {"drove-leader-check-interval", lib.drove_leader_check_interval.c_str(),
       "how often the leader controller is pinged (several endpoints)"},
      {"drove-attempts", lib.drove_attempts.c_str(),
       "tries per Drove kill or delete call on transport errors and 5xx (a create is "
       "tried until --drove-launch-give-up)"},
      {"drove-launch-give-up", lib.drove_launch_give_up.c_str(),
       "a task Drove has not accepted (unreachable, 5xx) after this long is failed"},
      {"drove-cluster-op-spec", lib.drove.cluster_op_spec.c_str(),
       "ClusterOpSpec JSON sent with CREATE and KILL"},
      {"docker-cli", lib.local.docker_cli.c_str(),
       "docker-compatible CLI for container tasks (executor = local)"},
      {"kill-grace", lib.kill_grace.c_str(),
       "time between SIGTERM and SIGKILL when killing a local task"},
      {"time-zone", "UTC", "IANA zone of CRON triggers that name none"},
      {"retention-runs", "20", "finished runs kept per topology without a retention policy"},
      {"retention-max-age", nullptr,
       "finished runs older than this are removed (e.g. \"30 days\")"},
      {"retention-interval", "5 minutes", "how often finished runs are pruned (0 seconds: never)"},
      {"unknown-task-timeout", "10 minutes",
       "a task the executor does not know is failed after this"},
      {"auth", "none",
       "who may call the API: none (everyone READ_WRITE; loopback only unless auth-force-none), "
       "basic (users below) or token (JWT bearer tokens, token-* below)"},
      {"auth-users", nullptr,
       "basic auth users, comma-separated name:password-hash:ROLE (hash from `epochd "
       "hash-password`; plain passwords work, with a warning); ROLE is READ_ONLY, READ_WRITE or "
       "ADMIN"},
      {"auth-users-file", nullptr,
       "a file of basic auth users, one name:password-hash:ROLE per line"},
      {"token-public-keys", nullptr,
       "auth = token: PEM public keys (RSA for RS256, EC P-256 for ES256), comma-separated"},
      {"token-hs256-secret-file", nullptr,
       "auth = token: a file holding the HS256 secret (32+ bytes)"},
      {"token-jwks", nullptr,
       "auth = token: a JWKS file (RSA, EC, oct keys), read again on change"},
      {"token-issuer", nullptr, "auth = token: the required iss claim"},
      {"token-audience", nullptr, "auth = token: the required aud claim"},
      {"token-skew", "30 seconds", "auth = token: clock skew allowed for exp and nbf"},
      {"token-role-claim", "role", "auth = token: the claim holding the role (a string or a list)"},
      {"token-role-map", nullptr,
       "auth = token: claim values mapped to roles, comma-separated value=ROLE (the role names "
       "themselves always work)"},
      {"audit-retention", "100000", "audit log entries kept (the newest; 0: all)"},
      {"auth-open-health", "true",
       "true: /healthcheck, /metrics and /apis/housekeeping/v1/leader need no credentials"},
      {"auth-force-none", "false", "true: allow auth = none on a non-loopback address"},
      {"auth-workers", "1", "threads that check passwords (never the I/O or engine threads; 1-16)"},
      {"auth-failures-per-minute", "10",
       "failed Basic sign-ins one client address may make per minute before it gets 429 (0: no "
       "limit)"},
      {"host-exec-role", "auto",
       "the least role that may create or change topologies that run code on this host (PROCESS "
       "tasks, container tasks on the local executor): READ_WRITE, ADMIN or NONE (nobody); auto: "
       "READ_WRITE with auth = none on a loopback address, else ADMIN"},
      {"volume-roots", nullptr,
       "host directories that container volumes (pathOnHost) may come from, comma-separated "
       "(default none: host volumes are refused; with executor = drove volumes are Drove's "
       "business unless this is set)"},
      {"task-env-passthrough", nullptr,
       "names of epochd's environment variables that local tasks (and the docker CLI) also get, "
       "comma-separated; tasks otherwise start from PATH, HOME, LANG and TZ only"},
      {"webhook-urls", nullptr,
       "URLs that get run notifications as signed JSON POSTs, comma-separated (trusted: they may "
       "be private or loopback addresses, and are signed with the webhook secret itself)"},
      {"webhook-secret-file", nullptr,
       "a file with the HMAC-SHA256 key for the X-Epoch-Signature header; URLs a topology names "
       "(notify.webhooks) are signed with that topology's own key instead: hex of "
       "HMAC-SHA256(secret, \"epoch-topology-webhook:\" + topology id)"},
      {"webhook-allow-networks", nullptr,
       "CIDRs per-topology webhook URLs may reach although private/loopback (link-local, "
       "multicast, ...), comma-separated, e.g. 10.20.0.0/16,127.0.0.1/32 (default none)"},
      {"webhook-events",
       "RUN_SUCCEEDED,RUN_FAILED,RUN_TIMED_OUT,RUN_MISSED,RUN_SKIPPED,RUN_RUNNING_LONG",
       "which run events are sent"},
      {"notify-running-longer-than", "0 seconds",
       "RUN_RUNNING_LONG (webhooks; mail when a topology selects it) for runs still going this "
       "long after their first task started (0: never)"},
      {"webhook-timeout", lib.webhook_timeout.c_str(), "time allowed for one webhook delivery"},
      {"webhook-attempts", lib.webhook_attempts.c_str(),
       "tries per webhook delivery (exponential backoff from 500 ms)"},
      {"webhook-ca-file", nullptr, "CA certificates (PEM) for https webhook URLs"},
      {"mail-smtp-server", nullptr,
       "SMTP server for run e-mails (Epoch's notify.smtpServer); unset: no mail"},
      {"mail-smtp-port", lib.mail_port.c_str(), "SMTP port"},
      {"mail-smtp-security", "starttls",
       "starttls (required, as Epoch's tls: true), tls (implicit TLS, smtps, port 465) or none"},
      {"mail-smtp-username", nullptr, "SMTP AUTH user"},
      {"mail-smtp-password", nullptr,
       "SMTP AUTH password (better: EPOCH_MAIL_SMTP_PASSWORD or the file)"},
      {"mail-smtp-password-file", nullptr, "a file holding the SMTP AUTH password"},
      {"mail-from", nullptr, "the sender address (Epoch's fromAddress); required with a server"},
      {"mail-from-name", nullptr, "the sender's display name (default: the address)"},
      {"mail-default-recipients", nullptr,
       "recipients for topologies without MAIL emails (Epoch's defaultEmails), comma-separated"},
      {"mail-disable-for-successful-runs", lib.mail_disable.c_str(),
       "true: no mail for SUCCESSFUL runs (instant runs' COMPLETED still mailed, as Epoch)"},
      {"mail-timeout", lib.mail_timeout.c_str(), "time allowed for sending one mail"},
      {"mail-attempts", lib.mail_attempts.c_str(), "tries per mail (exponential backoff from 5 s)"},
      {"mail-ca-file", nullptr, "CA certificates (PEM) for the SMTP server's TLS certificate"},
      {"log-format", "text", "log lines as text or json"},
      {"log-level", "info", "debug, info, warn or error"},
  };
  return table;
}

std::string env_name(const std::string& option) {
  std::string n = "EPOCH_";
  for (char c : option)
    n += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return n;
}

po::options_description describe(bool with_meta) {
  po::options_description d("epochd options (flags > --config file > EPOCH_* variables > default)");
  if (with_meta) {
    d.add_options()("help,h", "show this help")(
        "config", po::value<std::string>(),
        "INI file with any of the options below (name = value)");
  }
  for (const Option& o : options()) {
    std::string text = o.help;
    text += " [" + env_name(o.name) + "]";
    if (o.default_value != nullptr) {
      d.add_options()(o.name, po::value<std::string>()->default_value(o.default_value),
                      text.c_str());
    } else {
      d.add_options()(o.name, po::value<std::string>(), text.c_str());
    }
  }
  return d;
}

// A value and where it came from, for error messages.
struct Source {
  std::string value;
  std::string origin;  // "flag --port", "config file a.ini: port", "variable EPOCH_PORT"
};

epoch::Status bad(const Source& s, const std::string& why) {
  return epoch::invalid_argument("epochd: " + s.origin + " = '" + s.value + "': " + why);
}

template <typename T>
epoch::StatusOr<T> integer(const Source& s, T lo, T hi) {
  T v{};
  const auto [p, ec] = std::from_chars(s.value.data(), s.value.data() + s.value.size(), v);
  if (ec != std::errc() || p != s.value.data() + s.value.size() || v < lo || v > hi) {
    return bad(s, "expected a whole number " + std::to_string(lo) + "-" + std::to_string(hi));
  }
  return v;
}

epoch::StatusOr<std::chrono::milliseconds> duration(const Source& s, bool allow_zero) {
  auto d = epoch::parse_duration(s.value);
  if (!d.ok()) return bad(s, d.status().message());
  if (!allow_zero && d->to_millis().count() <= 0) return bad(s, "must be longer than zero");
  return d->to_millis();
}

// Comma-separated items, trimmed of spaces; empty items dropped.
std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// A list of http:// or https:// URLs.
epoch::StatusOr<std::vector<std::string>> url_list(const Source& s) {
  std::vector<std::string> urls = split_list(s.value);
  for (const std::string& u : urls) {
    if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) {
      return bad(s, "'" + u + "' is not an http:// or https:// URL");
    }
  }
  return urls;
}

// The first line of the file `s` names (a secret: key, password).
epoch::StatusOr<std::string> secret_file(const Source& s) {
  std::ifstream in(s.value, std::ios::binary);
  if (!in) return bad(s, "cannot read '" + s.value + "'");
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r'))
    secret.pop_back();
  if (secret.empty()) return bad(s, "the file '" + s.value + "' is empty");
  return secret;
}

template <class E, std::size_t N>
epoch::StatusOr<E> one_of(const Source& s, const NameTable<E> (&names)[N]) {
  if (auto v = value_in(s.value, names)) return *v;
  return bad(s, "expected one of " + names_of(names));
}

epoch::StatusOr<std::string> one_of(const Source& s, std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (s.value == a) return s.value;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  return bad(s, "expected one of " + list);
}

}  // namespace

std::string config_help() {
  std::ostringstream out;
  out << "usage: epochd [options]\n       epochd cron ...   (epochd cron --help)\n"
      << "       epochd hash-password < file   (a password hash for --auth-users)\n\n"
      << describe(true);
  return out.str();
}

epoch::StatusOr<std::optional<Config>> load_config(
    const std::vector<std::string>& args, const std::function<const char*(const char*)>& getenv,
    std::string& help) {
  std::map<std::string, Source> chosen;
  std::string config_path;
  try {
    const po::options_description flags = describe(true);
    po::variables_map cmd;
    const po::positional_options_description none;  // epochd takes no positional arguments
    po::store(po::command_line_parser(args).options(flags).positional(none).run(), cmd);
    if (cmd.count("help")) {
      help = config_help();
      return std::optional<Config>();
    }
    for (const Option& o : options()) {
      if (cmd.count(o.name) && !cmd[o.name].defaulted()) {
        chosen[o.name] = {cmd[o.name].as<std::string>(), "flag --" + std::string(o.name)};
      }
    }
    if (cmd.count("config")) {
      config_path = cmd["config"].as<std::string>();
    } else if (const char* e = getenv("EPOCH_CONFIG"); e != nullptr && *e != '\0') {
      config_path = e;
    }
  } catch (const po::error& e) {
    return epoch::invalid_argument(std::string("epochd: ") + e.what() + " (see epochd --help)");
  }
  if (!config_path.empty()) {
    std::ifstream in(config_path);
    if (!in)
      return epoch::invalid_argument("epochd: cannot read the config file '" + config_path + "'");
    try {
      po::variables_map file;
      po::store(po::parse_config_file(in, describe(false), false), file);
      for (const Option& o : options()) {
        if (!chosen.count(o.name) && file.count(o.name) && !file[o.name].defaulted()) {
          chosen[o.name] = {file[o.name].as<std::string>(),
                            "config file " + config_path + ": " + o.name};
        }
      }
    } catch (const po::error& e) {
      return epoch::invalid_argument("epochd: config file " + config_path + ": " + e.what());
    }
  }
  for (const Option& o : options()) {
    if (chosen.count(o.name)) continue;
    const std::string name = env_name(o.name);
    if (const char* e = getenv(name.c_str()); e != nullptr) {
      chosen[o.name] = {e, "variable " + name};
    } else if (o.default_value != nullptr) {
      chosen[o.name] = {o.default_value, "default of " + std::string(o.name)};
    }
  }
  const auto get = [&](const char* name) -> const Source* {
    const auto it = chosen.find(name);
    return it == chosen.end() ? nullptr : &it->second;
  };

  Config c{};
  c.listen_address = get("listen")->value;
  if (c.listen_address.empty()) return bad(*get("listen"), "must not be empty");
  EPOCH_ASSIGN_OR_RETURN(c.port, integer<std::uint16_t>(*get("port"), 0, 65535));
  if (const Source* s = get("advertised-url")) {
    if (s->value.rfind("http://", 0) != 0 && s->value.rfind("https://", 0) != 0) {
      return bad(*s, "expected a URL starting with http:// or https://");
    }
    c.advertised_url = s->value;
    c.advertised_explicit = true;
  } else {
    c.advertised_url = "http://" + c.listen_address + ":" + std::to_string(c.port);
  }
  if (const Source* s = get("tls-cert")) c.tls_cert_file = s->value;
  if (const Source* s = get("tls-key")) c.tls_key_file = s->value;
  if (const Source* s = get("tls-ca-file")) c.tls_ca_file = s->value;
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return epoch::invalid_argument("epochd: HTTPS needs both --tls-cert and --tls-key");
  }
  if (const Source* s = get("allowed-hosts")) c.allowed_hosts = split_list(s->value);
  if (const Source* s = get("cors-origins")) {
    c.cors_origins = split_list(s->value);
    for (const std::string& o : c.cors_origins) {
      const bool scheme = o.rfind("http://", 0) == 0 || o.rfind("https://", 0) == 0;
      const std::size_t host = o.find("://") + 3;
      if (!scheme || o.size() <= host || o.find('/', host) != std::string::npos)
        return bad(*s, "'" + o + "' is not an origin (scheme://host[:port], no path)");
    }
  }
  EPOCH_ASSIGN_OR_RETURN(c.body_limit,
                         integer<std::size_t>(*get("body-limit"), 1024, std::size_t{1} << 30));
  EPOCH_ASSIGN_OR_RETURN(c.request_timeout, duration(*get("request-timeout"), false));
  EPOCH_ASSIGN_OR_RETURN(c.io_threads, integer<int>(*get("io-threads"), 1, 64));
  EPOCH_ASSIGN_OR_RETURN(c.max_connections,
                         integer<std::size_t>(*get("max-connections"), 0, 1000000));
  EPOCH_ASSIGN_OR_RETURN(c.store, one_of(*get("store"), kStoreKinds));
  c.sqlite.path = get("sqlite-path")->value;
  if (c.sqlite.path.empty()) return bad(*get("sqlite-path"), "must not be empty");
  EPOCH_ASSIGN_OR_RETURN(const std::string sync, one_of(*get("sqlite-sync"), {"full", "normal"}));
  c.sqlite.synchronous_full = sync == "full";
  if (const Source* s = get("zk-connect")) c.zk.hosts = s->value;
  if (c.store == StoreKind::kZookeeper && c.zk.hosts.empty()) {
    return epoch::invalid_argument(
        "epochd: store = zookeeper needs the ZooKeeper servers: set --zk-connect (or "
        "EPOCH_ZK_CONNECT)");
  }
  c.zk.name_space = get("zk-namespace")->value;
  if (c.zk.name_space.empty() || c.zk.name_space.find('/') != std::string::npos) {
    return bad(*get("zk-namespace"), "expected a name without '/'");
  }
  EPOCH_ASSIGN_OR_RETURN(c.zk.session_timeout, duration(*get("zk-session-timeout"), false));
  EPOCH_ASSIGN_OR_RETURN(c.zk.operation_timeout, duration(*get("zk-operation-timeout"), false));
  EPOCH_ASSIGN_OR_RETURN(c.proxy_timeout, duration(*get("proxy-timeout"), false));
  EPOCH_ASSIGN_OR_RETURN(
      c.forward_body_limit,
      integer<std::uint64_t>(*get("forward-body-limit"), 1024, std::uint64_t{1} << 30));
  EPOCH_ASSIGN_OR_RETURN(c.executor, one_of(*get("executor"), kExecutorKinds));
  c.local.work_dir = get("work-dir")->value;
  if (const Source* s = get("drove-endpoints")) {
    EPOCH_ASSIGN_OR_RETURN(c.drove.endpoints, url_list(*s));
  }
  if (c.executor == ExecutorKind::kDrove && c.drove.endpoints.empty()) {
    return epoch::invalid_argument(
        "epochd: executor = drove needs the controllers: set --drove-endpoints (or "
        "EPOCH_DROVE_ENDPOINTS)");
  }
  if (const Source* s = get("drove-app-name")) {
    c.drove.app_name = s->value;
  } else if (const char* app = getenv("DROVE_APP_NAME"); app != nullptr) {
    c.drove.app_name = app;
  }
  if (c.executor == ExecutorKind::kDrove && c.drove.app_name.empty()) {
    return epoch::invalid_argument(
        "epochd: executor = drove needs the Drove app name: set --drove-app-name or "
        "DROVE_APP_NAME");
  }
  if (const Source* s = get("drove-username")) c.drove.username = s->value;
  if (const Source* s = get("drove-password")) c.drove.password = s->value;
  if (const Source* s = get("drove-ca-file")) c.drove.tls_ca_file = s->value;
  EPOCH_ASSIGN_OR_RETURN(const std::string insecure,
                         one_of(*get("drove-insecure"), {"false", "true"}));
  c.drove.tls_insecure = insecure == "true";
  EPOCH_ASSIGN_OR_RETURN(c.drove.connect_timeout, duration(*get("drove-connect-timeout"), false));
  EPOCH_ASSIGN_OR_RETURN(c.drove.operation_timeout,
                         duration(*get("drove-operation-timeout"), false));
  EPOCH_ASSIGN_OR_RETURN(c.drove.poll_interval, duration(*get("drove-poll-interval"), false));
  EPOCH_ASSIGN_OR_RETURN(c.drove.leader_check_interval,
                         duration(*get("drove-leader-check-interval"), false));
  EPOCH_ASSIGN_OR_RETURN(c.drove.max_attempts, integer<int>(*get("drove-attempts"), 1, 100));
  EPOCH_ASSIGN_OR_RETURN(c.drove.launch_give_up, duration(*get("drove-launch-give-up"), false));
  c.drove.cluster_op_spec = get("drove-cluster-op-spec")->value;
  c.local.docker_cli = get("docker-cli")->value;
  EPOCH_ASSIGN_OR_RETURN(c.local.kill_grace, duration(*get("kill-grace"), true));
  c.default_time_zone = get("time-zone")->value;
  if (auto z = epoch::TimeZone::locate(c.default_time_zone); !z.ok()) {
    return bad(*get("time-zone"), z.status().message());
  }
  EPOCH_ASSIGN_OR_RETURN(c.retention_runs, integer<int>(*get("retention-runs"), 1, 1000000));
  if (const Source* s = get("retention-max-age")) {
    auto d = epoch::parse_duration(s->value);
    if (!d.ok()) return bad(*s, d.status().message());
    if (d->to_millis().count() <= 0) return bad(*s, "must be longer than zero");
    c.retention_max_age = *d;
  }
  EPOCH_ASSIGN_OR_RETURN(c.retention_interval, duration(*get("retention-interval"), true));
  EPOCH_ASSIGN_OR_RETURN(c.unknown_task_timeout, duration(*get("unknown-task-timeout"), false));
  EPOCH_ASSIGN_OR_RETURN(c.auth_mode, one_of(*get("auth"), kAuthModes));
  if (const Source* s = get("token-public-keys")) c.token.public_key_files = split_list(s->value);
  if (const Source* s = get("token-hs256-secret-file")) c.token.hs256_secret_file = s->value;
  if (const Source* s = get("token-jwks")) c.token.jwks_file = s->value;
  if (const Source* s = get("token-issuer")) c.token.issuer = s->value;
  if (const Source* s = get("token-audience")) c.token.audience = s->value;
  {
    EPOCH_ASSIGN_OR_RETURN(const auto skew, duration(*get("token-skew"), true));
    c.token.skew = std::chrono::duration_cast<std::chrono::seconds>(skew);
  }
  c.token.role_claim = get("token-role-claim")->value;
  if (const Source* s = get("token-role-map")) {
    for (const std::string& entry : split_list(s->value)) {
      const auto eq = entry.rfind('=');
      if (eq == std::string::npos || eq == 0) return bad(*s, "'" + entry + "' is not value=ROLE");
      auto role = parse_role(entry.substr(eq + 1));
      if (!role.ok()) return bad(*s, role.status().message());
      c.token.role_map[entry.substr(0, eq)] = *role;
    }
  }
  if (c.auth_mode == AuthMode::kToken && c.token.public_key_files.empty() &&
      c.token.hs256_secret_file.empty() && c.token.jwks_file.empty()) {
    return epoch::invalid_argument(
        "epochd: auth = token needs keys: set --token-public-keys, --token-hs256-secret-file "
        "or --token-jwks");
  }
  const auto add_user = [&](const Source& s, const std::string& entry) -> epoch::Status {
    auto u = parse_user(entry);
    if (!u.ok()) return bad(s, u.status().message());
    if (!c.auth_users.emplace(u->first, u->second).second) {
      return bad(s, "user '" + u->first + "' is listed twice");
    }
    return epoch::ok_status();
  };
  if (const Source* s = get("auth-users")) {
    for (const std::string& entry : split_list(s->value))
      EPOCH_RETURN_IF_ERROR(add_user(*s, entry));
  }
  if (const Source* s = get("auth-users-file")) {
    std::ifstream in(s->value);
    if (!in) return bad(*s, "cannot read '" + s->value + "'");
    for (std::string line; std::getline(in, line);) {
      line.erase(0, line.find_first_not_of(" \t"));
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (!line.empty() && line[0] != '#') EPOCH_RETURN_IF_ERROR(add_user(*s, line));
    }
  }
  if (c.auth_mode == AuthMode::kBasic && c.auth_users.empty()) {
    return epoch::invalid_argument(
        "epochd: auth = basic needs users: set --auth-users or --auth-users-file");
  }
  EPOCH_ASSIGN_OR_RETURN(c.audit_retention,
                         integer<std::int64_t>(*get("audit-retention"), 0, 1000000000));
  EPOCH_ASSIGN_OR_RETURN(const std::string open_health,
                         one_of(*get("auth-open-health"), {"true", "false"}));
  c.auth_open_health = open_health == "true";
  EPOCH_ASSIGN_OR_RETURN(const std::string force_none,
                         one_of(*get("auth-force-none"), {"false", "true"}));
  const bool loopback = c.listen_address == "127.0.0.1" || c.listen_address == "::1" ||
                        c.listen_address == "localhost" || c.listen_address.rfind("127.", 0) == 0;
  EPOCH_ASSIGN_OR_RETURN(c.auth_workers, integer<int>(*get("auth-workers"), 1, 16));
  EPOCH_ASSIGN_OR_RETURN(c.auth_failures_per_minute,
                         integer<int>(*get("auth-failures-per-minute"), 0, 1000000));
  EPOCH_ASSIGN_OR_RETURN(const std::string exec_role,
                         one_of(*get("host-exec-role"), {"auto", "READ_WRITE", "ADMIN", "NONE"}));
  if (exec_role == "auto") {
    // Running code on the host is the operator's decision: a daemon others
    // can reach (credentials, or a non-loopback address) allows only ADMIN.
    c.host_exec_role = c.auth_mode == AuthMode::kNone && loopback ? Role::kReadWrite : Role::kAdmin;
  } else if (exec_role == "NONE") {
    c.host_exec_role = std::nullopt;
  } else {
    c.host_exec_role = *parse_role(exec_role);
  }
  if (const Source* s = get("volume-roots")) {
    c.volume_roots = split_list(s->value);
    for (const std::string& r : c.volume_roots) {
      if (r.empty() || r[0] != '/' || r.find_first_of(":,") != std::string::npos)
        return bad(*s, "'" + r + "' is not an absolute directory path");
    }
  }
  if (const Source* s = get("task-env-passthrough")) {
    c.local.env_passthrough = split_list(s->value);
    for (const std::string& n : c.local.env_passthrough) {
      if (n.find('=') != std::string::npos) return bad(*s, "'" + n + "' is not a variable name");
    }
  }
  if (c.auth_mode == AuthMode::kNone && !loopback && force_none != "true") {
    return epoch::invalid_argument(
        "epochd: auth = none lets anyone change anything, so it is only allowed on a loopback "
        "address; listening on " +
        c.listen_address + " needs --auth basic (or --auth-force-none true)");
  }
  if (const Source* s = get("webhook-urls")) {
    EPOCH_ASSIGN_OR_RETURN(c.webhook.urls, url_list(*s));
  }
  if (const Source* s = get("webhook-secret-file")) {
    EPOCH_ASSIGN_OR_RETURN(c.webhook.secret, secret_file(*s));
  }
  if (const Source* s = get("webhook-allow-networks")) {
    // Checked (address/prefix) by epoch::make_webhook_sink at start-up.
    c.webhook.allow_networks = split_list(s->value);
  }
  {
    const std::vector<std::string> events = split_list(get("webhook-events")->value);
    c.webhook.events = std::set<std::string>(events.begin(), events.end());
  }
  EPOCH_ASSIGN_OR_RETURN(c.running_long_after, duration(*get("notify-running-longer-than"), true));
  EPOCH_ASSIGN_OR_RETURN(c.webhook.timeout, duration(*get("webhook-timeout"), false));
  EPOCH_ASSIGN_OR_RETURN(c.webhook.max_attempts, integer<int>(*get("webhook-attempts"), 1, 100));
  if (const Source* s = get("webhook-ca-file")) c.webhook.ca_file = s->value;
  if (const Source* s = get("mail-smtp-server")) {
    epoch::MailOptions m;
    m.server = s->value;
    EPOCH_ASSIGN_OR_RETURN(m.port, integer<int>(*get("mail-smtp-port"), 1, 65535));
    EPOCH_ASSIGN_OR_RETURN(const std::string security,
                           one_of(*get("mail-smtp-security"), {"starttls", "tls", "none"}));
    m.security = security == "tls"    ? epoch::MailOptions::Security::kImplicitTls
                 : security == "none" ? epoch::MailOptions::Security::kNone
                                      : epoch::MailOptions::Security::kStartTls;
    if (const Source* u = get("mail-smtp-username")) m.username = u->value;
    if (const Source* p = get("mail-smtp-password")) m.password = p->value;
    if (const Source* p = get("mail-smtp-password-file")) {
      EPOCH_ASSIGN_OR_RETURN(m.password, secret_file(*p));
    }
    const Source* from = get("mail-from");
    if (from == nullptr) return bad(*s, "a mail server needs --mail-from (the sender address)");
    m.from_address = from->value;
    if (const Source* n = get("mail-from-name")) m.from_name = n->value;
    if (const Source* r = get("mail-default-recipients")) {
      m.default_recipients = split_list(r->value);
    }
    EPOCH_ASSIGN_OR_RETURN(const std::string no_success,
                           one_of(*get("mail-disable-for-successful-runs"), {"false", "true"}));
    m.disable_for_successful_runs = no_success == "true";
    EPOCH_ASSIGN_OR_RETURN(m.timeout, duration(*get("mail-timeout"), false));
    EPOCH_ASSIGN_OR_RETURN(m.max_attempts, integer<int>(*get("mail-attempts"), 1, 100));
    if (const Source* ca = get("mail-ca-file")) m.ca_file = ca->value;
    c.mail = std::move(m);
  }
  EPOCH_ASSIGN_OR_RETURN(c.log_format, one_of(*get("log-format"), kLogFormats));
  EPOCH_ASSIGN_OR_RETURN(c.log_level, one_of(*get("log-level"), kLogLevels));
  return std::optional<Config>(std::move(c));
}

std::string advertised_url(const Config& c, std::uint16_t bound_port,
                           const std::function<const char*(const char*)>& getenv) {
  if (c.advertised_explicit) return c.advertised_url;
  std::string host = c.listen_address;
  if (const char* h = getenv("HOST"); h != nullptr && *h != '\0') {
    host = h;
  } else if (host == "0.0.0.0" || host == "::") {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) == 0 && name[0] != '\0') host = name;
  }
  std::string port = std::to_string(bound_port);
  const std::string var = "PORT_" + port;
  if (const char* p = getenv(var.c_str()); p != nullptr && *p != '\0') port = p;
  return (c.tls_cert_file.empty() ? "http://" : "https://") + host + ":" + port;
}

}  // namespace epochd
