#include "jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <optional>
#include <sstream>

#include "../libepoch/support/base64.h"

namespace epochd {

namespace json = boost::json;
using epoch::Status;
using epoch::StatusOr;

using epoch::unbase64;

namespace {

enum class Alg { kRs256, kEs256, kHs256 };

// base64url (RFC 7515: '-' '_' and no padding) through the standard decoder.
std::optional<std::string> base64url(const std::string& in) {
  std::string s = in;
  for (char& c : s) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/'))
      return std::nullopt;
  }
  if (s.empty()) return std::string();
  while (s.size() % 4 != 0)
    s.push_back('=');
  const auto bytes = unbase64(s);
  if (!bytes) return std::nullopt;
  return std::string(bytes->begin(), bytes->end());
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Status refuse(const std::string& why) {
  return epoch::unauthenticated("invalid bearer token: " + why);
}

}  // namespace

struct TokenVerifier::Key {
  Alg alg;
  std::string kid;
  EVP_PKEY* pkey = nullptr;  // RS256, ES256
  std::string secret;        // HS256
  ~Key() {
    if (pkey != nullptr) EVP_PKEY_free(pkey);
  }
};

namespace {

using KeyPtr = std::shared_ptr<TokenVerifier::Key>;

StatusOr<Alg> alg_of_pkey(EVP_PKEY* k, const std::string& where) {
  if (EVP_PKEY_is_a(k, "RSA")) return Alg::kRs256;
  if (EVP_PKEY_is_a(k, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) !=
            1 ||
        (std::string(group) != "prime256v1" && std::string(group) != "P-256")) {
      return epoch::invalid_argument(where + ": EC keys must be P-256 (ES256)");
    }
    return Alg::kEs256;
  }
  return epoch::invalid_argument(where + ": not an RSA or EC public key");
}

EVP_PKEY* from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* k = nullptr;
  if (ctx != nullptr && params != nullptr && EVP_PKEY_fromdata_init(ctx) == 1) {
    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params);
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return k;
}

// One JWK (RSA, EC P-256 or oct).
StatusOr<KeyPtr> jwk_key(const json::object& j, const std::string& where) {
  const auto str = [&](const char* k) -> std::string {
    const auto* v = j.if_contains(k);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  auto key = std::make_shared<TokenVerifier::Key>();
  key->kid = str("kid");
  const std::string kty = str("kty");
  if (kty == "oct") {
    auto k = base64url(str("k"));
    if (!k || k->empty()) return epoch::invalid_argument(where + ": oct key without k");
    key->alg = Alg::kHs256;
    key->secret = *k;
    return key;
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  if (kty == "RSA") {
    const auto n = base64url(str("n")), e = base64url(str("e"));
    if (!n || !e || n->empty() || e->empty()) {
      OSSL_PARAM_BLD_free(bld);
      return epoch::invalid_argument(where + ": RSA key without n or e");
    }
    BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                           static_cast<int>(n->size()), nullptr);
    BIGNUM* be = BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                           static_cast<int>(e->size()), nullptr);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be);
    key->pkey = from_params("RSA", bld);
    BN_free(bn);
    BN_free(be);
    key->alg = Alg::kRs256;
  } else if (kty == "EC") {
    const auto x = base64url(str("x")), y = base64url(str("y"));
    if (str("crv") != "P-256" || !x || !y || x->size() != 32 || y->size() != 32) {
      OSSL_PARAM_BLD_free(bld);
      return epoch::invalid_argument(where + ": EC keys must be P-256 with 32-byte x and y");
    }
    const std::string point = std::string(1, '\x04') + *x + *y;
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    key->pkey = from_params("EC", bld);
    key->alg = Alg::kEs256;
  } else {
    OSSL_PARAM_BLD_free(bld);
    return epoch::invalid_argument(where + ": unsupported kty '" + kty + "'");
  }
  OSSL_PARAM_BLD_free(bld);
  if (key->pkey == nullptr) return epoch::invalid_argument(where + ": the key is not valid");
  return key;
}

bool verify_signature(const TokenVerifier::Key& key, const std::string& signed_part,
                      const std::string& sig) {
  if (key.alg == Alg::kHs256) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.secret.data(), static_cast<int>(key.secret.size()),
         reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac, &len);
    return sig.size() == len && CRYPTO_memcmp(mac, sig.data(), len) == 0;
  }
  std::string der = sig;
  if (key.alg == Alg::kEs256) {
    // JWS carries r || s (32 bytes each); OpenSSL wants DER.
    if (sig.size() != 64) return false;
    ECDSA_SIG* s = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr);
    BIGNUM* ss = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
    ECDSA_SIG_set0(s, r, ss);
    unsigned char* out = nullptr;
    const int n = i2d_ECDSA_SIG(s, &out);
    ECDSA_SIG_free(s);
    if (n <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
    OPENSSL_free(out);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.pkey) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                             reinterpret_cast<const unsigned char*>(signed_part.data()),
                             signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace

