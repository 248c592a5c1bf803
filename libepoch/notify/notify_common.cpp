#include "notify_common.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

namespace epoch::notify {

std::string event_name(const Event& e) {
  if (e.type == Event::Type::kRunRunningLong) return "RUN_RUNNING_LONG";
  if (e.type != Event::Type::kRunStateChanged || !e.run_state) return "";
  switch (*e.run_state) {
    case RunState::kRunning:
      return "";
    case RunState::kSuccessful:
    case RunState::kCompleted:
      return "RUN_SUCCEEDED";
    case RunState::kFailed:
      if (e.run) {
        for (const auto& [name, t] : e.run->tasks)
          if (t.state == TaskState::kTimedOut) return "RUN_TIMED_OUT";
      }
      return "RUN_FAILED";
    case RunState::kMissed:
      return "RUN_MISSED";
    case RunState::kSkipped:
      return "RUN_SKIPPED";
  }
  return "";
}

const std::vector<std::string>* topology_events(const Event& e) {
  if (!e.topology || !e.topology->notify) return nullptr;
  const NotifyRouting& r = routing_of(*e.topology->notify);
  return r.events ? &*r.events : nullptr;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

namespace {

IpAddress mapped(const unsigned char* v4) {
  IpAddress a{};
  a[10] = a[11] = 0xff;
  std::memcpy(a.data() + 12, v4, 4);
  return a;
}

bool zero(const IpAddress& a, std::size_t from, std::size_t to) {
  return std::all_of(a.begin() + static_cast<std::ptrdiff_t>(from),
                     a.begin() + static_cast<std::ptrdiff_t>(to),
                     [](unsigned char b) { return b == 0; });
}

bool is_mapped(const IpAddress& a) {
  return zero(a, 0, 10) && a[10] == 0xff && a[11] == 0xff;
}

// The IPv4 address (as ::ffff:a.b.c.d) an IPv6 address carries: mapped,
// translated (::ffff:0:a.b.c.d), compatible (::a.b.c.d, but :: and ::1),
// NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:AABB:CCDD::).
std::optional<IpAddress> carried_v4(const IpAddress& a) {
  if (is_mapped(a)) return a;
  if (zero(a, 0, 8) && a[8] == 0xff && a[9] == 0xff && a[10] == 0 && a[11] == 0) {
    return mapped(a.data() + 12);
  }
  if (zero(a, 0, 12) && !(zero(a, 12, 15) && a[15] <= 1)) return mapped(a.data() + 12);
  if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && zero(a, 4, 12)) {
    return mapped(a.data() + 12);
  }
  if (a[0] == 0x20 && a[1] == 0x02) return mapped(a.data() + 2);
  return std::nullopt;
}

AddressKind classify_v4(const unsigned char* b) {
  if (b[0] == 0) return AddressKind::kUnspecified;
  if (b[0] == 127) return AddressKind::kLoopback;
  if (b[0] == 169 && b[1] == 254) return AddressKind::kLinkLocal;
  if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
      (b[0] == 100 && (b[1] & 0xc0) == 64)) {
    return AddressKind::kPrivate;
  }
  if ((b[0] & 0xf0) == 224) return AddressKind::kMulticast;
  if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) return AddressKind::kBroadcast;
  if ((b[0] & 0xf0) == 240) return AddressKind::kReserved;
  return AddressKind::kPublic;
}

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view text) {
  const std::string s(text);
  unsigned char v4[4];
  if (inet_pton(AF_INET, s.c_str(), v4) == 1) return mapped(v4);
  IpAddress a{};
  if (inet_pton(AF_INET6, s.c_str(), a.data()) == 1) return a;
  return std::nullopt;
}

std::optional<IpNetwork> parse_network(std::string_view text) {
  const auto slash = text.find('/');
  const std::string_view address = text.substr(0, slash);
  const auto a = parse_ip(address);
  if (!a) return std::nullopt;
  const bool v4 = address.find(':') == std::string_view::npos;
  IpNetwork n{*a, 128};
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    int prefix = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 ||
        prefix > (v4 ? 32 : 128)) {
      return std::nullopt;
    }
    n.prefix = v4 ? 96 + prefix : prefix;
  }
  for (int bit = n.prefix; bit < 128; ++bit)
    n.base[static_cast<std::size_t>(bit / 8)] &= static_cast<unsigned char>(~(0x80 >> (bit % 8)));
  return n;
}

std::optional<IpAddress> from_sockaddr(const sockaddr* address, std::size_t len) {
  if (address == nullptr || len < sizeof(sa_family_t)) return std::nullopt;
  if (address->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in{};
    std::memcpy(&in, address, sizeof in);
    return mapped(reinterpret_cast<const unsigned char*>(&in.sin_addr));
  }
  if (address->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in{};
    std::memcpy(&in, address, sizeof in);
    IpAddress a{};
    std::memcpy(a.data(), &in.sin6_addr, a.size());
    return a;
  }
  return std::nullopt;
}

bool in_network(const IpAddress& a, const IpNetwork& n) {
  for (int bit = 0; bit < n.prefix; ++bit) {
    const auto i = static_cast<std::size_t>(bit / 8);
    const int mask = 0x80 >> (bit % 8);
    if ((a[i] & mask) != (n.base[i] & mask)) return false;
  }
  return true;
}

std::string format_ip(const IpAddress& a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (is_mapped(a)) {
    inet_ntop(AF_INET, a.data() + 12, text, sizeof text);
  } else {
    inet_ntop(AF_INET6, a.data(), text, sizeof text);
  }
  return text;
}

AddressKind classify(const IpAddress& a) {
  if (is_mapped(a)) return classify_v4(a.data() + 12);
  if (zero(a, 0, 16)) return AddressKind::kUnspecified;
  if (zero(a, 0, 15) && a[15] == 1) return AddressKind::kLoopback;
  if (const auto v4 = carried_v4(a)) return classify_v4(v4->data() + 12);
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return AddressKind::kLinkLocal;
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return AddressKind::kPrivate;  // site-local
  if ((a[0] & 0xfe) == 0xfc) return AddressKind::kPrivate;
  if (a[0] == 0xff) return AddressKind::kMulticast;
  if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0 && a[5] == 1) {
    return AddressKind::kPrivate;  // local-use NAT64
  }
  return AddressKind::kPublic;
}

std::string_view describe(AddressKind kind) {
  switch (kind) {
    case AddressKind::kPublic:
      return "a public address";
    case AddressKind::kUnspecified:
      return "an unspecified address";
    case AddressKind::kLoopback:
      return "a loopback address";
    case AddressKind::kLinkLocal:
      return "a link-local address";
    case AddressKind::kPrivate:
      return "a private address";
    case AddressKind::kMulticast:
      return "a multicast address";
    case AddressKind::kBroadcast:
      return "a broadcast address";
    case AddressKind::kReserved:
      return "a reserved address";
  }
  return "an address";
}

std::string address_refusal(const IpAddress& a, const std::vector<IpNetwork>& allowed) {
  const AddressKind kind = classify(a);
  if (kind == AddressKind::kPublic) return "";
  const auto v4 = carried_v4(a);
  for (const IpNetwork& n : allowed) {
    if (in_network(a, n) || (v4 && in_network(*v4, n))) return "";
  }
  return format_ip(a) + " is " + std::string(describe(kind));
}

}  // namespace epoch::notify
