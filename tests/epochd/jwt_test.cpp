// JWT bearer tokens: RS256, ES256 and HS256 with keys made by the test
// (OpenSSL), claims (exp, nbf, iss, aud, role), and every way a token must
// be refused: expired, not yet valid, wrong issuer or audience, forged,
// signed with another key, `alg: none`, HS256 signed with the RSA public
// key (algorithm confusion), malformed, 64 KiB; a JWKS file read again when
// it changes; and epochd with --auth token over HTTP.
#include "jwt.h"

#include <doctest/doctest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <utime.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <limits>

#include "daemon_process.h"
#include "http_client.h"

using namespace epochd;
namespace json = boost::json;

namespace {

std::string b64url(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=')
    out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::string bn_bytes(const BIGNUM* bn, int width = 0) {
  std::string out(static_cast<std::size_t>(width ? width : BN_num_bytes(bn)), '\0');
  if (width) {
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), width);
  } else {
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  }
  return out;
}

struct KeyPair {
  EVP_PKEY* k = nullptr;
  explicit KeyPair(EVP_PKEY* key) : k(key) { REQUIRE(k != nullptr); }
  ~KeyPair() { EVP_PKEY_free(k); }
  static KeyPair rsa() { return KeyPair(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})); }
  static KeyPair ec() { return KeyPair(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }
  KeyPair(KeyPair&& o) noexcept : k(o.k) { o.k = nullptr; }

  std::string public_pem() const {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return out;
  }
  std::string sign(const std::string& msg, bool ecdsa_raw) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    REQUIRE(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, k) == 1);
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(msg.data()),
                   msg.size());
    std::string sig(len, '\0');
    REQUIRE(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1);
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    if (!ecdsa_raw) return sig;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    const std::string raw = bn_bytes(ECDSA_SIG_get0_r(s), 32) + bn_bytes(ECDSA_SIG_get0_s(s), 32);
    ECDSA_SIG_free(s);
    return raw;
  }
  json::object jwk(const std::string& kid) const {
    if (EVP_PKEY_is_a(k, "RSA")) {
      BIGNUM *n = nullptr, *e = nullptr;
      EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
      EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e);
      json::object o{
          {"kty", "RSA"}, {"kid", kid}, {"n", b64url(bn_bytes(n))}, {"e", b64url(bn_bytes(e))}};
      BN_free(n);
      BN_free(e);
      return o;
    }
    BIGNUM *x = nullptr, *y = nullptr;
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    json::object o{{"kty", "EC"},
                   {"crv", "P-256"},
                   {"kid", kid},
                   {"x", b64url(bn_bytes(x, 32))},
                   {"y", b64url(bn_bytes(y, 32))}};
    BN_free(x);
    BN_free(y);
    return o;
  }
};

std::string hmac(const std::string& key, const std::string& msg) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

const std::time_t kNow = 1800000000;

json::object claims(json::object extra = {}) {
  json::object c{{"sub", "alice"},   {"iss", "https://idp.example.com"},
                 {"aud", "epoch"},   {"exp", kNow + 600},
                 {"nbf", kNow - 10}, {"role", "EPOCH_EXTERNAL_READ_WRITE"}};
  for (auto& [k, v] : extra)
    c[k] = v;
  return c;
}

// A token: `alg` in the header, signed by `sign` (or not at all).
std::string token(const std::string& alg, const json::object& payload,
                  const std::function<std::string(const std::string&)>& sign,
                  const std::string& kid = "", const json::object& header_extra = {}) {
  json::object h{{"alg", alg}, {"typ", "JWT"}};
  if (!kid.empty()) h["kid"] = kid;
  for (const auto& [k, v] : header_extra)
    h[k] = v;
  const std::string part = b64url(json::serialize(h)) + "." + b64url(json::serialize(payload));
  return part + "." + b64url(sign ? sign(part) : std::string());
}

struct Files {
  std::string dir = epoch::test::make_temp_dir("epoch-jwt");
  ~Files() { std::filesystem::remove_all(dir); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  }
};

std::string refusal(TokenVerifier& v, const std::string& t) {
  auto p = v.verify(t, kNow);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == epoch::StatusCode::kUnauthenticated);
  return p.status().message();
}

}  // namespace

