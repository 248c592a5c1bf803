// Authentication and authorization for epochd's API and UI.
//
// Modes: `none` (everyone is READ_WRITE — refused on a non-loopback address
// unless forced; the audit log, ADMIN's, is then closed), `basic` (users from config; passwords as
// salted PBKDF2-SHA256 hashes made by `epochd hash-password`, or plain text with a warning, for
// Epoch config compatibility), `token` (JWT bearer tokens, see jwt.h). Roles are Epoch's —
// READ_ONLY may read, READ_WRITE may also change (POST/PUT/DELETE) — plus ADMIN, who may also read
// the audit log. Epoch's role names EPOCH_EXTERNAL_READ_ONLY and EPOCH_EXTERNAL_READ_WRITE are
// accepted.
//
// Passwords are compared in constant time, and every sign-in costs one
// PBKDF2 of the same work: an unknown user's is checked against a dummy
// hash, and plain-text passwords are hashed at start-up. Verified
// credentials are cached (500 entries, 30 minutes, like Epoch) so that a
// PBKDF2 with many iterations is paid once per client, not once per
// request. Password checks run on Auth's own bounded pool of workers, never
// on the I/O or engine threads, at the lowest CPU priority (nice 19): a
// flood of bad credentials takes only CPU that requests and fires leave
// idle. A client address that fails too often is answered 429 without a
// check until its minute is over.
//
// Authorization is decided from the Route the API dispatches on
// (routes.h), never from the raw target.
//
// Threading: thread-safe. Errors: 401 (with WWW-Authenticate), 403, 429
// (Retry-After) or 503 in Epoch's envelope.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "epoch/status.h"
#include "http.h"
#include "names.h"
#include "routes.h"

namespace epochd {

class TokenVerifier;
class PasswordWorkers;

enum class Role { kReadOnly = 0, kReadWrite = 1, kAdmin = 2 };

// "READ_ONLY", "READ_WRITE", "ADMIN" (and Epoch's EPOCH_EXTERNAL_* names).
epoch::StatusOr<Role> parse_role(const std::string& text);
const char* to_string(Role role);

struct Principal {
  std::string user;
  Role role = Role::kReadOnly;
};

// "pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>", with a fresh
// random salt. Errors: kInternal when OpenSSL fails.
epoch::StatusOr<std::string> hash_password(const std::string& password, int iterations = 210000);

// Whether `password` matches `stored` (a hash as above, or plain text).
// Constant time in the password.
bool verify_password(const std::string& password, const std::string& stored);

struct AuthUser {
  std::string password;  // a hash_password() string, or plain text
  Role role = Role::kReadOnly;
};

enum class AuthMode { kNone, kBasic, kToken };
inline constexpr NameTable<AuthMode> kAuthModes[] = {
    {AuthMode::kNone, "none"}, {AuthMode::kBasic, "basic"}, {AuthMode::kToken, "token"}};
inline std::string_view to_string(AuthMode m) {
  return name_in(m, kAuthModes);
}

struct AuthOptions {
  AuthMode mode = AuthMode::kNone;
  std::map<std::string, AuthUser> users;
  // /healthcheck, /metrics and the housekeeping leader endpoint need no
  // credentials (load balancers and CLIs find the leader with it).
  bool open_health = true;
  std::string realm = "epoch";
  std::shared_ptr<TokenVerifier> tokens;  // mode token
  // Password checks (PBKDF2) run on this many threads of their own, never
  // on the I/O or engine threads (default 1).
  int workers = 1;
  // Checks waiting for a worker beyond this are answered 503 at once
  // (default 64).
  std::size_t max_queued = 64;
  // Failed Basic sign-ins one client address may make in a minute; beyond
  // that its sign-ins with credentials not verified before are answered 429
  // without a password check until the minute is over (0: no limit;
  // default 10).
  int failures_per_minute = 10;
  // Delivers a password check's outcome (e.g. posts it onto the
  // io_context); default: calls it on the worker thread.
  std::function<void(std::function<void()>)> deliver;
  // A throttled client's 429 is held this long before it goes out (a
  // tarpit: a client hammering bad credentials over a few connections gets
  // a few answers a second, not thousands; default 1 s). Needs
  // deliver_after.
  std::chrono::milliseconds throttle_delay{1000};
  // Calls `f` after `delay`, off the caller's stack (e.g. a steady_timer on
  // the io_context). Default (empty): throttled answers go out through
  // `deliver` without a delay.
  std::function<void(std::chrono::milliseconds delay, std::function<void()> f)> deliver_after;
};

// "name:password-or-hash:ROLE", one per entry. Errors name the entry.
epoch::StatusOr<std::pair<std::string, AuthUser>> parse_user(const std::string& entry);

// The role a route needs from `who`, or nullopt when it needs no
// credentials at all (the UI's files; health paths when open).
std::optional<Role> required_role(const Route& route, const AuthOptions& options);

// What Auth decided about a request.
struct AuthDecision {
  enum class Kind {
    kAllowed,  // `principal` may go on
    kRefused,  // `response` (401, 403, 429 or 503) is the answer
    kPending,  // a password must be checked: call Auth::verify()
  };
  Kind kind = Kind::kRefused;
  Principal principal;
  HttpResponse response;
};

class Auth {
 public:
  explicit Auth(AuthOptions options);
  ~Auth();

  // Decides at once what can be decided without a password check: mode
  // none, bearer tokens, open routes, credentials verified before (cached
  // 30 minutes), malformed credentials, the role the route needs.
  // kPending: Basic credentials not seen before, or from a client over its
  // failure budget (verify() then answers 429 after throttle_delay, with
  // no password check).
  AuthDecision decide(const HttpRequest& req, const Route& route);

  // Checks the Basic credentials of `req` (which decide() left pending) on
  // the auth workers and calls `done` with kAllowed or kRefused — always
  // later, never before verify() returns, through options.deliver. When
  // the workers' queue is full, `done` gets 503 (still later); a throttled
  // client gets 429 after options.throttle_delay (through deliver_after).
  void verify(const HttpRequest& req, const Route& route, std::function<void(AuthDecision)> done);

  // Whether the configuration gave some user's password as plain text
  // (worth a warning; Auth hashed it at start-up).
  bool has_plain_passwords() const { return had_plain_; }

  // PBKDF2 derivations run so far (each costs the same, whoever signs in).
  std::uint64_t password_checks() const { return password_checks_.load(); }

 private:
  AuthDecision authorize(const Principal& p, const HttpRequest& req, const Route& route) const;
  AuthDecision unauthenticated(const std::string& why) const;
  // Whether `address` is over its failure budget; counts a failure when
  // `fail` is set.
  bool throttled(const std::string& address, bool fail);

  AuthOptions options_;
  bool had_plain_ = false;
  std::string dummy_hash_;  // verified for unknown users, so they cost the same
  struct Cached {
    Principal principal;
    std::chrono::steady_clock::time_point last_used;
  };
  struct Failures {
    int count = 0;
    std::chrono::steady_clock::time_point since;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Cached> cache_;       // SHA-256 of the header -> principal
  std::unordered_map<std::string, Failures> failures_;  // by client address
  std::atomic<std::uint64_t> password_checks_{0};
  std::atomic<std::size_t> queued_{0};
  std::unique_ptr<PasswordWorkers> workers_;  // last: joined first
};

// GET /apis/v1/whoami: {"status":"SUCCESS","data":{"user","role","authMode"}}
// — what the UI shows and which controls it offers.
HttpResponse whoami(const Principal& who, AuthMode auth_mode);

}  // namespace epochd
