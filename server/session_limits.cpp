// Context limits (cuCtxSetLimit / cuCtxGetLimit) as a tenant of a shared GPU may set them: the
// device memory a limit sets aside counts against the quota, and the device-wide persisting L2
// set-aside is virtualized (see session_state.h).
#include <algorithm>

#include <fmt/format.h>

#include "cudaabi/checked_math.h"
#include "server/session_state.h"

namespace fastgpu::server {
namespace {

// An attribute of `device`, 0 when it cannot be read.
std::uint64_t attribute(const cudaabi::DriverTable& driver, CUdevice device, CUdevice_attribute which) {
  int value = 0;
  return driver.cuDeviceGetAttribute(&value, which, device) == CUDA_SUCCESS && value > 0 ? static_cast<std::uint64_t>(value)
                                                                                        : 0;
}

// The threads resident on `device` at once: each has a stack of the limit.
std::uint64_t residentThreads(const cudaabi::DriverTable& driver, CUdevice device) {
  return attribute(driver, device, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) *
         attribute(driver, device, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
}

}  // namespace

Status SessionState::setLimit(CUlimit limit, std::uint64_t value) {
  if (current_ == 0) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
  CUdevice device = 0;
  if (CUresult result = driver_.cuCtxGetDevice(&device); result != CUDA_SUCCESS) return Status(result, "cuCtxGetDevice failed");
  if (limit == CU_LIMIT_PERSISTING_L2_CACHE_SIZE) {
    // The driver clamps too.
    persistingL2_[current_] = std::min(value, attribute(driver_, device, CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE));
    return Status::ok();
  }
  if (lease_->quota() == nullptr) {  // nothing to charge to
    CUresult result = driver_.cuCtxSetLimit(limit, value);
    return result == CUDA_SUCCESS ? Status::ok() : Status(result, "cuCtxSetLimit failed");
  }
  std::uint64_t perUnit = 0;  // bytes of device memory per unit of the limit
  switch (limit) {
    case CU_LIMIT_MALLOC_HEAP_SIZE:
    case CU_LIMIT_PRINTF_FIFO_SIZE: perUnit = 1; break;
    case CU_LIMIT_STACK_SIZE: perUnit = residentThreads(driver_, device); break;
    default: break;
  }
  auto key = std::pair{current_, static_cast<int>(limit)};
  auto known = limitCharges_.find(key);
  if (perUnit > 0 && known == limitCharges_.end()) {
    std::size_t before = 0;
    if (driver_.cuCtxGetLimit(&before, limit) != CUDA_SUCCESS) before = 0;
    known = limitCharges_.emplace(key, LimitCharge{before, 0}).first;
  }
  std::uint64_t wanted = 0;
  if (perUnit > 0 && value > known->second.baseline) {
    auto bytes = cudaabi::checkedMul(value - known->second.baseline, perUnit);
    if (!bytes) return Status(CUDA_ERROR_OUT_OF_MEMORY, "the limit sets aside more memory than can be counted");
    wanted = *bytes;
  }
  std::uint64_t charged = perUnit > 0 ? known->second.charged : 0;
  if (wanted > charged) {
    if (Status room = charge(current_, wanted - charged); !room) {
      return Status(CUDA_ERROR_OUT_OF_MEMORY,
                    fmt::format("the limit would set aside {} bytes of device memory beyond the quota", wanted - charged));
    }
  }
  CUresult result = driver_.cuCtxSetLimit(limit, value);
  std::uint64_t keep = result == CUDA_SUCCESS ? wanted : charged;  // a refused change charges nothing new
  std::uint64_t held = std::max(wanted, charged);
  if (held > keep) uncharge(current_, held - keep);
  if (perUnit > 0) known->second.charged = keep;
  return result == CUDA_SUCCESS ? Status::ok() : Status(result, "cuCtxSetLimit failed");
}

Result<std::uint64_t> SessionState::limit(CUlimit limit) {
  if (limit == CU_LIMIT_PERSISTING_L2_CACHE_SIZE && current_ != 0) {
    auto it = persistingL2_.find(current_);
    if (it != persistingL2_.end()) return it->second;
  }
  std::size_t value = 0;
  if (CUresult result = driver_.cuCtxGetLimit(&value, limit); result != CUDA_SUCCESS) {
    return Status(result, "cuCtxGetLimit failed");
  }
  return static_cast<std::uint64_t>(value);
}

}  // namespace fastgpu::server
