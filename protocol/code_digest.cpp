#include "protocol/code_digest.h"

#include <openssl/sha.h>

namespace fastgpu::protocol {

CodeDigest codeDigest(std::span<const std::uint8_t> image) {
  CodeDigest digest{};
  SHA256(image.data(), image.size(), digest.data());
  return digest;
}

std::string hexOf(const CodeDigest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(2 * digest.size());
  for (std::uint8_t byte : digest) {
    text.push_back(kDigits[byte >> 4]);
    text.push_back(kDigits[byte & 0xf]);
  }
  return text;
}

}  // namespace fastgpu::protocol
