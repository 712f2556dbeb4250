// Stream-ordered allocation for one session (DESIGN.md, decision 9): what the session's pools
// hold counts against the vGPU's quota. The driver decides how a pool grows and when it gives
// memory back, so the charge follows the pool's reserved memory as the driver reports it: checked
// before an allocation for the growth it may need, settled after every pool call and at every
// synchronization. A session's pools are its own: each session has a worker process, so even a
// device's default pool serves this session alone.
#include <fmt/format.h>

#include "server/session_state.h"

namespace fastgpu::server {
namespace {

Status refused(const std::string& why) { return Status(CUDA_ERROR_INVALID_VALUE, why); }

bool intAttribute(CUmemPool_attribute attribute) {
  return attribute == CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES ||
         attribute == CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC ||
         attribute == CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES;
}

}  // namespace

Result<int> SessionState::physicalDeviceOf(int device) const {
  int physical = lease_->physicalDevice(device);
  if (physical < 0) return Status(CUDA_ERROR_INVALID_DEVICE, fmt::format("device {} is not in this session's view", device));
  return physical;
}

Result<CUmemoryPool> SessionState::poolHandle(std::uint64_t id) const {
  auto entry = find(HandleKind::kPool, id);
  if (!entry) return refused("not a memory pool of this session");
  return static_cast<CUmemoryPool>(*entry);
}

Status SessionState::settlePoolCharge(std::uint64_t id) {
  auto pool = poolHandle(id);
  if (!pool) return pool.status();
  if (isImportedPool(id)) return Status::ok();  // its exporter's quota holds what it holds
  std::uint64_t reserved = 0;
  if (driver_.cuMemPoolGetAttribute(*pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved) != CUDA_SUCCESS) {
    return Status::ok();  // nothing known better than the charge already made
  }
  std::uint64_t& charged = poolCharges_[id];
  if (reserved < charged) {
    lease_->release(charged - reserved);
    charged = reserved;
  } else if (reserved > charged) {
    if (Status more = lease_->reserve(reserved - charged); !more) return more;
    charged = reserved;
  }
  return Status::ok();
}

void SessionState::settlePoolCharges() {
  for (const auto& [id, charged] : poolCharges_) (void)settlePoolCharge(id);  // shrinking never fails
}

Result<std::uint64_t> SessionState::defaultPool(int device) {
  auto physical = physicalDeviceOf(device);
  if (!physical) return physical.status();
  if (auto known = defaultPools_.find(*physical); known != defaultPools_.end()) return known->second;
  CUmemoryPool pool = nullptr;
  if (CUresult result = driver_.cuDeviceGetDefaultMemPool(&pool, *physical); result != CUDA_SUCCESS) {
    return Status(result, "cuDeviceGetDefaultMemPool failed");
  }
  std::uint64_t id = add(HandleKind::kPool, pool);
  defaultPools_[*physical] = id;
  poolCharges_[id] = 0;
  return id;
}

Result<std::uint64_t> SessionState::currentPool(int device) {
  auto physical = physicalDeviceOf(device);
  if (!physical) return physical.status();
  CUmemoryPool current = nullptr;
  if (CUresult result = driver_.cuDeviceGetMemPool(&current, *physical); result != CUDA_SUCCESS) {
    return Status(result, "cuDeviceGetMemPool failed");
  }
  for (const auto& [id, charged] : poolCharges_) {
    if (auto pool = poolHandle(id); pool && *pool == current) return id;
  }
  return defaultPool(device);  // the driver's current pool is one the session knows, or the default
}

Status SessionState::setCurrentPool(int device, std::uint64_t id) {
  auto physical = physicalDeviceOf(device);
  if (!physical) return physical.status();
  auto pool = poolHandle(id);
  if (!pool) return pool.status();
  if (isImportedPool(id)) return refused("an imported pool allocates nothing");
  CUresult result = driver_.cuDeviceSetMemPool(*physical, *pool);
  return result == CUDA_SUCCESS ? Status::ok() : Status(result, "cuDeviceSetMemPool failed");
}

Result<std::uint64_t> SessionState::createPool(int device, std::uint32_t handleTypes) {
  auto physical = physicalDeviceOf(device);
  if (!physical) return physical.status();
  if (handleTypes != CU_MEM_HANDLE_TYPE_NONE && handleTypes != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) {
    return Status(CUDA_ERROR_NOT_SUPPORTED, "pools are shared as POSIX descriptors only");
  }
  if (poolCharges_.size() + sharedPools_.size() >= kMaxPools) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("the session holds {} memory pools, its limit", kMaxPools));
  }
  CUmemPoolProps props{};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  props.location.id = *physical;
  props.handleTypes = static_cast<CUmemAllocationHandleType>(handleTypes);
  CUmemoryPool pool = nullptr;
  if (CUresult result = driver_.cuMemPoolCreate(&pool, &props); result != CUDA_SUCCESS) {
    return Status(result, "cuMemPoolCreate failed");
  }
  std::uint64_t id = add(HandleKind::kPool, pool);
  poolCharges_[id] = 0;
  if (handleTypes != CU_MEM_HANDLE_TYPE_NONE) sharedPools_[id] = SharedPool{false, *physical};
  return id;
}

