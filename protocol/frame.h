// The frame: how one protocol message travels over a byte-stream transport.
//
// Every message is a 16-byte header followed by its payload (a Cap'n Proto message). The header
// carries a magic number, the framing version and the payload size; a receiver checks all three
// before it allocates or reads anything, so a peer cannot make it allocate more than
// kMaxFrameBytes or read past a frame. Bulk data larger than that travels in several frames
// (chunked by the sender).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "cudaabi/result.h"

namespace fastgpu::protocol {

inline constexpr std::uint32_t kFrameMagic = 0x55504746;  // "FGPU" in memory order
inline constexpr std::uint16_t kFrameVersion = 1;
inline constexpr std::size_t kFrameHeaderBytes = 16;
// The largest payload of one frame. Limits what a peer can make us allocate.
inline constexpr std::uint32_t kMaxFrameBytes = 64u << 20;

// Wire layout, little-endian: magic u32 @0, version u16 @4, flags u16 @6, payload bytes u32 @8,
// reserved u32 @12 (zero).
struct FrameHeader {
  std::uint16_t flags = 0;
  std::uint32_t payloadBytes = 0;
};

std::array<std::uint8_t, kFrameHeaderBytes> encodeFrameHeader(const FrameHeader& header);

// Checks and decodes a header. A wrong magic, version, reserved field or a payload over
// kMaxFrameBytes fails with kFailed and a reason: the connection it came from is unusable.
Result<FrameHeader> decodeFrameHeader(std::span<const std::uint8_t, kFrameHeaderBytes> bytes);

}  // namespace fastgpu::protocol
