// What a session's graphs hold (session_state.h): staging buffers of captured copies to the host
// and graph memory, each held by its graph and the executables made from it, freed with the last.
#include <fmt/format.h>

#include "server/session_state.h"

namespace fastgpu::server {

Result<std::pair<std::uint64_t, void*>> SessionState::createStaging(std::uint64_t bytes, std::uint64_t capture,
                                                                    std::uint64_t holder) {
  if (bytes == 0 || bytes > kMaxStagingBytes - stagingBytes_) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("captured copies to the host stage {} bytes on the server, "
                                                        "its limit for a session is {}",
                                                        stagingBytes_ + bytes, kMaxStagingBytes));
  }
  void* host = nullptr;
  if (CUresult result = driver_.cuMemHostAlloc(&host, bytes, CU_MEMHOSTALLOC_PORTABLE); result != CUDA_SUCCESS) {
    return Status(result, "cuMemHostAlloc for a staging buffer failed");
  }
  std::uint64_t id = add(HandleKind::kStaging, host);
  graphResources_[id] = GraphResource{host, 0, bytes, 0, capture, 0};
  stagingBytes_ += bytes;
  stagingAt_[reinterpret_cast<std::uintptr_t>(host)] = StagingPlace{bytes, id};
  if (holder != 0) hold(id, holder);
  return std::pair{id, host};
}

bool SessionState::isStagingBuffer(std::uint64_t address) const {
  auto it = stagingAt_.upper_bound(address);
  if (it == stagingAt_.begin()) return false;
  --it;
  return address - it->first < it->second.bytes;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> SessionState::stagingStartingAt(std::uint64_t address) const {
  auto it = stagingAt_.find(address);
  if (it == stagingAt_.end()) return std::nullopt;
  return std::pair{it->second.id, it->second.bytes};
}

void SessionState::hold(std::uint64_t resource, std::uint64_t holder) {
  ++graphResources_[resource].holders;
  resourcesHeld_[holder].push_back(resource);
}

Result<std::pair<void*, std::uint64_t>> SessionState::staging(std::uint64_t id) const {
  auto it = graphResources_.find(id);
  if (kindOf(id) != HandleKind::kStaging || it == graphResources_.end()) {
    return Status(CUDA_ERROR_INVALID_HANDLE, "not a staging buffer of this session");
  }
  return std::pair{it->second.host, it->second.bytes};
}

Result<std::uint64_t> SessionState::allocateInCapture(std::uint64_t bytes, CUstream stream, std::uint64_t capture) {
  return addGraphMemory(bytes, capture, 0, [&](CUdeviceptr* base) { return driver_.cuMemAllocAsync(base, bytes, stream); });
}

Result<std::uint64_t> SessionState::allocateInGraph(std::uint64_t bytes, std::uint64_t holder,
                                                    const std::function<CUresult(CUdeviceptr*)>& add) {
  return addGraphMemory(bytes, 0, holder, add);
}

Result<std::uint64_t> SessionState::addGraphMemory(std::uint64_t bytes, std::uint64_t capture, std::uint64_t holder,
                                                   const std::function<CUresult(CUdeviceptr*)>& allocate) {
  if (current_ == 0) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
  if (bytes == 0) return Status(CUDA_ERROR_INVALID_VALUE, "zero bytes");
  // Charged now, while the driver only reserves the address: the quota holds whenever it runs.
  if (Status reserved = lease_->reserve(bytes); !reserved) return reserved;
  CUdeviceptr base = 0;
  if (CUresult result = allocate(&base); result != CUDA_SUCCESS) {
    lease_->release(bytes);
    return Status(result, "graph memory: the driver's allocation failed");
  }
  CUdevice device = 0;
  driver_.cuCtxGetDevice(&device);
  std::uint64_t id = add(HandleKind::kGraphMemory, reinterpret_cast<void*>(static_cast<std::uintptr_t>(base)));
  graphResources_[id] = GraphResource{nullptr, base, bytes, device, capture, 0};
  graphMemory_[base] = id;
  ranges_[base] = Range{bytes, current_, false};
  if (holder != 0) hold(id, holder);
  return base;
}

bool SessionState::isGraphMemory(std::uint64_t base) const { return graphMemory_.count(base) > 0; }

void SessionState::freeGraphResource(std::uint64_t id) {
  auto it = graphResources_.find(id);
  if (it == graphResources_.end()) return;
  const GraphResource& resource = it->second;
  if (resource.host != nullptr) {
    driver_.cuMemFreeHost(resource.host);
    stagingBytes_ -= resource.bytes;
    stagingAt_.erase(reinterpret_cast<std::uintptr_t>(resource.host));
  }
  if (resource.address != 0) {
    // The driver keeps graph memory in its graph pool: give it back to the GPU, then to the quota.
    driver_.cuDeviceGraphMemTrim(resource.device);
    lease_->release(resource.bytes);
    ranges_.erase(resource.address);
    graphMemory_.erase(resource.address);
  }
  graphResources_.erase(it);
  remove(id);
}

void SessionState::captureResourcesEnded(std::uint64_t capture, std::uint64_t owner) {
  if (capture == 0) return;  // resources of added nodes are held from the start
  std::vector<std::uint64_t> ended;
  for (auto& [id, resource] : graphResources_) {
    if (resource.capture != capture || resource.holders > 0) continue;
    resource.capture = 0;
    ended.push_back(id);
  }
  for (std::uint64_t id : ended) {
    if (owner == 0) {
      freeGraphResource(id);
    } else {
      hold(id, owner);
    }
  }
}

void SessionState::shareGraphResources(std::uint64_t from, std::uint64_t to) {
  auto it = resourcesHeld_.find(from);
  if (it == resourcesHeld_.end()) return;
  for (std::uint64_t id : std::vector<std::uint64_t>(it->second)) hold(id, to);
}

void SessionState::releaseGraphResources(std::uint64_t owner) {
  auto it = resourcesHeld_.find(owner);
  if (it == resourcesHeld_.end()) return;
  std::vector<std::uint64_t> held = std::move(it->second);
  resourcesHeld_.erase(it);
  for (std::uint64_t id : held) {
    if (--graphResources_[id].holders == 0) freeGraphResource(id);
  }
}

}  // namespace fastgpu::server