Status SessionState::destroyPool(std::uint64_t id) {
  auto pool = poolHandle(id);
  if (!pool) return pool.status();
  for (const auto& [device, defaultId] : defaultPools_) {
    if (defaultId == id) return refused("a device's default pool cannot be destroyed");
  }
  for (const auto& [base, range] : ranges_) {
    if (range.pool == id) return refused("the pool still has allocations");
  }
  if (CUresult result = driver_.cuMemPoolDestroy(*pool); result != CUDA_SUCCESS) {
    return Status(result, "cuMemPoolDestroy failed");
  }
  if (auto charged = poolCharges_.find(id); charged != poolCharges_.end()) {
    lease_->release(charged->second);
    poolCharges_.erase(charged);
  }
  forgetSharedPool(id);
  remove(id);
  return Status::ok();
}

Status SessionState::trimPool(std::uint64_t id, std::uint64_t keep) {
  auto pool = poolHandle(id);
  if (!pool) return pool.status();
  if (CUresult result = driver_.cuMemPoolTrimTo(*pool, keep); result != CUDA_SUCCESS) {
    return Status(result, "cuMemPoolTrimTo failed");
  }
  return settlePoolCharge(id);
}

Status SessionState::setPoolAttribute(std::uint64_t id, CUmemPool_attribute attribute, std::uint64_t value) {
  auto pool = poolHandle(id);
  if (!pool) return pool.status();
  int small = static_cast<int>(value);
  void* argument = intAttribute(attribute) ? static_cast<void*>(&small) : static_cast<void*>(&value);
  if (CUresult result = driver_.cuMemPoolSetAttribute(*pool, attribute, argument); result != CUDA_SUCCESS) {
    return Status(result, "cuMemPoolSetAttribute failed");
  }
  return settlePoolCharge(id);
}

Result<std::uint64_t> SessionState::poolAttribute(std::uint64_t id, CUmemPool_attribute attribute) {
  auto pool = poolHandle(id);
  if (!pool) return pool.status();
  std::uint64_t value = 0;
  int small = 0;
  void* argument = intAttribute(attribute) ? static_cast<void*>(&small) : static_cast<void*>(&value);
  if (CUresult result = driver_.cuMemPoolGetAttribute(*pool, attribute, argument); result != CUDA_SUCCESS) {
    return Status(result, "cuMemPoolGetAttribute failed");
  }
  return intAttribute(attribute) ? static_cast<std::uint64_t>(small) : value;
}

