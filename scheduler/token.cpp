#include "scheduler/token.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fmt/format.h>

namespace fastgpu::scheduler {

TokenHash hashToken(std::string_view token) {
  TokenHash hash;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), hash.data());
  return hash;
}

std::optional<TokenHash> parseTokenHash(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  TokenHash hash;
  for (std::size_t i = 0; i < hash.size(); ++i) {
    unsigned value = 0;
    for (char c : hex.substr(2 * i, 2)) {
      value <<= 4;
      if (c >= '0' && c <= '9') value |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') value |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') value |= static_cast<unsigned>(c - 'A' + 10);
      else return std::nullopt;
    }
    hash[i] = static_cast<std::uint8_t>(value);
  }
  return hash;
}

std::string tokenHashHex(const TokenHash& hash) {
  std::string hex;
  for (auto byte : hash) hex += fmt::format("{:02x}", byte);
  return hex;
}

bool sameHash(const TokenHash& a, const TokenHash& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

}  // namespace fastgpu::scheduler