TEST_CASE("JWT: RS256, ES256, HS256; claims; every forged or unfit token refused") {
  Files f;
  const KeyPair rsa = KeyPair::rsa(), ec = KeyPair::ec(), other = KeyPair::rsa();
  const std::string secret(40, 'k');
  TokenOptions o;
  o.public_key_files = {f.write("rsa.pem", rsa.public_pem()), f.write("ec.pem", ec.public_pem())};
  o.hs256_secret_file = f.write("hs.key", secret);
  o.issuer = "https://idp.example.com";
  o.audience = "epoch";
  auto made = TokenVerifier::make(o);
  REQUIRE_MESSAGE(made.ok(), made.status().message());
  TokenVerifier& v = **made;
  const auto rs = [&](const std::string& m) { return rsa.sign(m, false); };
  const auto es = [&](const std::string& m) { return ec.sign(m, true); };
  const auto hs = [&](const std::string& m) { return hmac(secret, m); };

  auto p = v.verify(token("RS256", claims(), rs), kNow);
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  CHECK(p->user == "alice");
  CHECK(p->role == Role::kReadWrite);
  p = v.verify(token("ES256", claims({{"role", json::array{"READ_ONLY", "ADMIN"}}}), es), kNow);
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  CHECK(p->role == Role::kAdmin);
  p = v.verify(
      token("HS256",
            claims({{"role", "EPOCH_EXTERNAL_READ_ONLY"}, {"aud", json::array{"other", "epoch"}}}),
            hs),
      kNow);
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  CHECK(p->role == Role::kReadOnly);
  // Within the 30 s skew: still valid.
  CHECK(v.verify(token("RS256", claims({{"exp", kNow - 20}}), rs), kNow).ok());

  CHECK(refusal(v, token("RS256", claims({{"exp", kNow - 100}}), rs)).find("expired") !=
        std::string::npos);
  CHECK(refusal(v, token("RS256", claims({{"nbf", kNow + 100}}), rs)).find("not valid yet") !=
        std::string::npos);
  json::object no_exp = claims();
  no_exp.erase("exp");
  CHECK(refusal(v, token("RS256", no_exp, rs)).find("no exp") != std::string::npos);
  CHECK(refusal(v, token("RS256", claims({{"iss", "https://evil.example.com"}}), rs))
            .find("wrong issuer") != std::string::npos);
  CHECK(refusal(v, token("RS256", claims({{"aud", "someone-else"}}), rs)).find("wrong audience") !=
        std::string::npos);
  CHECK(refusal(v, token("RS256", claims({{"role", "SUPERUSER"}}), rs)).find("no known role") !=
        std::string::npos);
  // Forged: the payload changed after signing.
  std::string t = token("RS256", claims({{"role", "READ_ONLY"}}), rs);
  const std::string forged_payload = b64url(json::serialize(claims({{"role", "ADMIN"}})));
  const auto d1 = t.find('.'), d2 = t.rfind('.');
  t = t.substr(0, d1 + 1) + forged_payload + t.substr(d2);
  CHECK(refusal(v, t).find("signature does not verify") != std::string::npos);
  // Signed with a key epochd does not trust.
  CHECK(refusal(
            v, token("RS256", claims(), [&](const std::string& m) { return other.sign(m, false); }))
            .find("signature does not verify") != std::string::npos);
  // alg none, with or without a signature.
  CHECK(refusal(v, token("none", claims(), nullptr)).find("algorithm 'none' is not accepted") !=
        std::string::npos);
  CHECK(refusal(v, token("HS512", claims(), hs)).find("not accepted") != std::string::npos);
  // Algorithm confusion: HS256 "signed" with the RSA public key as secret.
  {
    TokenOptions only_rsa;
    only_rsa.public_key_files = {o.public_key_files[0]};
    auto rv = TokenVerifier::make(only_rsa);
    REQUIRE(rv.ok());
    const std::string pem = rsa.public_pem();
    CHECK(refusal(**rv, token("HS256", claims(), [&](const std::string& m) {
            return hmac(pem, m);
          })).find("does not verify with any HS256 key") != std::string::npos);
  }
  // Malformed.
  CHECK(refusal(v, "abc").find("three dot-separated parts") != std::string::npos);
  CHECK(refusal(v, "a.b.c.d").find("three dot-separated parts") != std::string::npos);
  CHECK(refusal(v, "%%%.e30.").find("bad base64url") != std::string::npos);
  CHECK(refusal(v, b64url("not json") + "." + b64url("{}") + ".").find("header is not") !=
        std::string::npos);
  const std::string huge = token("RS256", claims({{"pad", std::string(64 * 1024, 'x')}}), rs);
  CHECK(refusal(v, huge).find("longer than") != std::string::npos);
  // RFC 7515 4.1.11: critical extensions no verifier here understands.
  CHECK(refusal(
            v, token("RS256", claims(), rs, "", {{"crit", json::array{"exp-ext"}}, {"exp-ext", 1}}))
            .find("critical extensions") != std::string::npos);
  // NumericDates at and past int64's ends: no overflow with the skew.
  CHECK(refusal(v, token("RS256", claims({{"exp", std::numeric_limits<std::int64_t>::min()}}), rs))
            .find("expired") != std::string::npos);
  CHECK(v.verify(token("RS256", claims({{"exp", std::numeric_limits<std::int64_t>::max()}}), rs),
                 kNow)
            .ok());
  CHECK(v.verify(token("RS256", claims({{"exp", std::numeric_limits<std::uint64_t>::max()}}), rs),
                 kNow)
            .ok());
  CHECK(refusal(v, token("RS256", claims({{"exp", -1e300}}), rs)).find("expired") !=
        std::string::npos);
  CHECK(refusal(v, token("RS256", claims({{"nbf", 1e300}}), rs)).find("not valid yet") !=
        std::string::npos);
  CHECK(v.verify(token("RS256", claims(), rs), std::numeric_limits<std::time_t>::max()).ok() ==
        false);
}