Status SessionState::setPoolAccess(std::uint64_t id, const std::vector<std::pair<int, unsigned>>& access) {
  auto pool = poolHandle(id);
  if (!pool) return pool.status();
  std::vector<CUmemAccessDesc> descriptors;
  for (const auto& [device, flags] : access) {
    auto physical = physicalDeviceOf(device);
    if (!physical) return physical.status();
    CUmemAccessDesc descriptor{};
    descriptor.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    descriptor.location.id = *physical;
    descriptor.flags = static_cast<CUmemAccess_flags>(flags);
    descriptors.push_back(descriptor);
  }
  CUresult result = driver_.cuMemPoolSetAccess(*pool, descriptors.data(), descriptors.size());
  return result == CUDA_SUCCESS ? Status::ok() : Status(result, "cuMemPoolSetAccess failed");
}

Result<unsigned> SessionState::poolAccess(std::uint64_t id, int device) {
  auto pool = poolHandle(id);
  if (!pool) return pool.status();
  auto physical = physicalDeviceOf(device);
  if (!physical) return physical.status();
  CUmemLocation location{CU_MEM_LOCATION_TYPE_DEVICE, *physical};
  CUmemAccess_flags flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;
  if (CUresult result = driver_.cuMemPoolGetAccess(&flags, *pool, &location); result != CUDA_SUCCESS) {
    return Status(result, "cuMemPoolGetAccess failed");
  }
  return static_cast<unsigned>(flags);
}

Result<std::uint64_t> SessionState::allocateAsync(std::uint64_t bytes, std::uint64_t id, CUstream stream) {
  if (current_ == 0) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
  if (bytes == 0) return refused("zero bytes");
  if (id == 0) {
    auto current = currentPool(contexts_.at(current_).device);
    if (!current) return current.status();
    id = *current;
  }
  auto pool = poolHandle(id);
  if (!pool) return pool.status();
  if (isImportedPool(id)) return refused("an imported pool allocates nothing");
  if (Status settled = settlePoolCharge(id); !settled) return settled;
  // The growth the allocation may need: what the pool holds beyond what it hands out already
  // serves first. Charged before the driver sees the call, so the quota holds at every moment.
  std::uint64_t reserved = 0, used = 0;
  driver_.cuMemPoolGetAttribute(*pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved);
  driver_.cuMemPoolGetAttribute(*pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used);
  std::uint64_t idle = reserved > used ? reserved - used : 0;
  std::uint64_t growth = bytes > idle ? bytes - idle : 0;
  if (Status room = lease_->reserve(growth); !room) return room;
  poolCharges_[id] += growth;
  CUdeviceptr base = 0;
  if (CUresult result = driver_.cuMemAllocFromPoolAsync(&base, bytes, *pool, stream); result != CUDA_SUCCESS) {
    (void)settlePoolCharge(id);
    return Status(result, "cuMemAllocFromPoolAsync failed");
  }
  if (Status settled = settlePoolCharge(id); !settled) {
    // The pool grew past what the quota allows (the driver grows pools in its own steps): undo.
    driver_.cuMemFreeAsync(base, stream);
    driver_.cuStreamSynchronize(stream);
    driver_.cuMemPoolTrimTo(*pool, 0);
    (void)settlePoolCharge(id);
    return settled;
  }
  ranges_[base] = Range{bytes, current_, false, 0, 0, id};
  return base;
}

Status SessionState::freeAsync(std::uint64_t base, CUstream stream) {
  auto it = ranges_.find(base);
  if (it == ranges_.end() || it->second.pool == 0) {
    return refused(fmt::format("{:#x} is not a stream-ordered allocation of this session", base));
  }
  std::uint64_t id = it->second.pool;
  if (CUresult result = driver_.cuMemFreeAsync(base, stream); result != CUDA_SUCCESS) {
    return Status(result, "cuMemFreeAsync failed");
  }
  forgetPointerExport(base);
  ranges_.erase(it);
  return settlePoolCharge(id);
}

}  // namespace fastgpu::server
