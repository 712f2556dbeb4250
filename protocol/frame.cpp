#include "protocol/frame.h"

#include <bit>
#include <cstring>

#include <fmt/format.h>

namespace fastgpu::protocol {
namespace {

static_assert(std::endian::native == std::endian::little, "the wire format is little-endian; so are our hosts");

template <typename T>
void put(std::uint8_t* at, T value) {
  std::memcpy(at, &value, sizeof(T));
}

template <typename T>
T get(const std::uint8_t* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

Status bad(std::string what) {
  return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE, "malformed frame: " + std::move(what));
}

}  // namespace

std::array<std::uint8_t, kFrameHeaderBytes> encodeFrameHeader(const FrameHeader& header) {
  std::array<std::uint8_t, kFrameHeaderBytes> bytes{};
  put(bytes.data() + 0, kFrameMagic);
  put(bytes.data() + 4, kFrameVersion);
  put(bytes.data() + 6, header.flags);
  put(bytes.data() + 8, header.payloadBytes);
  put<std::uint32_t>(bytes.data() + 12, 0);
  return bytes;
}

Result<FrameHeader> decodeFrameHeader(std::span<const std::uint8_t, kFrameHeaderBytes> bytes) {
  if (auto magic = get<std::uint32_t>(bytes.data()); magic != kFrameMagic) {
    return bad(fmt::format("bad magic {:#010x} (not a FastGPU peer?)", magic));
  }
  if (auto version = get<std::uint16_t>(bytes.data() + 4); version != kFrameVersion) {
    return bad(fmt::format("framing version {} (this side speaks {})", version, kFrameVersion));
  }
  if (get<std::uint32_t>(bytes.data() + 12) != 0) return bad("reserved field is not zero");
  FrameHeader header{get<std::uint16_t>(bytes.data() + 6), get<std::uint32_t>(bytes.data() + 8)};
  if (header.payloadBytes > kMaxFrameBytes) {
    return bad(fmt::format("payload of {} bytes exceeds the limit of {}", header.payloadBytes, kMaxFrameBytes));
  }
  return header;
}

}  // namespace fastgpu::protocol
