// See pending_deliveries.h.
#include "server/pending_deliveries.h"

#include <fmt/format.h>

namespace fastgpu::server {

void PendingDeliveries::clear() {
  for (Pending& pending : pending_) {
    driver_.cuEventDestroy_v2(pending.done);
    spare_.push_back(pending.buffer);
  }
  pending_.clear();
  pendingBytes_ = 0;
  while (!spare_.empty()) freeOldestSpare();
}

void PendingDeliveries::freeOldestSpare() {
  driver_.cuMemFreeHost(spare_.front().host);
  heldBytes_ -= spare_.front().capacity;
  spare_.erase(spare_.begin());
}

Result<PendingDeliveries::Buffer> PendingDeliveries::takeBuffer(std::uint64_t bytes) {
  // The smallest spare buffer that fits and wastes at most half of itself.
  auto best = spare_.end();
  for (auto it = spare_.begin(); it != spare_.end(); ++it) {
    if (it->capacity >= bytes && it->capacity / 2 <= bytes && (best == spare_.end() || it->capacity < best->capacity)) {
      best = it;
    }
  }
  if (best != spare_.end()) {
    Buffer buffer = *best;
    spare_.erase(best);
    return buffer;
  }
  // Room for a new one: spare buffers go first, oldest first. Pending bytes are within
  // kMaxPendingBytes and each buffer is less than twice its copy, so this makes room.
  while (!spare_.empty() && heldBytes_ + bytes > kMaxHeldBytes) freeOldestSpare();
  if (heldBytes_ + bytes > kMaxHeldBytes) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("asynchronous copies to the host hold {} bytes on the server; "
                                                        "a session may hold {}",
                                                        heldBytes_, kMaxHeldBytes));
  }
  Buffer buffer{nullptr, bytes};
  if (CUresult result = driver_.cuMemHostAlloc(&buffer.host, bytes, CU_MEMHOSTALLOC_PORTABLE); result != CUDA_SUCCESS) {
    return Status(result, "cuMemHostAlloc for an asynchronous copy to the host failed");
  }
  heldBytes_ += bytes;
  return buffer;
}

void PendingDeliveries::giveBack(Buffer buffer) {
  spare_.push_back(buffer);
  if (spare_.size() > kMaxPending) freeOldestSpare();
}

Status PendingDeliveries::stage(std::uint64_t id, CUdeviceptr source, std::uint64_t bytes, CUstream stream) {
  if (id != nextId_) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("delivery {} out of order (expected {})", id, nextId_));
  }
  if (bytes == 0) return Status(CUDA_ERROR_INVALID_VALUE, "an empty asynchronous copy to the host");
  if (pending_.size() >= kMaxPending) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("more than {} asynchronous copies to the host in flight", kMaxPending));
  }
  if (bytes > kMaxPendingBytes - pendingBytes_) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("more than {} bytes of asynchronous copies to the host in flight",
                                                        kMaxPendingBytes));
  }
  auto buffer = takeBuffer(bytes);
  if (!buffer) return buffer.status();
  CUevent done = nullptr;
  CUresult result = driver_.cuEventCreate(&done, CU_EVENT_DISABLE_TIMING);
  if (result == CUDA_SUCCESS) result = driver_.cuMemcpyDtoHAsync_v2(buffer->host, source, bytes, stream);
  if (result == CUDA_SUCCESS) result = driver_.cuEventRecord(done, stream);
  if (result != CUDA_SUCCESS) {
    if (done != nullptr) driver_.cuEventDestroy_v2(done);
    giveBack(*buffer);
    return Status(result, "an asynchronous copy to the host failed");
  }
  ++nextId_;
  pendingBytes_ += bytes;
  pending_.push_back(Pending{id, *buffer, bytes, done});
  return Status::ok();
}

void PendingDeliveries::fail(std::uint64_t id) {
  if (id == nextId_) ++nextId_;
  if (failed_.size() < kMaxPending) failed_.push_back(Collected{id, 0});
}

void PendingDeliveries::finishAll() {
  for (Pending& pending : pending_) driver_.cuEventSynchronize(pending.done);
}

bool PendingDeliveries::collect(std::vector<Collected>& done, std::vector<std::uint8_t>& bulk) {
  done.insert(done.end(), failed_.begin(), failed_.end());
  failed_.clear();
  std::uint64_t carried = 0;
  for (auto it = pending_.begin(); it != pending_.end();) {
    CUresult state = driver_.cuEventQuery(it->done);
    if (state == CUDA_ERROR_NOT_READY) {
      ++it;
      continue;
    }
    bool failed = state != CUDA_SUCCESS;
    if (!failed && carried + it->bytes > kMaxBytesPerReply && carried > 0) return true;
    done.push_back(Collected{it->id, failed ? 0 : it->bytes});
    if (!failed) {
      const auto* bytes = static_cast<const std::uint8_t*>(it->buffer.host);
      bulk.insert(bulk.end(), bytes, bytes + it->bytes);
      carried += it->bytes;
    }
    driver_.cuEventDestroy_v2(it->done);
    pendingBytes_ -= it->bytes;
    giveBack(it->buffer);
    it = pending_.erase(it);
  }
  return false;
}

}  // namespace fastgpu::server
