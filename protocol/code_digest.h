// A code image's name in the module cache (docs/protocol.md, "Code by digest"): its SHA-256. A
// client sends the digest of an image of at least kCachedImageMinBytes first, and the image only
// when the server does not hold it; the server names what it keeps by the digest it computes
// itself, never by one a client claims.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace fastgpu::protocol {

using CodeDigest = std::array<std::uint8_t, 32>;

// Smaller images are sent at once: asking first would cost a round trip to save less than one.
inline constexpr std::size_t kCachedImageMinBytes = 64 << 10;

CodeDigest codeDigest(std::span<const std::uint8_t> image);
// Lower-case hex, 64 characters.
std::string hexOf(const CodeDigest& digest);

}  // namespace fastgpu::protocol
