// Two RdmaLinks joined in this process, for testing everything above the verbs layer
// (rdma_connection.h) where no RDMA device exists: a write copies into the peer's region (checked
// against it as a NIC checks a remote key's bounds) and queues the immediate after the bytes, as
// RDMA WRITE WITH IMM is seen by the peer. One-sided reads and writes check the peer's
// registrations as its NIC checks a remote key (key, access, bounds). Shutting either end down, or
// a remote access error, breaks both, as a QP in error.
#pragma once

#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
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
      return broken("a write outside the registered region");  // a remote access error puts a QP in error
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

  Result<protocol::RdmaRegion> registerMemory(std::span<std::uint8_t> memory, bool peerMayAccess) override {
    std::lock_guard hold(wire_->mutex);
    if (failRegistrations_) {
      return Status(ErrorKind::kFailed, CUDA_ERROR_OPERATING_SYSTEM, "ibv_reg_mr: Cannot allocate memory");
    }
    protocol::RdmaRegion region{++lastId_, memory.data(), memory.size(), peerMayAccess ? ++lastKey_ : 0};
    registrations_[region.id] = region;
    return region;
  }

  void deregister(const protocol::RdmaRegion& region) override {
    std::lock_guard hold(wire_->mutex);
    registrations_.erase(region.id);
  }

  Status read(const protocol::RdmaRegion& into, std::uint64_t offset, protocol::RdmaPeerAddress from,
              std::uint32_t bytes) override {
    return oneSided(into, offset, from, bytes, false);
  }

  Status writeTo(const protocol::RdmaRegion& from, std::uint64_t offset, protocol::RdmaPeerAddress to,
                 std::uint32_t bytes) override {
    return oneSided(from, offset, to, bytes, true);
  }

  // Registrations that exist now, and a switch that makes the next ones fail (ENOMEM).
  std::size_t registrations() {
    std::lock_guard hold(wire_->mutex);
    return registrations_.size();
  }
  void failRegistrations(bool fail) {
    std::lock_guard hold(wire_->mutex);
    failRegistrations_ = fail;
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
  // Called with the wire's mutex held.
  Status broken(std::string why) {
    wire_->broken = true;
    wire_->arrived.notify_all();
    return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, std::move(why));
  }

  Status oneSided(const protocol::RdmaRegion& local, std::uint64_t offset, protocol::RdmaPeerAddress remote,
                  std::uint32_t bytes, bool writing) {
    std::lock_guard hold(wire_->mutex);
    if (wire_->broken) return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, "the fake RDMA link is down");
    auto mine = registrations_.find(local.id);
    if (mine == registrations_.end() || offset > mine->second.bytes || bytes > mine->second.bytes - offset) {
      return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE, "a local range outside its registration");
    }
    std::uint8_t* there = nullptr;
    for (const auto& [id, region] : peer_->registrations_) {
      auto start = reinterpret_cast<std::uint64_t>(region.data);
      if (region.remoteKey != 0 && region.remoteKey == remote.key && remote.address >= start &&
          remote.address - start <= region.bytes && bytes <= region.bytes - (remote.address - start)) {
        there = region.data + (remote.address - start);
      }
    }
    if (there == nullptr) return broken("remote access error");
    std::uint8_t* here = mine->second.data + offset;
    if (writing) {
      std::memcpy(there, here, bytes);
    } else {
      std::memcpy(here, there, bytes);
    }
    return Status::ok();
  }

  std::shared_ptr<Wire> wire_;
  std::vector<std::uint8_t> memory_;
  FakeRdmaLink* peer_ = nullptr;
  std::deque<std::uint32_t> immediates_;
  std::uint64_t writes_ = 0;
  std::map<std::uint64_t, protocol::RdmaRegion> registrations_;
  std::uint64_t lastId_ = 0;
  std::uint32_t lastKey_ = 0x5000;
  bool failRegistrations_ = false;
};

}  // namespace fastgpu::testing
