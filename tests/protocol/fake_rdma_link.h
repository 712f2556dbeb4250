// Two RdmaLinks joined in this process, for testing everything above the verbs layer
// (rdma_connection.h) where no RDMA device exists: a write copies into the peer's region (checked
// against it as a NIC checks a remote key's bounds) and queues the immediate after the bytes, as
// RDMA WRITE WITH IMM is seen by the peer. Shutting either end down breaks both, as a QP in error.
#pragma once

#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "protocol/transport/rdma_link.h"

namespace fastgpu::testing {

class FakeRdmaLink final : public protocol::RdmaLink {
 public:
  struct Wire {
    std::mutex mutex;
    std::condition_variable arrived;
    bool broken = false;
  };

  FakeRdmaLink(std::shared_ptr<Wire> wire, std::size_t bytes) : wire_(std::move(wire)), memory_(bytes) {}

  static std::pair<std::unique_ptr<FakeRdmaLink>, std::unique_ptr<FakeRdmaLink>> pair(std::size_t bytes) {
    auto wire = std::make_shared<Wire>();
    auto a = std::make_unique<FakeRdmaLink>(wire, bytes);
    auto b = std::make_unique<FakeRdmaLink>(wire, bytes);
    a->peer_ = b.get();
    b->peer_ = a.get();
    return {std::move(a), std::move(b)};
  }

  std::span<std::uint8_t> memory() override { return memory_; }

  Status write(std::uint64_t localOffset, std::uint64_t remoteOffset, std::uint32_t bytes,
               std::optional<std::uint32_t> immediate) override {
    std::lock_guard hold(wire_->mutex);
    if (wire_->broken) return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, "the fake RDMA link is down");
    if (localOffset > memory_.size() || bytes > memory_.size() - localOffset || remoteOffset > peer_->memory_.size() ||
        bytes > peer_->memory_.size() - remoteOffset) {
      wire_->broken = true;  // a remote access error puts a QP in error
      wire_->arrived.notify_all();
      return Status(ErrorKind::kDisconnected, CUDA_ERROR_INVALID_VALUE, "a write outside the registered region");
    }
    std::memcpy(peer_->memory_.data() + remoteOffset, memory_.data() + localOffset, bytes);
    ++writes_;
    if (immediate) {
      peer_->immediates_.push_back(*immediate);
      wire_->arrived.notify_all();
    }
    return Status::ok();
  }

  Result<std::uint32_t> nextImmediate() override {
    std::unique_lock hold(wire_->mutex);
    wire_->arrived.wait(hold, [&] { return wire_->broken || !immediates_.empty(); });
    if (wire_->broken) return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, "the fake RDMA link is down");
    std::uint32_t immediate = immediates_.front();
    immediates_.pop_front();
    return immediate;
  }

  // Writes made so far (each one a message on a real link).
  std::uint64_t writes() {
    std::lock_guard hold(wire_->mutex);
    return writes_;
  }

  void shutdown() override {
    std::lock_guard hold(wire_->mutex);
    wire_->broken = true;
    wire_->arrived.notify_all();
  }

 private:
  std::shared_ptr<Wire> wire_;
  std::vector<std::uint8_t> memory_;
  FakeRdmaLink* peer_ = nullptr;
  std::deque<std::uint32_t> immediates_;
  std::uint64_t writes_ = 0;
};

}  // namespace fastgpu::testing
