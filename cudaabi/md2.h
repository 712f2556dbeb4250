// MD2 message digest (RFC 1319). Only libcudart's integrity check uses it (see
// integrity_check.h); it is not a security primitive for anything of ours.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace fastgpu::cudaabi {

class Md2 {
 public:
  static constexpr std::size_t kBlockBytes = 16;
  using Digest = std::array<std::uint8_t, 16>;

  void update(std::span<const std::uint8_t> bytes);
  // Pads, appends the checksum and returns the digest. The object is spent afterwards.
  Digest finish();

 private:
  void absorb(std::uint8_t byte);
  void compressBlock();

  std::array<std::uint8_t, 48> state_{};  // X in RFC 1319
  std::array<std::uint8_t, 16> block_{};
  std::array<std::uint8_t, 16> checksum_{};
  std::uint8_t lastChecksumByte_ = 0;
  std::size_t blockFill_ = 0;
};

}  // namespace fastgpu::cudaabi
