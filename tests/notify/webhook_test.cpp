// Where a webhook a topology chose may connect, and with which key it is
// signed: the address classifier (IPv4, IPv6 and the IPv6 forms carrying an
// IPv4 address) and the allow-list as tables; then the sink itself over real
// HTTP on loopback (tests/epochd/webhook_receiver.py): refusals by the
// address actually connected to (literals, a name resolving to loopback, a
// connection cached for an operator's URL, a proxy from the environment,
// credentials), delivery once the operator allows the network, and the
// per-topology signing key. epochd end to end: tests/epochd/notify_test.cpp.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "../../libepoch/notify/notify_common.h"
#include "daemon_process.h"
#include "epoch/webhook_sink.h"
#include "hmac.h"

namespace json = boost::json;
using epoch::notify::AddressKind;
using namespace std::chrono_literals;

namespace {

AddressKind kind_of(const std::string& text) {
  const auto a = epoch::notify::parse_ip(text);
  REQUIRE_MESSAGE(a, text);
  return epoch::notify::classify(*a);
}

std::vector<epoch::notify::IpNetwork> networks(const std::vector<std::string>& texts) {
  std::vector<epoch::notify::IpNetwork> out;
  for (const std::string& t : texts) {
    const auto n = epoch::notify::parse_network(t);
    REQUIRE_MESSAGE(n, t);
    out.push_back(*n);
  }
  return out;
}

std::string refusal(const std::string& address, const std::vector<std::string>& allowed = {}) {
  const auto a = epoch::notify::parse_ip(address);
  REQUIRE_MESSAGE(a, address);
  return epoch::notify::address_refusal(*a, networks(allowed));
}

using epoch::test::hmac_sha256_hex;

// webhook_receiver.py on 127.0.0.1, keeping connections open (HTTP/1.1).
struct Receiver {
  std::string dir;
  pid_t pid = -1;
  std::uint16_t port = 0;
  explicit Receiver(const std::string& d) : dir(d) {
    pid = epoch::test::spawn_process("python3",
                                     {EPOCH_SOURCE_DIR "/tests/epochd/webhook_receiver.py",
                                      dir + "/port", dir + "/hooks.jsonl", "0", "keepalive"},
                                     "", dir + "/receiver.out", dir + "/receiver.out");
    REQUIRE(epoch::test::eventually([&] { return std::filesystem::exists(dir + "/port"); }, 10s));
    std::ifstream(dir + "/port") >> port;
  }
  ~Receiver() {
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::vector<json::object> hooks() const {
    std::vector<json::object> out;
    std::ifstream in(dir + "/hooks.jsonl");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(json::parse(line).as_object());
    return out;
  }
  bool saw_path(const std::string& path) const {
    for (const auto& h : hooks())
      if (h.at("path").as_string() == path) return true;
    return false;
  }
};

struct Outcome {
  std::string url;
  bool delivered = false;
  std::string why;
};

// on_result runs on the sink's thread: outcomes are collected under a lock.
struct Outcomes {
  std::mutex mu;
  std::vector<Outcome> all;
  std::function<void(const std::string&, bool, const std::string&)> handler() {
    return [this](const std::string& url, bool delivered, const std::string& why) {
      std::lock_guard lock(mu);
      all.push_back({url, delivered, why});
    };
  }
  std::optional<Outcome> of(const std::string& url) {
    std::lock_guard lock(mu);
    for (const Outcome& o : all)
      if (o.url == url) return o;
    return std::nullopt;
  }
  std::size_t count(const std::string& url) {
    std::lock_guard lock(mu);
    return static_cast<std::size_t>(
        std::count_if(all.begin(), all.end(), [&](const Outcome& o) { return o.url == url; }));
  }
  // Waits for the outcome of `url`.
  Outcome await(const std::string& url) {
    REQUIRE_MESSAGE(epoch::test::eventually([&] { return of(url).has_value(); }, 10s), url);
    return *of(url);
  }
};

// A finished run of `topology_id` whose topology names `webhooks`.
epoch::Event run_event(const std::string& topology_id, const std::string& run_id,
                       const std::vector<std::string>& webhooks) {
  auto topology = std::make_shared<epoch::Topology>();
  topology->name = topology_id;
  if (!webhooks.empty()) {
    epoch::NotifyRouting routing;
    routing.webhooks = webhooks;
    topology->notify = epoch::BlackholeNotification{std::move(routing)};
  }
  epoch::Event e;
  e.type = epoch::Event::Type::kRunStateChanged;
  e.topology_id = topology_id;
  e.run_id = run_id;
  e.run_state = epoch::RunState::kSuccessful;
  e.run_type = epoch::RunType::kInstant;
  e.time = epoch::Instant(std::chrono::milliseconds(1'000'000));
  e.topology = std::move(topology);
  return e;
}

// Sets (or, with nullptr, removes) an environment variable; restores it
// when it goes.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Retries far apart: a refusal that came back within a second was not retried.
epoch::WebhookOptions fast_options(Outcomes& outcomes) {
  epoch::WebhookOptions o;
  o.secret = "the operator's webhook secret";
  o.timeout = 5s;
  o.max_attempts = 3;
  o.initial_backoff = 30s;
  o.on_result = outcomes.handler();
  return o;
}

}  // namespace

TEST_CASE("addresses: what each is, IPv4, IPv6 and IPv6 carrying IPv4") {
  const std::vector<std::pair<std::string, AddressKind>> table = {
      // IPv4
      {"0.0.0.0", AddressKind::kUnspecified},
      {"0.1.2.3", AddressKind::kUnspecified},
      {"127.0.0.1", AddressKind::kLoopback},
      {"127.255.255.254", AddressKind::kLoopback},
      {"10.0.0.1", AddressKind::kPrivate},
      {"172.16.0.1", AddressKind::kPrivate},
      {"172.31.255.255", AddressKind::kPrivate},
      {"172.15.255.255", AddressKind::kPublic},
      {"172.32.0.0", AddressKind::kPublic},
      {"192.168.1.1", AddressKind::kPrivate},
      {"192.169.0.1", AddressKind::kPublic},
      {"100.64.0.1", AddressKind::kPrivate},
      {"100.127.255.255", AddressKind::kPrivate},
      {"100.128.0.0", AddressKind::kPublic},
      {"100.63.255.255", AddressKind::kPublic},
      {"169.254.169.254", AddressKind::kLinkLocal},
      {"169.253.0.1", AddressKind::kPublic},
      {"224.0.0.1", AddressKind::kMulticast},
      {"239.255.255.250", AddressKind::kMulticast},
      {"240.0.0.1", AddressKind::kReserved},
      {"255.255.255.255", AddressKind::kBroadcast},
      {"8.8.8.8", AddressKind::kPublic},
      {"93.184.216.34", AddressKind::kPublic},
      {"11.0.0.1", AddressKind::kPublic},
      // IPv6
      {"::", AddressKind::kUnspecified},
      {"::1", AddressKind::kLoopback},
      {"fe80::1", AddressKind::kLinkLocal},
      {"febf:ffff::1", AddressKind::kLinkLocal},
      {"fec0::1", AddressKind::kPrivate},
      {"fc00::1", AddressKind::kPrivate},
      {"fd12:3456:789a::1", AddressKind::kPrivate},
      {"ff02::1", AddressKind::kMulticast},
      {"ff05::1:3", AddressKind::kMulticast},
      {"64:ff9b:1::a00:1", AddressKind::kPrivate},
      {"2606:4700:4700::1111", AddressKind::kPublic},
      {"2001:db8::1", AddressKind::kPublic},
      {"fe00::1", AddressKind::kPublic},
      // IPv6 carrying IPv4: mapped, compatible, translated, NAT64, 6to4
      {"::ffff:127.0.0.1", AddressKind::kLoopback},
      {"::ffff:7f00:1", AddressKind::kLoopback},
      {"::ffff:169.254.169.254", AddressKind::kLinkLocal},
      {"::ffff:10.0.0.1", AddressKind::kPrivate},
      {"::ffff:0.0.0.0", AddressKind::kUnspecified},
      {"::ffff:8.8.8.8", AddressKind::kPublic},
      {"::127.0.0.1", AddressKind::kLoopback},
      {"::10.0.0.1", AddressKind::kPrivate},
      {"::8.8.8.8", AddressKind::kPublic},
      {"::ffff:0:127.0.0.1", AddressKind::kLoopback},
      {"64:ff9b::169.254.169.254", AddressKind::kLinkLocal},
      {"64:ff9b::a9fe:a9fe", AddressKind::kLinkLocal},
      {"64:ff9b::8.8.8.8", AddressKind::kPublic},
      {"2002:7f00:1::", AddressKind::kLoopback},
      {"2002:a00:1::1", AddressKind::kPrivate},
      {"2002:808:808::1", AddressKind::kPublic},
  };
  for (const auto& [text, kind] : table) {
    CAPTURE(text);
    CHECK(kind_of(text) == kind);
  }
  // Not addresses: names, zones, brackets, short forms.
  for (const char* text : {"localhost", "[::1]", "fe80::1%eth0", "127.1", "0x7f000001", "", " ::1",
                           "1.2.3.4.5", "::ffff:1.2.3"}) {
    CAPTURE(text);
    CHECK_FALSE(epoch::notify::parse_ip(text));
  }
}

TEST_CASE("addresses: the operator's allow-list (CIDRs) and the refusal text") {
  // Nothing allowed: every special address is refused, saying why.
  CHECK(refusal("169.254.169.254") == "169.254.169.254 is a link-local address");
  CHECK(refusal("127.0.0.1") == "127.0.0.1 is a loopback address");
  CHECK(refusal("::1") == "::1 is a loopback address");
  CHECK(refusal("::ffff:127.0.0.1") == "127.0.0.1 is a loopback address");
  CHECK(refusal("10.0.0.1") == "10.0.0.1 is a private address");
  CHECK(refusal("fd00::2") == "fd00::2 is a private address");
  CHECK(refusal("0.0.0.0") == "0.0.0.0 is an unspecified address");
  CHECK(refusal("::") == ":: is an unspecified address");
  CHECK(refusal("ff02::1") == "ff02::1 is a multicast address");
  CHECK(refusal("255.255.255.255") == "255.255.255.255 is a broadcast address");
  CHECK(refusal("8.8.8.8").empty());
  CHECK(refusal("2606:4700:4700::1111").empty());

  // Allowed networks: exactly their addresses; an IPv4 network also covers
  // the IPv6 forms carrying its addresses, and never other IPv6 addresses.
  const std::vector<std::string> allowed = {"127.0.0.1/32", "10.20.0.0/16", "fd00:1::/32",
                                            "192.168.7.7"};
  CHECK(refusal("127.0.0.1", allowed).empty());
  CHECK(refusal("::ffff:127.0.0.1", allowed).empty());
  CHECK(refusal("::127.0.0.1", allowed).empty());
  CHECK(refusal("127.0.0.2", allowed) == "127.0.0.2 is a loopback address");
  CHECK(refusal("::1", allowed) == "::1 is a loopback address");
  CHECK(refusal("10.20.0.1", allowed).empty());
  CHECK(refusal("10.20.255.255", allowed).empty());
  CHECK(refusal("10.21.0.1", allowed) == "10.21.0.1 is a private address");
  CHECK(refusal("fd00:1:ffff::1", allowed).empty());
  CHECK(refusal("fd00:2::1", allowed) == "fd00:2::1 is a private address");
  CHECK(refusal("192.168.7.7", allowed).empty());
  CHECK(refusal("192.168.7.8", allowed) == "192.168.7.8 is a private address");
  CHECK(refusal("169.254.169.254", allowed) == "169.254.169.254 is a link-local address");
  // IPv4 /0 is every IPv4 address (and its mapped forms), no IPv6 one.
  CHECK(refusal("169.254.169.254", {"0.0.0.0/0"}).empty());
  CHECK(refusal("::ffff:10.0.0.1", {"0.0.0.0/0"}).empty());
  CHECK(refusal("fe80::1", {"0.0.0.0/0"}) == "fe80::1 is a link-local address");
  CHECK(refusal("fe80::1", {"::/0"}).empty());
  CHECK(refusal("fe80::1", {"fe80::/10"}).empty());

  // Host bits beyond the prefix are ignored; malformed entries rejected.
  const auto n = epoch::notify::parse_network("10.1.2.3/8");
  REQUIRE(n);
  CHECK(n->prefix == 104);
  CHECK(epoch::notify::format_ip(n->base) == "10.0.0.0");
  CHECK(epoch::notify::in_network(*epoch::notify::parse_ip("10.255.0.1"), *n));
  CHECK_FALSE(epoch::notify::in_network(*epoch::notify::parse_ip("11.0.0.1"), *n));
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
                          "example.com/8", "10/8", "", "/8", "10.0.0.0/ 8"}) {
    CAPTURE(bad);
    CHECK_FALSE(epoch::notify::parse_network(bad));
  }
}

