// Test support: an HMAC-SHA256 computed independently of the code under
// test, to check webhook signatures against.
#pragma once

#include <string>

namespace epoch::test {

// Lower-case hex of HMAC-SHA256(key, data).
std::string hmac_sha256_hex(const std::string& key, const std::string& data);

}  // namespace epoch::test
