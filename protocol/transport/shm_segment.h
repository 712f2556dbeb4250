// The memory a shared-memory session runs through: one memfd, made by the server's side, sealed
// at its size (neither side can shrink it under the other's mapping), holding a header and two
// rings, one each way.
//
// Layout (version 1), offsets in bytes:
//   0      SegmentHeader: magic "FGPUSHM1", version, ring size, reserved (zero)
//   64     RingControl of the ring client -> server
//   192    RingControl of the ring server -> client
//   4096   ring data client -> server (ringBytes)
//   4096 + ringBytes   ring data server -> client (ringBytes)
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "cudaabi/result.h"
#include "protocol/transport/shared_ring.h"

namespace fastgpu::protocol {

inline constexpr std::uint64_t kSegmentMagic = 0x314d485355504746;  // "FGPUSHM1" in memory order
inline constexpr std::uint32_t kSegmentVersion = 1;
// Each way. Large enough that bulk copies stream in big pieces; a session's two rings cost
// 8 MiB of memory, touched only as far as frames reach.
inline constexpr std::size_t kShmRingBytes = 4 << 20;

enum class RingDirection { kToServer = 0, kToClient = 1 };

class SharedSegment {
 public:
  // A fresh segment (the server's side): created, sealed, mapped and reset.
  static Result<SharedSegment> create();
  // Maps a segment another process created (the client's side), taking over `descriptor` (closed
  // on failure too). Checks its size, seals and header before anything else reads it.
  static Result<SharedSegment> adopt(int descriptor);

  SharedSegment(SharedSegment&& other) noexcept;
  SharedSegment& operator=(SharedSegment&&) = delete;
  SharedSegment(const SharedSegment&) = delete;
  ~SharedSegment();

  RingControl& control(RingDirection direction) const;
  std::span<std::uint8_t> data(RingDirection direction) const;
  // The memfd, for sending to the peer; still owned by this object.
  int descriptor() const { return descriptor_; }

 private:
  SharedSegment(int descriptor, std::uint8_t* base) : descriptor_(descriptor), base_(base) {}

  int descriptor_;
  std::uint8_t* base_;  // mapped; nullptr once moved from
};

}  // namespace fastgpu::protocol
