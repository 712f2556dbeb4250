#include "server/rdma_host_copies.h"

#include <algorithm>
#include <span>

#include <fmt/format.h>

#include "cudaabi/error_strings.h"

namespace fastgpu::server {
namespace {

Status driverFailure(CUresult result, const char* what) {
  return Status(result, fmt::format("{}: {}", what, cudaabi::errorNameOrNumber(result)));
}

}  // namespace

Result<std::unique_ptr<RdmaHostCopies>> RdmaHostCopies::create(const cudaabi::DriverTable& driver,
                                                               protocol::RdmaLink& link) {
  void* memory = nullptr;
  if (CUresult result = driver.cuMemHostAlloc(&memory, 2 * kHalfBytes, CU_MEMHOSTALLOC_PORTABLE);
      result != CUDA_SUCCESS) {
    return driverFailure(result, "cuMemHostAlloc (RDMA staging)");
  }
  std::unique_ptr<RdmaHostCopies> copies(new RdmaHostCopies(driver, link, memory));
  auto registered = link.registerMemory(std::span<std::uint8_t>(copies->memory_, 2 * kHalfBytes), false);
  if (!registered) return registered.status();
  copies->region_ = *registered;
  return copies;
}

RdmaHostCopies::RdmaHostCopies(const cudaabi::DriverTable& driver, protocol::RdmaLink& link, void* memory)
    : driver_(driver), link_(link), memory_(static_cast<std::uint8_t*>(memory)) {}

RdmaHostCopies::~RdmaHostCopies() {
  if (region_.id != 0) link_.deregister(region_);
  driver_.cuMemFreeHost(memory_);
}

CUresult RdmaHostCopies::deviceCopy(CUstream stream, std::uint64_t device, unsigned which, std::uint64_t bytes,
                                    bool toHost, const Metering& metering) {
  scheduler::GatedWork gated(metering.gate, metering.tenant, stream, metering.account);
  CUresult result = toHost ? driver_.cuMemcpyDtoHAsync_v2(half(which), device, bytes, stream)
                           : driver_.cuMemcpyHtoDAsync_v2(device, half(which), bytes, stream);
  if (result == CUDA_SUCCESS) gated.submitted();
  return result;
}

Status RdmaHostCopies::toDevice(CUstream stream, std::uint64_t device, protocol::RdmaPeerAddress from,
                                std::uint64_t bytes, const Metering& metering) {
  // Chunk i is read into half i % 2 while the device copies chunk i - 1 out of the other half;
  // waiting for the stream after the read frees that half for chunk i + 1.
  unsigned which = 0;
  for (std::uint64_t offset = 0; offset < bytes; offset += kHalfBytes, which ^= 1) {
    auto chunk = static_cast<std::uint32_t>(std::min(kHalfBytes, bytes - offset));
    if (Status read = link_.read(region_, which * kHalfBytes, {from.address + offset, from.key}, chunk); !read) {
      (void)driver_.cuStreamSynchronize(stream);  // the device may be emptying the other half
      return read;
    }
    if (offset > 0) {
      if (CUresult result = driver_.cuStreamSynchronize(stream); result != CUDA_SUCCESS) {
        return driverFailure(result, "cuMemcpyHtoD (RDMA)");
      }
    }
    if (CUresult result = deviceCopy(stream, device + offset, which, chunk, false, metering); result != CUDA_SUCCESS) {
      return driverFailure(result, "cuMemcpyHtoD (RDMA)");
    }
  }
  CUresult result = driver_.cuStreamSynchronize(stream);
  return result == CUDA_SUCCESS ? Status::ok() : driverFailure(result, "cuMemcpyHtoD (RDMA)");
}

Status RdmaHostCopies::toHost(CUstream stream, std::uint64_t device, protocol::RdmaPeerAddress to,
                              std::uint64_t bytes, const Metering& metering) {
  // The device fills half (i + 1) % 2 with chunk i + 1 while the NIC writes chunk i out of the
  // other; a write is complete when it returns, so its half is free for chunk i + 2.
  auto chunkAt = [&](std::uint64_t offset) { return static_cast<std::uint32_t>(std::min(kHalfBytes, bytes - offset)); };
  if (bytes == 0) return Status::ok();
  if (CUresult result = deviceCopy(stream, device, 0, chunkAt(0), true, metering); result != CUDA_SUCCESS) {
    return driverFailure(result, "cuMemcpyDtoH (RDMA)");
  }
  unsigned which = 0;
  for (std::uint64_t offset = 0; offset < bytes; offset += kHalfBytes, which ^= 1) {
    if (CUresult result = driver_.cuStreamSynchronize(stream); result != CUDA_SUCCESS) {
      return driverFailure(result, "cuMemcpyDtoH (RDMA)");
    }
    std::uint64_t next = offset + kHalfBytes;
    if (next < bytes) {
      if (CUresult result = deviceCopy(stream, device + next, which ^ 1, chunkAt(next), true, metering);
          result != CUDA_SUCCESS) {
        return driverFailure(result, "cuMemcpyDtoH (RDMA)");
      }
    }
    if (Status written = link_.writeTo(region_, which * kHalfBytes, {to.address + offset, to.key}, chunkAt(offset));
        !written) {
      (void)driver_.cuStreamSynchronize(stream);  // the device may be filling the other half
      return written;
    }
  }
  return Status::ok();
}

}  // namespace fastgpu::server
