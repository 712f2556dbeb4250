// See delivery_table.h.
#include "interposer/delivery_table.h"

#include <cstring>

#include <fmt/format.h>

#include "cudaabi/checked_math.h"

namespace fastgpu::interposer {

std::optional<std::uint64_t> DeliveryTable::add(void* destination, std::uint64_t bytes) {
  if (pending_.size() >= kMaxPending || bytes > kMaxPendingBytes - pendingBytes_) return std::nullopt;
  std::uint64_t id = next_++;
  pending_.emplace(id, Pending{destination, bytes});
  pendingBytes_ += bytes;
  return id;
}

namespace {
bool inside(const void* destination, std::uintptr_t base, std::uint64_t bytes) {
  auto at = reinterpret_cast<std::uintptr_t>(destination);
  return destination != nullptr && at >= base && at - base < bytes;
}
}  // namespace

bool DeliveryTable::anyInto(std::uintptr_t base, std::uint64_t bytes) const {
  for (const auto& [id, pending] : pending_) {
    if (inside(pending.destination, base, bytes)) return true;
  }
  return false;
}

void DeliveryTable::dropInto(std::uintptr_t base, std::uint64_t bytes) {
  for (auto& [id, pending] : pending_) {
    if (inside(pending.destination, base, bytes)) pending.destination = nullptr;
  }
}

Result<std::uint64_t> DeliveryTable::bytesOf(capnp::List<wire::Delivery>::Reader deliveries) {
  std::uint64_t total = 0;
  for (auto delivery : deliveries) {
    auto sum = cudaabi::checkedAdd(total, delivery.getBytes());
    if (!sum) return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE, "deliveries of more bytes than exist");
    total = *sum;
  }
  return total;
}

Status DeliveryTable::apply(capnp::List<wire::Delivery>::Reader deliveries, std::span<const std::uint8_t> bytes) {
  std::size_t offset = 0;
  for (auto delivery : deliveries) {
    auto found = pending_.find(delivery.getDelivery());
    std::uint64_t size = delivery.getBytes();
    if (found == pending_.end() || (size != 0 && size != found->second.bytes) || size > bytes.size() - offset) {
      return Status(ErrorKind::kFailed, CUDA_ERROR_UNKNOWN,
                    fmt::format("the server delivered {} bytes as copy {}, which this process did not ask for", size,
                                delivery.getDelivery()));
    }
    // A size of 0: the copy failed on the server (its error comes as the call's, deferred).
    if (size != 0 && found->second.destination != nullptr) {
      std::memcpy(found->second.destination, bytes.data() + offset, size);
    }
    offset += size;
    pendingBytes_ -= found->second.bytes;
    pending_.erase(found);
  }
  return Status::ok();
}

}  // namespace fastgpu::interposer
