// What the processes using one simulated device share, as the processes sharing a GPU do
// (DESIGN.md, decision 11): the device runs one piece of work at a time whichever process sent
// it, and has one memory capacity. Each process keeps its own memory contents and addresses (a
// process sees only its own memory, as on a GPU).
//
// With FASTGPU_SIM_SHARED=NAME, every process that names the same group shares its devices
// through a segment of shared memory (/dev/shm/fastgpu-sim-NAME, created by the first, removed
// when that one exits); without it a process has its devices to itself. fastgpu-server sets a
// group for itself and its session workers.
//
// Threading: any thread of any process in the group.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "cudaabi/process_shared.h"
#include "cudaabi/result.h"
#include "cudasim/sim_config.h"

namespace fastgpu::sim {

class DeviceShare {
 public:
  static constexpr int kMaxProcesses = 4096;

  // The execution lock, and when the device's latest piece of work ended (steady-clock
  // nanoseconds; read and set with the lock held).
  ProcessMutex& execution() { return execution_; }
  std::int64_t lastWorkEndNanos() const { return lastWorkEndNanos_.load(); }
  void setLastWorkEndNanos(std::int64_t nanos) { lastWorkEndNanos_.store(nanos); }

  // Takes `bytes` of the device's `capacity` for this process; false when the device is full.
  // A process that died gives back what it held.
  bool take(std::uint64_t bytes, std::uint64_t capacity);
  void giveBack(std::uint64_t bytes);
  // Bytes held by every live process.
  std::uint64_t used();

 private:
  // No member initializers: the array lives in zero-filled pages (a fresh mapping) and only the
  // places in use are ever touched (a private process's devices cost a page, not 1.5 MB).
  struct Holder {
    std::int32_t pid;
    std::uint64_t startTime;  // with the pid: a process, even after its pid is reused
    std::uint64_t bytes;
  };
  // This process's holder, claimed on first use; -1 when every place is taken.
  int mine();
  // Clears holders whose process is gone; with memory_ held.
  void forgetTheDead();

  ProcessMutex execution_;
  std::atomic<std::int64_t> lastWorkEndNanos_{0};
  ProcessMutex memory_;  // guards holders_ and holderEnd_
  int holderEnd_ = 0;
  Holder holders_[kMaxProcesses];
};

// The device shares of this process: a group's shared segment, or private ones.
class DeviceShares {
 public:
  // Opens (creating) the group named by FASTGPU_SIM_SHARED, or private shares without one.
  static Result<std::unique_ptr<DeviceShares>> open();
  ~DeviceShares();
  DeviceShares(const DeviceShares&) = delete;
  DeviceShares& operator=(const DeviceShares&) = delete;

  DeviceShare& device(int ordinal) { return devices_[ordinal]; }

 private:
  DeviceShares(void* mapping, std::size_t bytes, DeviceShare* devices)
      : mapping_(mapping), bytes_(bytes), devices_(devices) {}
  void* mapping_;  // shared, or private (anonymous) for a process without a group
  std::size_t bytes_;
  DeviceShare* devices_;  // kMaxDevices of them
};

}  // namespace fastgpu::sim