TEST_CASE("addresses: read from the socket address libcurl connects to") {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_addr.s_addr = htonl(0xa9fea9fe);  // 169.254.169.254
  const auto a = epoch::notify::from_sockaddr(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
  REQUIRE(a);
  CHECK(epoch::notify::format_ip(*a) == "169.254.169.254");
  CHECK(epoch::notify::classify(*a) == AddressKind::kLinkLocal);
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_addr = in6addr_loopback;
  const auto b = epoch::notify::from_sockaddr(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
  REQUIRE(b);
  CHECK(epoch::notify::format_ip(*b) == "::1");
  CHECK_FALSE(epoch::notify::from_sockaddr(reinterpret_cast<const sockaddr*>(&v6), 8));
  sockaddr unix_socket{};
  unix_socket.sa_family = AF_UNIX;
  CHECK_FALSE(epoch::notify::from_sockaddr(&unix_socket, sizeof unix_socket));
}

TEST_CASE("the per-topology key: HMAC-SHA256(secret, \"epoch-topology-webhook:\" + id), hex") {
  const std::string secret = "the operator's webhook secret";
  const std::string key = epoch::topology_webhook_key(secret, "billing");
  CHECK(key == hmac_sha256_hex(secret, "epoch-topology-webhook:billing"));
  CHECK(key.size() == 64);
  CHECK(key != epoch::topology_webhook_key(secret, "billing2"));
  CHECK(key != epoch::topology_webhook_key("another secret", "billing"));
  CHECK(epoch::topology_webhook_key("", "billing").empty());
}

TEST_CASE("make_webhook_sink refuses an allowed network that is not address[/prefix]") {
  epoch::WebhookOptions o;
  o.allow_networks = {"10.0.0.0/8", "10.0.0.0/33"};
  const auto sink = epoch::make_webhook_sink(o);
  REQUIRE_FALSE(sink.ok());
  CHECK(sink.status().message().find("'10.0.0.0/33'") != std::string::npos);
  o.allow_networks = {"10.0.0.0/8", "127.0.0.1", "::1/128", "fd00::/8"};
  CHECK(epoch::make_webhook_sink(o).ok());
}

TEST_CASE("a topology's webhook cannot reach loopback or private addresses; refusals not retried") {
  const std::string dir = epoch::test::make_temp_dir("webhook-ssrf");
  Receiver receiver(dir);
  Outcomes outcomes;
  epoch::WebhookOptions o = fast_options(outcomes);
  const std::string hook = receiver.base() + "/hook";
  o.urls = {hook};  // the operator's own: loopback is fine there
  auto sink = epoch::make_webhook_sink(o);
  REQUIRE(sink.ok());

  // The operator's URL first: its connection stays open in libcurl's cache
  // (the receiver keeps connections alive), so the topology's URL to the
  // same host and port below would go over it unless it connects afresh.
  (*sink)->on_event(run_event("warm", "run-1", {}));
  CHECK(outcomes.await(hook).delivered);
  REQUIRE(receiver.saw_path("/hook"));

  const std::string port = std::to_string(receiver.port);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://127.0.0.1:" + port + "/internal/admin", "refused: 127.0.0.1 is a loopback address"},
      // A name: judged by what it resolves to (127.0.0.1 or ::1).
      {"http://localhost:" + port + "/by-name", " is a loopback address"},
      {"http://[::1]:" + port + "/v6", "refused: ::1 is a loopback address"},
      {"http://[::ffff:127.0.0.1]:" + port + "/mapped", "refused: 127.0.0.1 is a loopback address"},
      {"http://2130706433:" + port + "/decimal", "refused: 127.0.0.1 is a loopback address"},
      {"http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a link-local"},
      {"http://10.0.0.1:2379/v2/keys", "refused: 10.0.0.1 is a private address"},
      {"http://[::1]:2379/", "refused: ::1 is a loopback address"},
      {"http://0.0.0.0:" + port + "/unspecified", "refused: 0.0.0.0 is an unspecified address"},
  };
  for (const auto& [url, why] : cases) {
    CAPTURE(url);
    const auto started = std::chrono::steady_clock::now();
    (*sink)->on_event(run_event("t", "run-" + url, {url}));
    const Outcome out = outcomes.await(url);
    CHECK_FALSE(out.delivered);
    CHECK(out.why.find(why) != std::string::npos);
    CHECK(out.why.find("--webhook-allow-networks") != std::string::npos);
    // Not retried (the next attempt would be 30 s later).
    CHECK(std::chrono::steady_clock::now() - started < 10s);
  }
  // The same refusal every time, one outcome per delivery.
  const std::string admin = cases[0].first;
  (*sink)->on_event(run_event("t", "run-again", {admin}));
  REQUIRE(epoch::test::eventually([&] { return outcomes.count(admin) == 2; }, 10s));
  // The operator's URL got every event meanwhile; the receiver saw no other path.
  const std::size_t events = 1 + cases.size() + 1;
  REQUIRE(epoch::test::eventually([&] { return outcomes.count(hook) == events; }, 10s));
  REQUIRE(epoch::test::eventually([&] { return receiver.hooks().size() == events; }, 10s));
  for (const auto& h : receiver.hooks())
    CHECK(h.at("path").as_string() == "/hook");
  sink->reset();
  std::filesystem::remove_all(dir);
}

TEST_CASE("a topology's webhook with credentials is refused, and they are not reported") {
  const std::string dir = epoch::test::make_temp_dir("webhook-userinfo");
  Receiver receiver(dir);
  Outcomes outcomes;
  epoch::WebhookOptions o = fast_options(outcomes);
  o.allow_networks = {"127.0.0.1/32"};
  auto sink = epoch::make_webhook_sink(o);
  REQUIRE(sink.ok());
  const std::string url =
      "http://user:pass@127.0.0.1:" + std::to_string(receiver.port) + "/with-credentials";
  (*sink)->on_event(run_event("t", "run-1", {url}));
  const std::string shown = receiver.base() + "/with-credentials";
  const Outcome out = outcomes.await(shown);
  CHECK_FALSE(out.delivered);
  CHECK(out.why.find("credentials") != std::string::npos);
  CHECK_FALSE(outcomes.of(url));
  std::this_thread::sleep_for(300ms);
  CHECK(receiver.hooks().empty());
  sink->reset();
  std::filesystem::remove_all(dir);
}

TEST_CASE("a proxy from the environment is not used for a topology's webhook") {
  const std::string dir = epoch::test::make_temp_dir("webhook-proxy");
  Receiver proxy(dir);  // logs the absolute URL of anything proxied through it
  Outcomes outcomes;
  epoch::WebhookOptions o = fast_options(outcomes);
  o.timeout = 2s;
  // The operator allows the proxy's address only: through the proxy the
  // private address would be reached unchecked.
  o.allow_networks = {"127.0.0.1/32"};
  const std::string operator_url = "http://operator-receiver.invalid/hook";
  o.urls = {operator_url};
  const std::string proxy_url = proxy.base();
  const ScopedEnv http_proxy("http_proxy", proxy_url.c_str());
  const ScopedEnv no_proxy("no_proxy", nullptr);
  const ScopedEnv no_proxy_upper("NO_PROXY", nullptr);
  auto sink = epoch::make_webhook_sink(o);
  REQUIRE(sink.ok());
  const std::string url = "http://10.255.255.1:9/internal";
  (*sink)->on_event(run_event("t", "run-1", {url}));
  const Outcome out = outcomes.await(url);
  // The operator's URL did go through the proxy: the environment applies.
  CHECK(outcomes.await(operator_url).delivered);
  CHECK_FALSE(out.delivered);
  CHECK(out.why.find("refused: 10.255.255.1 is a private address") != std::string::npos);
  CHECK_FALSE(proxy.saw_path(url));
  CHECK(proxy.saw_path(operator_url));
  sink->reset();
  std::filesystem::remove_all(dir);
}

TEST_CASE("allowed by the operator: delivered, signed with the topology's key, not the server's") {
  const std::string dir = epoch::test::make_temp_dir("webhook-allowed");
  Receiver receiver(dir);
  Outcomes outcomes;
  epoch::WebhookOptions o = fast_options(outcomes);
  o.allow_networks = {"127.0.0.0/8", "::1/128"};
  const std::string hook = receiver.base() + "/hook";
  o.urls = {hook};
  auto sink = epoch::make_webhook_sink(o);
  REQUIRE(sink.ok());
  const std::string own = receiver.base() + "/own";
  const std::string named = "http://localhost:" + std::to_string(receiver.port) + "/named";
  // The operator's URL named by the topology too: still the operator's (one copy).
  (*sink)->on_event(run_event("billing", "run-1", {own, named, hook}));
  CHECK(outcomes.await(hook).delivered);
  CHECK(outcomes.await(own).delivered);
  // localhost may resolve to ::1 first, which only the allow-list lets through
  // (nothing listens there: libcurl then tries 127.0.0.1).
  CHECK(outcomes.await(named).delivered);
  std::map<std::string, json::object> by_path;
  for (const auto& h : receiver.hooks())
    by_path[std::string(h.at("path").as_string())] = h;
  REQUIRE(by_path.size() == 3);
  const std::string topology_key = epoch::topology_webhook_key(o.secret, "billing");
  for (const char* path : {"/own", "/named"}) {
    CAPTURE(path);
    const auto& h = by_path.at(path);
    const std::string body(h.at("body").as_string());
    const std::string signature(h.at("headers").at("x-epoch-signature").as_string());
    CHECK(signature == "sha256=" + hmac_sha256_hex(topology_key, body));
    CHECK(signature != "sha256=" + hmac_sha256_hex(o.secret, body));
    CHECK(json::parse(body).at("topologyId").as_string() == "billing");
  }
  const auto& operator_hook = by_path.at("/hook");
  const std::string body(operator_hook.at("body").as_string());
  CHECK(operator_hook.at("headers").at("x-epoch-signature").as_string() ==
        "sha256=" + hmac_sha256_hex(o.secret, body));
  sink->reset();
  std::filesystem::remove_all(dir);
}
