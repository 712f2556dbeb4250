// Access tokens. The server keeps only SHA-256 hashes of tokens, in memory and in its state, and
// compares them in constant time; a token itself is never logged or stored.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fastgpu::scheduler {

using TokenHash = std::array<std::uint8_t, 32>;

TokenHash hashToken(std::string_view token);
// Parses 64 hex digits; nothing for anything else.
std::optional<TokenHash> parseTokenHash(std::string_view hex);
std::string tokenHashHex(const TokenHash& hash);
// Compares in time independent of where the hashes differ.
bool sameHash(const TokenHash& a, const TokenHash& b);

}  // namespace fastgpu::scheduler
