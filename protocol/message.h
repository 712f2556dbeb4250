// Cap'n Proto messages in frames: a frame's payload holds one or more messages back to back,
// each a flat array of 8-byte words. Decoding is bounds-checked by Cap'n Proto with limits of
// our own; a malformed message is a Status (kFailed), never a crash.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "cudaabi/result.h"

namespace fastgpu::protocol {

// Appends `message` to `batch` (whose size stays a multiple of 8).
void appendMessage(capnp::MessageBuilder& message, std::vector<std::uint8_t>& batch);

// The zero padding that follows `bytes` bulk bytes so the next message starts on a word.
std::span<const std::uint8_t> bulkPadding(std::uint64_t bytes);

// Reads the messages of one frame payload in order. The payload must outlive the cursor and
// every reader it returns.
class MessageCursor {
 public:
  explicit MessageCursor(std::span<const std::uint8_t> payload);

  bool done() const { return remaining_.size() == 0; }
  // Reads the next message into `slot` (in place: no allocation on the per-call path). A payload
  // that is not whole words or a message that does not decode fails with kFailed and a reason;
  // the rest of the payload is then unusable.
  Status next(std::optional<capnp::FlatArrayMessageReader>& slot);
  // The `bytes` raw bulk bytes that follow the last message (and their padding to 8 bytes).
  Result<std::span<const std::uint8_t>> takeBulk(std::uint64_t bytes);

 private:
  kj::ArrayPtr<const capnp::word> remaining_;
  bool misaligned_ = false;
};

// Runs `body`, turning a Cap'n Proto decoding exception (thrown lazily, when a malformed
// pointer is followed) into a kFailed Status naming `what`.
template <typename Body>
Status decodeSafely(const char* what, Body&& body);

}  // namespace fastgpu::protocol

#include "protocol/message_inl.h"
