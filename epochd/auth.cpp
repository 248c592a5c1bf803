#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <vector>

#include "jwt.h"

namespace epochd {

thread_local std::string Auth::last_error_;
namespace {

constexpr const char* kScheme = "pbkdf2-sha256";
constexpr std::size_t kSaltBytes = 16, kHashBytes = 32;
constexpr std::chrono::minutes kCacheIdle{30};
constexpr std::size_t kCacheSize = 500;

std::array<unsigned char, 32> sha256(const std::string& s) {
  std::array<unsigned char, 32> d{};
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

bool pbkdf2(const std::string& password, const std::vector<unsigned char>& salt, int iterations,
            unsigned char* out, std::size_t n) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                           static_cast<int>(salt.size()), iterations, EVP_sha256(),
                           static_cast<int>(n), out) == 1;
}

std::string path_of(const HttpRequest& req) {
  return req.target.substr(0, req.target.find('?'));
}

}  // namespace

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(std::max(len, 0)));
  return out;
}

std::optional<std::vector<unsigned char>> unbase64(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::vector<unsigned char> out(3 * text.size() / 4);
  const int len = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
  if (len < 0) return std::nullopt;
  std::size_t pad = 0;
  if (text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(len) - pad);
  return out;
}

epoch::StatusOr<Role> parse_role(const std::string& text) {
  if (text == "READ_ONLY" || text == "EPOCH_EXTERNAL_READ_ONLY") return Role::kReadOnly;
  if (text == "READ_WRITE" || text == "EPOCH_EXTERNAL_READ_WRITE") return Role::kReadWrite;
  if (text == "ADMIN") return Role::kAdmin;
  return epoch::invalid_argument("unknown role '" + text +
                                 "' (READ_ONLY, READ_WRITE, ADMIN, EPOCH_EXTERNAL_READ_ONLY or "
                                 "EPOCH_EXTERNAL_READ_WRITE)");
}

const char* to_string(Role role) {
  switch (role) {
    case Role::kReadOnly:
      return "READ_ONLY";
    case Role::kReadWrite:
      return "READ_WRITE";
    case Role::kAdmin:
      return "ADMIN";
  }
  return "READ_ONLY";
}

epoch::StatusOr<std::string> hash_password(const std::string& password, int iterations) {
  std::vector<unsigned char> salt(kSaltBytes);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return epoch::internal_error("no random bytes for a salt");
  }
  std::array<unsigned char, kHashBytes> hash{};
  if (!pbkdf2(password, salt, iterations, hash.data(), hash.size())) {
    return epoch::internal_error("PBKDF2 failed");
  }
  return std::string(kScheme) + "$" + std::to_string(iterations) + "$" +
         base64(salt.data(), salt.size()) + "$" + base64(hash.data(), hash.size());
}

bool verify_password(const std::string& password, const std::string& stored) {
  if (stored.rfind(std::string(kScheme) + "$", 0) != 0) {
    // Plain text (Epoch's config): compare digests, so the time does not
    // depend on where the strings differ.
    const auto a = sha256(password), b = sha256(stored);
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
  }
  const auto p1 = stored.find('$'), p2 = stored.find('$', p1 + 1), p3 = stored.find('$', p2 + 1);
  if (p2 == std::string::npos || p3 == std::string::npos) return false;
  int iterations = 0;
  try {
    iterations = std::stoi(stored.substr(p1 + 1, p2 - p1 - 1));
  } catch (...) {
    return false;
  }
  const auto salt = unbase64(stored.substr(p2 + 1, p3 - p2 - 1));
  const auto expected = unbase64(stored.substr(p3 + 1));
  if (!salt || !expected || expected->empty() || iterations < 1) return false;
  std::vector<unsigned char> got(expected->size());
  if (!pbkdf2(password, *salt, iterations, got.data(), got.size())) return false;
  return CRYPTO_memcmp(got.data(), expected->data(), got.size()) == 0;
}

epoch::StatusOr<std::pair<std::string, AuthUser>> parse_user(const std::string& entry) {
  const auto first = entry.find(':');
  const auto last = entry.rfind(':');
  if (first == std::string::npos || first == last || first == 0) {
    return epoch::invalid_argument("user entry '" + entry.substr(0, first) +
                                   ":...' must be name:password-or-hash:ROLE");
  }
  AuthUser u;
  u.password = entry.substr(first + 1, last - first - 1);
  if (u.password.empty()) {
    return epoch::invalid_argument("user '" + entry.substr(0, first) + "' has an empty password");
  }
  auto role = parse_role(entry.substr(last + 1));
  if (!role.ok()) {
    return epoch::invalid_argument("user '" + entry.substr(0, first) +
                                   "': " + role.status().message());
  }
  u.role = *role;
  return std::pair{entry.substr(0, first), u};
}

