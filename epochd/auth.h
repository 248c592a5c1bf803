// Authentication and authorization for epochd's API and UI.
//
// Modes: `none` (everyone is READ_WRITE — refused on a non-loopback address
// unless forced), `basic` (users from config; passwords as salted
// PBKDF2-SHA256 hashes made by `epochd hash-password`, or plain text with a
// warning, for Epoch config compatibility), `token` (JWT bearer tokens, see
// jwt.h). Roles are Epoch's — READ_ONLY
// may read, READ_WRITE may also change (POST/PUT/DELETE) — plus ADMIN, who
// may also read the audit log. Epoch's role names EPOCH_EXTERNAL_READ_ONLY
// and EPOCH_EXTERNAL_READ_WRITE are accepted.
//
// Passwords are compared in constant time, and a login with an unknown
// user costs the same as one with a known user. Verified credentials are
// cached (500 entries, 30 minutes, like Epoch) so that a PBKDF2 with many
// iterations is paid once per client, not once per request.
//
// Threading: thread-safe. Errors: check() answers 401 (with
// WWW-Authenticate) or 403 in Epoch's envelope.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "epoch/status.h"
#include "http.h"

namespace epochd {

class TokenVerifier;

enum class Role { kReadOnly = 0, kReadWrite = 1, kAdmin = 2 };

// Standard base64 (with padding), through OpenSSL; unbase64 gives nullopt
// for text that is not base64.
std::string base64(const unsigned char* data, std::size_t n);
std::optional<std::vector<unsigned char>> unbase64(const std::string& text);

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

struct AuthOptions {
  std::string mode = "none";  // none | basic | token
  std::map<std::string, AuthUser> users;
  // /healthcheck, /metrics and the housekeeping leader endpoint need no
  // credentials (load balancers and CLIs find the leader with it).
  bool open_health = true;
  std::string realm = "epoch";
  std::shared_ptr<TokenVerifier> tokens;  // mode token
};

// "name:password-or-hash:ROLE", one per entry. Errors name the entry.
epoch::StatusOr<std::pair<std::string, AuthUser>> parse_user(const std::string& entry);

class Auth {
 public:
  explicit Auth(AuthOptions options);

  // The principal for `req`, or nullopt after answering 401/403 through
  // `respond`.
  std::optional<Principal> check(const HttpRequest& req, const Responder& respond);

  // Whether any user's password is stored as plain text (worth a warning).
  bool has_plain_passwords() const;

 private:
  std::optional<Principal> authenticate(const HttpRequest& req);

  // Why the last authenticate() on this thread refused (token mode).
  static thread_local std::string last_error_;

  AuthOptions options_;
  std::string dummy_hash_;  // verified for unknown users, so they cost the same
  struct Cached {
    Principal principal;
    std::chrono::steady_clock::time_point last_used;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Cached> cache_;  // SHA-256 of the header -> principal
};

// GET /apis/v1/whoami: {"status":"SUCCESS","data":{"user","role","authMode"}}
// — what the UI shows and which controls it offers.
HttpResponse whoami(const Principal& who, const std::string& auth_mode);

// The role a request needs: READ_ONLY for reads, READ_WRITE for changes,
// ADMIN for the audit log.
Role required_role(const HttpRequest& req);

}  // namespace epochd