TokenVerifier::TokenVerifier(TokenOptions options) : options_(std::move(options)) {}
TokenVerifier::~TokenVerifier() = default;

StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::make(TokenOptions options) {
  std::unique_ptr<TokenVerifier> v(new TokenVerifier(std::move(options)));
  for (const std::string& file : v->options_.public_key_files) {
    FILE* f = std::fopen(file.c_str(), "r");
    if (f == nullptr) return epoch::invalid_argument("token key '" + file + "': cannot read it");
    EVP_PKEY* k = PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (k == nullptr) {
      return epoch::invalid_argument("token key '" + file + "': not a PEM public key");
    }
    auto key = std::make_shared<Key>();
    key->pkey = k;
    auto alg = alg_of_pkey(k, "token key '" + file + "'");
    if (!alg.ok()) return alg.status();
    key->alg = *alg;
    v->static_keys_.push_back(std::move(key));
  }
  if (!v->options_.hs256_secret_file.empty()) {
    auto secret = read_file(v->options_.hs256_secret_file);
    if (!secret || secret->size() < 32) {
      return epoch::invalid_argument("HS256 secret '" + v->options_.hs256_secret_file +
                                     "': unreadable or shorter than 32 bytes");
    }
    auto key = std::make_shared<Key>();
    key->alg = Alg::kHs256;
    key->secret = *secret;
    v->static_keys_.push_back(std::move(key));
  }
  if (!v->options_.jwks_file.empty()) EPOCH_RETURN_IF_ERROR(v->reload_jwks_if_changed());
  if (v->static_keys_.empty() && v->jwks_keys_.empty()) {
    return epoch::invalid_argument(
        "auth = token needs keys: --token-public-keys, --token-hs256-secret-file or "
        "--token-jwks");
  }
  return v;
}

Status TokenVerifier::reload_jwks_if_changed() {
  struct stat st {};
  if (::stat(options_.jwks_file.c_str(), &st) != 0) {
    return epoch::invalid_argument("JWKS '" + options_.jwks_file + "': cannot read it");
  }
  if (st.st_mtim.tv_sec == jwks_mtime_ && st.st_mtim.tv_nsec == jwks_mtime_ns_ &&
      !jwks_keys_.empty()) {
    return epoch::ok_status();
  }
  const auto text = read_file(options_.jwks_file);
  boost::system::error_code ec;
  const json::value doc = json::parse(text.value_or(""), ec);
  const auto* keys = !ec && doc.is_object() ? doc.as_object().if_contains("keys") : nullptr;
  if (keys == nullptr || !keys->is_array()) {
    return epoch::invalid_argument("JWKS '" + options_.jwks_file + "': expected {\"keys\":[...]}");
  }
  std::vector<KeyPtr> loaded;
  for (std::size_t i = 0; i < keys->as_array().size(); ++i) {
    const auto& k = keys->as_array()[i];
    const std::string where = "JWKS '" + options_.jwks_file + "' key " + std::to_string(i);
    if (!k.is_object()) return epoch::invalid_argument(where + ": not an object");
    auto key = jwk_key(k.as_object(), where);
    if (!key.ok()) return key.status();
    loaded.push_back(std::move(*key));
  }
  jwks_keys_ = std::move(loaded);
  jwks_mtime_ = st.st_mtim.tv_sec;
  jwks_mtime_ns_ = st.st_mtim.tv_nsec;
  return epoch::ok_status();
}

