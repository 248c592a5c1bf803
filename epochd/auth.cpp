#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstring>
#include <ctime>
#include <vector>

#include "../libepoch/support/base64.h"
#include "../libepoch/support/work_queue.h"
#include "jwt.h"

namespace epochd {

using epoch::base64;
using epoch::unbase64;

// The password-check threads: they run at nice 19, so that on a busy host
// PBKDF2 yields the CPU to the I/O and engine threads (and still progresses:
// nice 19 keeps a share, unlike SCHED_IDLE). The destructor finishes the
// checks already posted, then joins.
class PasswordWorkers : public epoch::WorkQueue<std::function<void()>> {
 public:
  explicit PasswordWorkers(int n)
      : WorkQueue({.threads = n}, []() -> Handler {
          // Linux: a thread's nice value is its own (PRIO_PROCESS with the tid).
          (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
          return [](std::function<void()>& f) { f(); };
        }) {}
};

namespace {

constexpr const char* kScheme = "pbkdf2-sha256";
constexpr std::size_t kSaltBytes = 16, kHashBytes = 32;
constexpr std::chrono::minutes kCacheIdle{30};
constexpr std::size_t kCacheSize = 500;
constexpr std::chrono::seconds kFailureWindow{60};
constexpr std::size_t kMaxTrackedClients = 10000;

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

}  // namespace

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

HttpResponse whoami(const Principal& who, AuthMode auth_mode) {
  const std::string user = utf8_safe(who.user);
  boost::json::object data;
  data["user"] = user;
  data["role"] = to_string(who.role);
  data["authMode"] = to_string(auth_mode);
  HttpResponse r = envelope(200, true, "success", boost::json::serialize(data));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

std::optional<Role> required_role(const Route& route, const AuthOptions& options) {
  if (!route.matched()) return Role::kReadOnly;  // to learn it is 404 or 405
  switch (route.spec->access) {
    case Access::kOpen:
      return std::nullopt;
    case Access::kHealth:
      return options.open_health ? std::nullopt : std::optional(Role::kReadOnly);
    case Access::kPage:
      return options.mode == AuthMode::kToken ? std::nullopt : std::optional(Role::kReadOnly);
    case Access::kRead:
      return Role::kReadOnly;
    case Access::kWrite:
      return Role::kReadWrite;
    case Access::kAdmin:
      return Role::kAdmin;
  }
  return Role::kAdmin;
}

Auth::Auth(AuthOptions options) : options_(std::move(options)) {
  // Passwords are checked in basic mode only (the hashing below costs a
  // start-up some 50 ms).
  if (options_.mode != AuthMode::kBasic) return;
  // Every check costs one PBKDF2 of the same work: the first hashed user's
  // iterations (else the default) for the dummy hash and for the plain-text
  // passwords, which are hashed now.
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
  for (auto& [name, u] : options_.users) {
    if (u.password.rfind(std::string(kScheme) + "$", 0) == 0) continue;
    had_plain_ = true;
    if (auto h = hash_password(u.password, iterations); h.ok()) u.password = *h;
  }
  if (auto h = hash_password("not a password", iterations); h.ok()) dummy_hash_ = *h;
  workers_ = std::make_unique<PasswordWorkers>(std::max(1, options_.workers));
}

Auth::~Auth() {
  workers_.reset();
}

AuthDecision Auth::unauthenticated(const std::string& why) const {
  AuthDecision d;
  d.kind = AuthDecision::Kind::kRefused;
  if (options_.mode == AuthMode::kToken) {
    d.response = failure_response(401, why);
    d.response.headers.emplace_back(
        "WWW-Authenticate", "Bearer realm=\"" + options_.realm + "\", error=\"invalid_token\"");
    return d;
  }
  d.response = failure_response(401, "Credentials are required to access this resource.");
  d.response.headers.emplace_back("WWW-Authenticate", "Basic realm=\"" + options_.realm + "\"");
  return d;
}

AuthDecision Auth::authorize(const Principal& p, const HttpRequest& req, const Route& route) const {
  AuthDecision d;
  const auto need = required_role(route, options_);
  if (need && static_cast<int>(p.role) < static_cast<int>(*need)) {
    d.kind = AuthDecision::Kind::kRefused;
    d.response = failure_response(403, "User " + p.user + " (" + to_string(p.role) + ") may not " +
                                           utf8_safe(req.method) + " " + route.decoded_path() +
                                           ": " + to_string(*need) + " is needed");
    return d;
  }
  d.kind = AuthDecision::Kind::kAllowed;
  d.principal = p;
  return d;
}

bool Auth::throttled(const std::string& address, bool fail) {
  if (options_.failures_per_minute <= 0) return false;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  auto it = failures_.find(address);
  if (it != failures_.end() && now - it->second.since >= kFailureWindow) {
    failures_.erase(it);
    it = failures_.end();
  }
  if (fail) {
    if (it == failures_.end()) {
      if (failures_.size() >= kMaxTrackedClients) {
        // Forget the clients whose window is over; if none, the oldest.
        auto oldest = failures_.begin();
        for (auto i = failures_.begin(); i != failures_.end();) {
          if (now - i->second.since >= kFailureWindow) {
            i = failures_.erase(i);
            oldest = failures_.begin();
            continue;
          }
          if (i->second.since < oldest->second.since) oldest = i;
          ++i;
        }
        if (failures_.size() >= kMaxTrackedClients && oldest != failures_.end())
          failures_.erase(oldest);
      }
      it = failures_.emplace(address, Failures{0, now}).first;
    }
    ++it->second.count;
  }
  return it != failures_.end() && it->second.count >= options_.failures_per_minute;
}

AuthDecision Auth::decide(const HttpRequest& req, const Route& route) {
  if (options_.mode == AuthMode::kNone)
    return authorize({"default-user", Role::kReadWrite}, req, route);
  if (!required_role(route, options_)) {
    AuthDecision d;
    d.kind = AuthDecision::Kind::kAllowed;
    d.principal = {"anonymous", Role::kReadOnly};
    return d;
  }
  const std::string header(req.header("Authorization"));
  if (options_.mode == AuthMode::kToken) {
    if (header.size() < 8 || header.compare(0, 7, "Bearer ") != 0)
      return unauthenticated("a bearer token is required");
    auto p = options_.tokens->verify(header.substr(7), std::time(nullptr));
    if (!p.ok()) return unauthenticated(p.status().message());
    return authorize(*p, req, route);
  }
  if (header.size() < 7 || header.compare(0, 6, "Basic ") != 0) return unauthenticated("");
  const auto digest = sha256(header);
  const std::string key(reinterpret_cast<const char*>(digest.data()), digest.size());
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (auto it = cache_.find(key); it != cache_.end() && now - it->second.last_used < kCacheIdle) {
      it->second.last_used = now;
      return authorize(it->second.principal, req, route);
    }
  }
  // New credentials, or a throttled client: verify() answers either.
  AuthDecision d;
  d.kind = AuthDecision::Kind::kPending;
  return d;
}

void Auth::verify(const HttpRequest& req, const Route& route,
                  std::function<void(AuthDecision)> done) {
  const auto deliver = [this](std::function<void()> f) {
    if (options_.deliver) return options_.deliver(std::move(f));
    f();
  };
  // A refusal without a check: still later, and off the caller's stack (on
  // a worker if there is one).
  const auto refuse = [&](int status, const std::string& message, const char* retry_after) {
    AuthDecision d;
    d.response = failure_response(status, message);
    d.response.headers.emplace_back("Retry-After", retry_after);
    auto answer = [done = std::move(done), d = std::move(d)]() mutable { done(std::move(d)); };
    if (status == 429 && options_.deliver_after && options_.throttle_delay.count() > 0)
      return options_.deliver_after(options_.throttle_delay, std::move(answer));
    if (!workers_) return deliver(std::move(answer));
    workers_->push([deliver, answer = std::move(answer)]() mutable { deliver(std::move(answer)); });
  };
  if (throttled(req.remote_address, false)) {
    return refuse(429, "Too many failed sign-ins from this address; try again in a minute", "60");
  }
  if (!workers_ || queued_.fetch_add(1) >= options_.max_queued) {
    if (workers_) --queued_;
    return refuse(503, "Too many sign-ins in progress; try again", "1");
  }
  workers_->push([this, deliver, header = std::string(req.header("Authorization")),
                  address = req.remote_address, method = req.method, route,
                  done = std::move(done)]() mutable {
    --queued_;
    std::optional<Principal> who;
    const auto decoded = unbase64(header.size() > 6 ? header.substr(6) : std::string());
    const std::string text = decoded ? std::string(decoded->begin(), decoded->end()) : "";
    const auto colon = text.find(':');
    if (colon != std::string::npos) {
      const std::string user = text.substr(0, colon), password = text.substr(colon + 1);
      const auto it = options_.users.find(user);
      ++password_checks_;
      // An unknown user costs the same as a known one.
      const bool match =
          verify_password(password, it == options_.users.end() ? dummy_hash_ : it->second.password);
      if (match && it != options_.users.end()) who = Principal{user, it->second.role};
    }
    AuthDecision d;
    if (!who) {
      throttled(address, true);
      d = unauthenticated("");
    } else {
      const auto digest = sha256(header);
      const std::string key(reinterpret_cast<const char*>(digest.data()), digest.size());
      {
        std::lock_guard lock(mu_);
        if (cache_.size() >= kCacheSize) {
          auto oldest = cache_.begin();
          for (auto i = cache_.begin(); i != cache_.end(); ++i)
            if (i->second.last_used < oldest->second.last_used) oldest = i;
          cache_.erase(oldest);
        }
        cache_[key] = Cached{*who, std::chrono::steady_clock::now()};
      }
      HttpRequest req_for_message;
      req_for_message.method = method;
      d = authorize(*who, req_for_message, route);
    }
    deliver([done = std::move(done), d = std::move(d)]() mutable { done(std::move(d)); });
  });
}

}  // namespace epochd
