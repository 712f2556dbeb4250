// One Call message under construction. Small calls (launches, records, ...) are built in a
// first segment inside the object: the hot path does not touch the heap for the message itself.
#pragma once

#include <capnp/message.h>

#include <atomic>
#include <cstdint>

#include "protocol/schema/fastgpu.capnp.h"

namespace fastgpu::interposer {

// The calling thread's serial in this process (1, 2, ...): the server gives each thread its own
// per-thread default stream.
inline std::uint32_t threadSerial() {
  static std::atomic<std::uint32_t> next{0};
  thread_local const std::uint32_t mine = ++next;
  return mine;
}

class CallMessage {
 public:
  explicit CallMessage(std::uint64_t context)
      : builder_(kj::arrayPtr(scratch_, kScratchWords)), call_(builder_.initRoot<wire::Call>()) {
    call_.setContext(context);
    call_.setThread(threadSerial());
  }
  CallMessage(const CallMessage&) = delete;
  CallMessage& operator=(const CallMessage&) = delete;

  wire::Call::Builder* operator->() { return &call_; }
  wire::Call::Builder call() { return call_; }
  capnp::MessageBuilder& builder() { return builder_; }

 private:
  static constexpr std::size_t kScratchWords = 128;
  capnp::word scratch_[kScratchWords] = {};
  capnp::MallocMessageBuilder builder_;
  wire::Call::Builder call_;
};

}  // namespace fastgpu::interposer
