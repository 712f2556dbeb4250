// Bounds-checked reads of little-endian values from untrusted bytes. Every parser of driver
// images goes through this, so a truncated or forged image fails with a message instead of
// reading out of bounds.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

namespace fastgpu::cudaabi {

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::size_t size() const { return bytes_.size(); }

  // The value at `offset`, or nothing when it would not fit.
  template <typename T>
  std::optional<T> read(std::uint64_t offset) const {
    static_assert(std::is_trivially_copyable_v<T>);
    if (!fits(offset, sizeof(T))) return std::nullopt;
    T value;
    std::memcpy(&value, bytes_.data() + offset, sizeof(T));
    return value;
  }

  // `length` bytes at `offset`, or nothing when they would not fit.
  std::optional<std::span<const std::uint8_t>> slice(std::uint64_t offset, std::uint64_t length) const {
    if (!fits(offset, length)) return std::nullopt;
    return bytes_.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(length));
  }

  bool fits(std::uint64_t offset, std::uint64_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }

 private:
  std::span<const std::uint8_t> bytes_;
};

}  // namespace fastgpu::cudaabi