TEST_CASE("JWT: keys from a JWKS file, read again when it changes; role mapping") {
  Files f;
  const KeyPair a = KeyPair::rsa(), b = KeyPair::ec();
  const auto write_jwks = [&](const json::array& keys, std::time_t mtime) {
    const std::string path = f.write("jwks.json", json::serialize(json::object{{"keys", keys}}));
    utimbuf times{mtime, mtime};
    utime(path.c_str(), &times);
    return path;
  };
  TokenOptions o;
  o.jwks_file = write_jwks(json::array{a.jwk("a")}, 1000);
  o.jwks_check_interval = std::chrono::milliseconds(0);
  o.role_claim = "groups";
  o.role_map = {{"epoch-admins", Role::kAdmin}};
  auto made = TokenVerifier::make(o);
  REQUIRE_MESSAGE(made.ok(), made.status().message());
  TokenVerifier& v = **made;
  const auto by_a = [&](const std::string& m) { return a.sign(m, false); };
  const auto by_b = [&](const std::string& m) { return b.sign(m, true); };
  auto p = v.verify(
      token("RS256", claims({{"groups", json::array{"staff", "epoch-admins"}}}), by_a, "a"), kNow);
  REQUIRE_MESSAGE(p.ok(), p.status().message());
  CHECK(p->role == Role::kAdmin);
  CHECK_FALSE(v.verify(token("ES256", claims({{"groups", "READ_ONLY"}}), by_b, "b"), kNow).ok());
  // Key rotation: b replaces a.
  write_jwks(json::array{b.jwk("b")}, 2000);
  CHECK(v.verify(token("ES256", claims({{"groups", "READ_ONLY"}}), by_b, "b"), kNow).ok());
  CHECK_FALSE(v.verify(token("RS256", claims({{"groups", "READ_ONLY"}}), by_a, "a"), kNow).ok());
  // A broken file keeps the keys that worked.
  const std::string path = f.write("jwks.json", "{not json");
  utimbuf times{3000, 3000};
  utime(path.c_str(), &times);
  CHECK(v.verify(token("ES256", claims({{"groups", "READ_ONLY"}}), by_b, "b"), kNow).ok());
  // Bad key material is refused at start with the reason.
  TokenOptions bad;
  bad.public_key_files = {f.write("bad.pem", "-----BEGIN PUBLIC KEY-----\nxx\n")};
  CHECK(TokenVerifier::make(bad).status().message().find("not a PEM public key") !=
        std::string::npos);
  TokenOptions none;
  CHECK_FALSE(TokenVerifier::make(none).ok());
}

TEST_CASE("epochd with --auth token over HTTP") {
  Files f;
  const KeyPair rsa = KeyPair::rsa();
  const std::string pem = f.write("rsa.pem", rsa.public_pem());
  epoch::test::DaemonProcess d(EPOCHD_BINARY, f.dir,
                               {"--store", "memory", "--auth", "token", "--token-public-keys", pem,
                                "--token-audience", "epoch"});
  const std::time_t now = std::time(nullptr);
  const auto bearer = [&](const std::string& role) {
    json::object c{{"sub", "svc"}, {"aud", "epoch"}, {"exp", now + 600}, {"role", role}};
    return "Bearer " + token("RS256", c, [&](const std::string& m) { return rsa.sign(m, false); });
  };
  auto r = epoch::test::http_call(d.port(), "GET", "/apis/v1/topologies");
  CHECK(r.status == 401);
  CHECK(r.header("www-authenticate").rfind("Bearer realm=\"epoch\"", 0) == 0);
  r = epoch::test::http_call(d.port(), "GET", "/apis/v1/topologies", "",
                             {{"Authorization", bearer("READ_ONLY")}});
  CHECK(r.status == 200);
  r = epoch::test::http_call(d.port(), "PUT", "/apis/v1/topologies/x/pause", "",
                             {{"Authorization", bearer("READ_ONLY")}});
  CHECK(r.status == 403);
  r = epoch::test::http_call(d.port(), "GET", "/apis/v1/topologies", "",
                             {{"Authorization", "Bearer " + std::string(60000, 'a')}});
  CHECK(r.status == 401);  // (the 16 KiB token limit; a 64 KiB header is refused by the parser)
  CHECK(r.body.find("longer than") != std::string::npos);
}
