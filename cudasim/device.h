// One simulated device, modelled on an NVIDIA H100 SXM 80GB: identity, attributes, memory, the
// execution lock that makes it run one piece of work at a time, and its primary context state.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>

#include "cudaabi/cuda_api.h"
#include "cudaabi/result.h"
#include "cudasim/completion.h"
#include "cudasim/device_memory.h"
#include "cudasim/device_share.h"

namespace fastgpu::sim {

class Context;

// The most elements a 1-D texture bound to linear memory may span (Hopper's, for every format and
// channel count cudasim accepts).
inline constexpr int kTexture1DLinearMaxWidth = 1 << 28;

class Device {
 public:
  // `share` is what the device shares with other processes using it (device_share.h); it must
  // outlive the device.
  static Result<std::unique_ptr<Device>> create(int ordinal, std::uint64_t memoryBytes, DeviceShare& share);

  int ordinal() const { return ordinal_; }
  const std::string& name() const { return name_; }
  const CUuuid& uuid() const { return uuid_; }
  int pciBus() const;
  // The value of a device attribute, or CUDA_ERROR_INVALID_VALUE for an unknown one.
  Result<int> attribute(CUdevice_attribute attribute) const;
  DeviceMemory& memory() { return *memory_; }
  // Held while the device runs a kernel, copy or memset, by whichever process sent it.
  ProcessMutex& executionMutex() { return share_.execution(); }
  // When its latest piece of work ended; read and set with executionMutex() held.
  Clock::time_point lastWorkEnd() const { return Clock::time_point(std::chrono::nanoseconds(share_.lastWorkEndNanos())); }
  void setLastWorkEnd(Clock::time_point when) {
    share_.setLastWorkEndNanos(std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count());
  }

  // Primary context state, guarded by primaryMutex().
  struct PrimaryContextState {
    unsigned flags = 0;
    int retainCount = 0;
    std::shared_ptr<Context> context;  // null while inactive
  };
  std::mutex& primaryMutex() { return primaryMutex_; }
  PrimaryContextState& primary() { return primary_; }

 private:
  Device(int ordinal, std::unique_ptr<DeviceMemory> memory, DeviceShare& share);

  const int ordinal_;
  std::string name_;
  CUuuid uuid_{};
  std::unique_ptr<DeviceMemory> memory_;
  DeviceShare& share_;
  std::mutex primaryMutex_;
  PrimaryContextState primary_;
};

}  // namespace fastgpu::sim