StatusOr<Principal> TokenVerifier::verify(const std::string& token, std::time_t now) {
  if (token.size() > options_.max_token_bytes) {
    return refuse("longer than " + std::to_string(options_.max_token_bytes) + " bytes");
  }
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string::npos || token.find('.', d2 + 1) != std::string::npos) {
    return refuse("not three dot-separated parts");
  }
  const auto header_text = base64url(token.substr(0, d1));
  const auto payload_text = base64url(token.substr(d1 + 1, d2 - d1 - 1));
  const auto signature = base64url(token.substr(d2 + 1));
  if (!header_text || !payload_text || !signature) return refuse("bad base64url");
  boost::system::error_code ec;
  const json::value header = json::parse(*header_text, ec);
  if (ec || !header.is_object()) return refuse("the header is not a JSON object");
  const json::value payload = json::parse(*payload_text, ec);
  if (ec || !payload.is_object()) return refuse("the payload is not a JSON object");
  const auto* alg_v = header.as_object().if_contains("alg");
  const std::string alg_name = alg_v && alg_v->is_string() ? std::string(alg_v->as_string()) : "";
  Alg alg;
  if (alg_name == "RS256") {
    alg = Alg::kRs256;
  } else if (alg_name == "ES256") {
    alg = Alg::kEs256;
  } else if (alg_name == "HS256") {
    alg = Alg::kHs256;
  } else {
    return refuse("algorithm '" + alg_name + "' is not accepted (RS256, ES256, HS256)");
  }
  // RFC 7515 4.1.11: a token naming extensions it needs understood (crit)
  // must be refused by a verifier that understands none of them.
  if (header.as_object().if_contains("crit") != nullptr) {
    return refuse("the header names critical extensions (crit), which are not supported");
  }
  const auto* kid_v = header.as_object().if_contains("kid");
  const std::string kid = kid_v && kid_v->is_string() ? std::string(kid_v->as_string()) : "";

  std::vector<KeyPtr> keys;
  {
    std::lock_guard lock(mu_);
    if (!options_.jwks_file.empty() &&
        std::chrono::steady_clock::now() - jwks_checked_ >= options_.jwks_check_interval) {
      jwks_checked_ = std::chrono::steady_clock::now();
      reload_jwks_if_changed().ok();  // a broken file keeps the previous keys
    }
    keys = static_keys_;
    keys.insert(keys.end(), jwks_keys_.begin(), jwks_keys_.end());
  }
  const std::string signed_part = token.substr(0, d2);
  bool verified = false;
  for (const KeyPtr& k : keys) {
    if (k->alg != alg) continue;  // a key verifies only its own algorithm
    if (!kid.empty() && !k->kid.empty() && k->kid != kid) continue;
    if (verify_signature(*k, signed_part, *signature)) {
      verified = true;
      break;
    }
  }
  if (!verified) return refuse("the signature does not verify with any " + alg_name + " key");

  const json::object& claims = payload.as_object();
  // NumericDate claims, clamped into +-kFar seconds so that arithmetic with
  // the skew cannot overflow (a date past year 10000 means "never" either way).
  constexpr std::int64_t kFar = 253402300800;  // 10000-01-01T00:00:00Z
  const auto number = [&](const char* name) -> std::optional<std::int64_t> {
    const auto* v = claims.if_contains(name);
    if (v == nullptr) return std::nullopt;
    if (v->is_int64()) return std::clamp<std::int64_t>(v->as_int64(), -kFar, kFar);
    if (v->is_uint64()) return kFar;  // beyond int64's range
    if (v->is_double()) {
      const double d = v->as_double();
      if (!(d == d)) return std::nullopt;  // NaN
      return d >= static_cast<double>(kFar)    ? kFar
             : d <= -static_cast<double>(kFar) ? -kFar
                                               : static_cast<std::int64_t>(d);
    }
    return std::nullopt;
  };
  const std::int64_t skew = std::clamp<std::int64_t>(options_.skew.count(), 0, kFar);
  const std::int64_t at = std::clamp<std::int64_t>(now, -kFar, kFar);
  const auto exp = number("exp");
  if (!exp) return refuse("no exp claim");
  if (at > *exp + skew) return refuse("expired");
  if (const auto nbf = number("nbf"); nbf && at + skew < *nbf) return refuse("not valid yet (nbf)");
  if (!options_.issuer.empty()) {
    const auto* iss = claims.if_contains("iss");
    if (iss == nullptr || !iss->is_string() || iss->as_string() != options_.issuer) {
      return refuse("wrong issuer");
    }
  }
  if (!options_.audience.empty()) {
    bool match = false;
    if (const auto* aud = claims.if_contains("aud")) {
      if (aud->is_string()) match = aud->as_string() == options_.audience;
      if (aud->is_array()) {
        for (const auto& a : aud->as_array())
          match = match || (a.is_string() && a.as_string() == options_.audience);
      }
    }
    if (!match) return refuse("wrong audience");
  }
  std::optional<Role> role;
  const auto consider = [&](const json::value& v) {
    if (!v.is_string()) return;
    const std::string name(v.as_string());
    std::optional<Role> r;
    if (auto it = options_.role_map.find(name); it != options_.role_map.end())
      r = it->second;
    else if (auto p = parse_role(name); p.ok())
      r = *p;
    if (r && (!role || static_cast<int>(*r) > static_cast<int>(*role))) role = r;
  };
  if (const auto* rc = claims.if_contains(options_.role_claim)) {
    if (rc->is_array()) {
      for (const auto& v : rc->as_array())
        consider(v);
    } else {
      consider(*rc);
    }
  }
  if (!role) return refuse("no known role in claim '" + options_.role_claim + "'");
  const auto* sub = claims.if_contains("sub");
  return Principal{sub && sub->is_string() ? std::string(sub->as_string()) : "token", *role};
}

}  // namespace epochd
