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

namespace fastgpu::sim {

class Context;

class Device {
 public:
  static Result<std::unique_ptr<Device>> create(int ordinal, std::uint64_t memoryBytes);

  int ordinal() const { return ordinal_; }
  const std::string& name() const { return name_; }
  const CUuuid& uuid() const { return uuid_; }
  int pciBus() const;
  // The value of a device attribute, or CUDA_ERROR_INVALID_VALUE for an unknown one.
  Result<int> attribute(CUdevice_attribute attribute) const;
  DeviceMemory& memory() { return *memory_; }
  // Held while the device runs a kernel, copy or memset.
  std::mutex& executionMutex() { return execution_; }
  // When its latest piece of work ended; read and set with executionMutex() held.
  Clock::time_point lastWorkEnd() const { return lastWorkEnd_; }
  void setLastWorkEnd(Clock::time_point when) { lastWorkEnd_ = when; }

  // Primary context state, guarded by primaryMutex().
  struct PrimaryContextState {
    unsigned flags = 0;
    int retainCount = 0;
    std::shared_ptr<Context> context;  // null while inactive
  };
  std::mutex& primaryMutex() { return primaryMutex_; }
  PrimaryContextState& primary() { return primary_; }

 private:
  Device(int ordinal, std::unique_ptr<DeviceMemory> memory);

  const int ordinal_;
  std::string name_;
  CUuuid uuid_{};
  std::unique_ptr<DeviceMemory> memory_;
  std::mutex execution_;
  Clock::time_point lastWorkEnd_;  // guarded by execution_
  std::mutex primaryMutex_;
  PrimaryContextState primary_;
};

}  // namespace fastgpu::sim