HttpResponse whoami(const Principal& who, const std::string& auth_mode) {
  const auto quoted = [](std::string_view v) {
    std::string out = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
    return out + "\"";
  };
  HttpResponse r;
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = R"({"status":"SUCCESS","data":{"user":)" + quoted(who.user) + R"(,"role":)" +
           quoted(to_string(who.role)) + R"(,"authMode":)" + quoted(auth_mode) +
           R"(},"message":"success"})";
  return r;
}

Role required_role(const HttpRequest& req) {
  const std::string path = path_of(req);
  if (path.rfind("/apis/v1/audit", 0) == 0) return Role::kAdmin;
  if (req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS")
    return Role::kReadOnly;
  return Role::kReadWrite;
}

Auth::Auth(AuthOptions options) : options_(std::move(options)) {
  // A hash like the users' (same iterations as the first hashed user's).
  int iterations = 210000;
  for (const auto& [name, u] : options_.users) {
    if (u.password.rfind(std::string(kScheme) + "$", 0) == 0) {
      try {
        iterations = std::stoi(u.password.substr(std::strlen(kScheme) + 1));
      } catch (...) {
      }
      break;
    }
  }
  if (auto h = hash_password("not a password", iterations); h.ok()) dummy_hash_ = *h;
}

bool Auth::has_plain_passwords() const {
  return std::any_of(options_.users.begin(), options_.users.end(), [](const auto& u) {
    return u.second.password.rfind(std::string(kScheme) + "$", 0) != 0;
  });
}

std::optional<Principal> Auth::authenticate(const HttpRequest& req) {
  const std::string header(req.header("Authorization"));
  if (options_.mode == "token") {
    if (header.size() < 8 || header.compare(0, 7, "Bearer ") != 0) {
      last_error_ = "a bearer token is required";
      return std::nullopt;
    }
    auto p = options_.tokens->verify(header.substr(7), std::time(nullptr));
    if (!p.ok()) {
      last_error_ = p.status().message();
      return std::nullopt;
    }
    return *p;
  }
  if (header.size() < 7 || header.compare(0, 6, "Basic ") != 0) return std::nullopt;
  const auto now = std::chrono::steady_clock::now();
  const auto digest = sha256(header);
  const std::string key(reinterpret_cast<const char*>(digest.data()), digest.size());
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end() && now - it->second.last_used < kCacheIdle) {
      it->second.last_used = now;
      return it->second.principal;
    }
  }
  const auto decoded = unbase64(header.substr(6));
  if (!decoded) return std::nullopt;
  const std::string text(decoded->begin(), decoded->end());
  const auto colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  const std::string user = text.substr(0, colon), password = text.substr(colon + 1);
  const auto it = options_.users.find(user);
  if (it == options_.users.end()) {
    verify_password(password, dummy_hash_);  // the same cost as a known user
    return std::nullopt;
  }
  if (!verify_password(password, it->second.password)) return std::nullopt;
  Principal p{user, it->second.role};
  std::lock_guard lock(mu_);
  if (cache_.size() >= kCacheSize) {
    auto oldest = cache_.begin();
    for (auto i = cache_.begin(); i != cache_.end(); ++i)
      if (i->second.last_used < oldest->second.last_used) oldest = i;
    cache_.erase(oldest);
  }
  cache_[key] = Cached{p, now};
  return p;
}

std::optional<Principal> Auth::check(const HttpRequest& req, const Responder& respond) {
  const std::string path = path_of(req);
  if (options_.mode == "none") return Principal{"default-user", Role::kReadWrite};
  if (options_.open_health &&
      (path == "/healthcheck" || path == "/metrics" || path == "/apis/housekeeping/v1/leader")) {
    return Principal{"anonymous", Role::kReadOnly};
  }
  const auto p = authenticate(req);
  if (!p) {
    if (options_.mode == "token") {
      // (last_error_ is per thread: see authenticate.)
      HttpResponse r = failure_response(401, last_error_);
      r.headers.emplace_back("WWW-Authenticate",
                             "Bearer realm=\"" + options_.realm + "\", error=\"invalid_token\"");
      respond(std::move(r));
      return std::nullopt;
    }
    HttpResponse r = failure_response(401, "Credentials are required to access this resource.");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"" + options_.realm + "\"");
    respond(std::move(r));
    return std::nullopt;
  }
  const Role need = required_role(req);
  if (static_cast<int>(p->role) < static_cast<int>(need)) {
    respond(failure_response(403, "User " + p->user + " (" + to_string(p->role) + ") may not " +
                                      req.method + " " + path + ": " + to_string(need) +
                                      " is needed"));
    return std::nullopt;
  }
  return p;
}

}  // namespace epochd
