// base64 (internal): standard base64 with padding (RFC 4648 §4), through
// OpenSSL — the one encoder and decoder of the project (Basic credentials
// sent to Drove and checked by epochd, password hashes, JWT parts).
// unbase64 gives nullopt for text that is not whole, valid base64.
#pragma once

#include <openssl/evp.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace epoch {

inline std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(std::max(len, 0)));
  return out;
}

inline std::string base64(std::string_view text) {
  return base64(reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

inline std::optional<std::vector<unsigned char>> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (text.back() == '=') ++pad;
  if (text[text.size() - 2] == '=') ++pad;
  const auto in_alphabet = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  };
  if (pad == 1 && text.back() != '=') return std::nullopt;
  if (!std::all_of(text.begin(), text.end() - static_cast<std::ptrdiff_t>(pad), in_alphabet))
    return std::nullopt;
  std::vector<unsigned char> out(3 * text.size() / 4);
  const int len = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
  if (len < 0 || static_cast<std::size_t>(len) < pad) return std::nullopt;
  out.resize(static_cast<std::size_t>(len) - pad);
  return out;
}

}  // namespace epoch
