// The framing every stream transport shares (plain sockets, TLS): a frame goes out as its header
// and parts in one gathered write and comes in as a header, checked before anything is allocated
// for the payload, then the payload. A subclass supplies only how bytes move.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>

#include "protocol/frame.h"
#include "protocol/transport/transport.h"

namespace fastgpu::protocol {

class FramedConnection : public Connection {
 public:
  // A frame is its header plus at most this many non-empty parts.
  static constexpr std::size_t kMaxParts = 15;

  using Connection::send;
  Status send(std::span<const std::span<const std::uint8_t>> parts) final;
  Status receive(std::vector<std::uint8_t>& payload) override;
  void setMaxFrameBytes(std::uint32_t bytes) final { maxFrameBytes_ = bytes; }
  void setReceiveDeadline(std::optional<std::chrono::steady_clock::time_point> deadline) final {
    deadline_ = deadline;
  }

 protected:
  // Writes every byte of `pieces` (the header first; at most kMaxParts + 1), in order. Called
  // by one sending thread at a time.
  virtual Status writeAll(std::span<iovec> pieces) = 0;
  // Reads exactly `bytes`, failing with kFailed and CUDA_ERROR_TIMEOUT when receiveDeadline()
  // passes first. Called by one receiving thread at a time.
  virtual Status readExactly(std::uint8_t* into, std::size_t bytes) = 0;
  // The deadline of the receive in progress, if any (receiving thread only).
  std::optional<std::chrono::steady_clock::time_point> receiveDeadline() const { return deadline_; }

 private:
  std::uint32_t maxFrameBytes_ = kMaxFrameBytes;                     // receiving thread only
  std::optional<std::chrono::steady_clock::time_point> deadline_;  // receiving thread only
};

// The bytes of `pieces` from `first` on.
std::size_t remainingBytes(std::span<const iovec> pieces, std::size_t first);
// Drops `bytes` written from the front of `pieces`, starting at `first`; returns the new first
// unfinished piece (pieces.size() when all are done).
std::size_t consumePieces(std::span<iovec> pieces, std::size_t first, std::size_t bytes);

}  // namespace fastgpu::protocol
