// Shared by the notifiers (webhooks, mail): which notification a run event
// is, whether a topology wants it, and the address rules for URLs a
// topology chose (which IP addresses a webhook may connect to).
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "epoch/events.h"

namespace epoch::notify {

// RUN_SUCCEEDED, RUN_FAILED, RUN_TIMED_OUT (a FAILED run with a TIMED_OUT
// task), RUN_MISSED, RUN_SKIPPED for a final run state; "" for anything
// else (a RUNNING run, non-run events).
std::string event_name(const Event& e);

// The topology's own selection (notify.events), or null when it has none.
const std::vector<std::string>* topology_events(const Event& e);

bool contains(const std::vector<std::string>& v, const std::string& s);
// Whether a selection of notification names (a topology's list, the
// operator's set) wants `name`: a timed-out run is a failed one, so
// RUN_FAILED selects RUN_TIMED_OUT too.
template <typename Names>
bool selects(const Names& chosen, const std::string& name) {
  const auto has = [&](std::string_view n) {
    return std::find(chosen.begin(), chosen.end(), n) != chosen.end();
  };
  return has(name) || (name == "RUN_TIMED_OUT" && has("RUN_FAILED"));
}

// Lower-case hex of `n` bytes (signatures, message ids).
std::string to_hex(const unsigned char* data, std::size_t n);

// libcurl's global initialisation, once per process.
void init_curl();

// --- Addresses. An IP address is 16 bytes; an IPv4 address is kept as its
// IPv4-mapped IPv6 form (::ffff:a.b.c.d), so one set of rules covers both.
using IpAddress = std::array<unsigned char, 16>;

// An address and a prefix length, 0-128 (IPv4 a.b.c.d/n is ::ffff:a.b.c.d/96+n,
// so an IPv4 network never holds an IPv6 address).
struct IpNetwork {
  IpAddress base{};  // host bits zero
  int prefix = 128;
};

// "127.0.0.1", "::1", "::ffff:10.0.0.1"; nullopt for anything else (names,
// zone ids, surrounding brackets or spaces).
std::optional<IpAddress> parse_ip(std::string_view text);

// "10.0.0.0/8", "fd00::/8", or one address ("127.0.0.1" is 127.0.0.1/32).
// Host bits beyond the prefix are ignored ("10.1.2.3/8" is 10.0.0.0/8).
// nullopt when malformed or the prefix is out of range.
std::optional<IpNetwork> parse_network(std::string_view text);

// The address of an AF_INET or AF_INET6 socket address of `len` bytes;
// nullopt for any other family or a short length.
std::optional<IpAddress> from_sockaddr(const sockaddr* address, std::size_t len);

bool in_network(const IpAddress& a, const IpNetwork& n);

// "169.254.169.254" for IPv4 (and IPv4-mapped) addresses, else "fe80::1".
std::string format_ip(const IpAddress& a);

enum class AddressKind {
  kPublic,
  kUnspecified,  // 0.0.0.0/8, ::
  kLoopback,     // 127.0.0.0/8, ::1
  kLinkLocal,    // 169.254.0.0/16, fe80::/10
  kPrivate,      // 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7, fec0::/10,
                 // 64:ff9b:1::/48 (local NAT64)
  kMulticast,    // 224.0.0.0/4, ff00::/8
  kBroadcast,    // 255.255.255.255
  kReserved,     // 240.0.0.0/4 (but the broadcast address)
};

// What `a` is. IPv6 forms that carry an IPv4 address — mapped
// ::ffff:0:0/96, compatible ::/96, translated ::ffff:0:0:0/96, NAT64
// 64:ff9b::/96 and 6to4 2002::/16 — are what the IPv4 address they carry is.
AddressKind classify(const IpAddress& a);

// "a loopback address", "a private address", ...
std::string_view describe(AddressKind kind);

// Why a URL a topology chose may not connect to `a` — "169.254.169.254 is a
// link-local address" — or "" when it may: `a` is public, or `a` (or the
// IPv4 address it carries) is in one of the `allowed` networks.
std::string address_refusal(const IpAddress& a, const std::vector<IpNetwork>& allowed);

}  // namespace epoch::notify
