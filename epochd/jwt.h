// JWT bearer tokens for `--auth token`, verified with OpenSSL.
//
// Algorithms RS256, ES256 (P-256) and HS256 only; `alg: none` and every
// other algorithm are refused. A key is used only with its own algorithm
// (an RSA public key never verifies an HS256 token — no algorithm
// confusion). Keys come from PEM public-key files, an HS256 secret file,
// and/or a JWKS file, which is read again when it changes on disk. Claims:
// `exp` is required, `nbf` honoured, both with a small skew; `iss` and
// `aud` checked when configured; the role is read from a configurable claim
// (a string or a list; the highest known role wins) and mapped to
// READ_ONLY / READ_WRITE / ADMIN (Epoch's EPOCH_EXTERNAL_* names too).
//
// Threading: verify() is thread-safe. Errors: the constructor's make()
// reports unreadable or bad keys; verify() says why a token is refused.
#pragma once

#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "auth.h"
#include "epoch/status.h"

namespace epochd {

struct TokenOptions {
  std::vector<std::string> public_key_files;  // PEM, RSA or EC P-256
  std::string hs256_secret_file;              // the shared secret's bytes
  std::string jwks_file;                      // {"keys":[...]}, reloaded on change
  std::string issuer;                         // empty: not checked
  std::string audience;                       // empty: not checked
  std::chrono::seconds skew{30};
  std::string role_claim = "role";
  // Claim value -> role, beside the role names themselves.
  std::map<std::string, Role> role_map;
  std::size_t max_token_bytes = 16 * 1024;
  // How often the JWKS file's modification time is looked at.
  std::chrono::milliseconds jwks_check_interval{1000};
};

class TokenVerifier {
 public:
  static epoch::StatusOr<std::unique_ptr<TokenVerifier>> make(TokenOptions options);
  ~TokenVerifier();

  // The principal a token proves (user = its `sub`), or kUnauthenticated
  // saying why not. `now`: seconds since the epoch.
  epoch::StatusOr<Principal> verify(const std::string& token, std::time_t now);

  struct Key;  // a verification key (defined in jwt.cpp)

 private:
  explicit TokenVerifier(TokenOptions options);
  epoch::Status reload_jwks_if_changed();

  TokenOptions options_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Key>> static_keys_;
  std::vector<std::shared_ptr<Key>> jwks_keys_;
  std::time_t jwks_mtime_ = 0;
  long jwks_mtime_ns_ = 0;
  std::chrono::steady_clock::time_point jwks_checked_{};
};

}  // namespace epochd
