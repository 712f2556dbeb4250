// Graph memory (allocation and free nodes, and cuMemAllocAsync / cuMemFreeAsync captured into
// them). The driver keeps graph memory in a pool of its own; cudasim holds exactly what graphs
// hold: an allocation node's device memory is allocated when the node is made, so its address is
// known at once as the driver's is, and freed when the last graph or executable holding the node
// goes. Between a replay of its allocation node and its free (a free node, or cuMemFreeAsync /
// cuMemFree after the replay) an allocation is live; a graph whose allocation is still live
// cannot be launched again unless instantiated to free it on launch.
//
// Threading: every method may be called from any thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include "cudaabi/result.h"
#include "cudaabi/cuda_api.h"

namespace fastgpu::sim {

class Device;
class GraphMemory;

class GraphAllocation {
 public:
  GraphAllocation(GraphMemory& registry, Device& device, std::uint64_t base, std::uint64_t bytes)
      : registry_(registry), device_(device), base_(base), bytes_(bytes) {}
  ~GraphAllocation();
  GraphAllocation(const GraphAllocation&) = delete;
  GraphAllocation& operator=(const GraphAllocation&) = delete;

  std::uint64_t base() const { return base_; }
  std::uint64_t bytes() const { return bytes_; }
  Device& device() const { return device_; }
  bool live() const { return live_.load(); }
  void setLive(bool live);

 private:
  GraphMemory& registry_;
  Device& device_;
  const std::uint64_t base_;
  const std::uint64_t bytes_;
  std::atomic<bool> live_{false};
};

class GraphMemory {
 public:
  Result<std::shared_ptr<GraphAllocation>> allocate(Device& device, std::uint64_t bytes);
  // The allocation starting at `base`, if it is graph memory that some graph still holds.
  std::shared_ptr<GraphAllocation> find(std::uint64_t base);
  // cuDeviceGetGraphMemAttribute / cuDeviceSetGraphMemAttribute (only the high watermarks can be
  // set, to zero).
  Result<std::uint64_t> attribute(const Device& device, CUgraphMem_attribute attribute);
  Status resetHigh(const Device& device, CUgraphMem_attribute attribute);

 private:
  friend class GraphAllocation;
  struct Usage {
    std::uint64_t used = 0, usedHigh = 0, reserved = 0, reservedHigh = 0;
  };
  void changed(const Device& device, std::int64_t used, std::int64_t reserved);
  void forget(std::uint64_t base);

  std::mutex mutex_;
  std::map<std::uint64_t, std::weak_ptr<GraphAllocation>> allocations_;
  std::map<const Device*, Usage> usage_;
};

}  // namespace fastgpu::sim
