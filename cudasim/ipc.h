// Interprocess sharing of device memory (cuIpcGetMemHandle / cuIpcOpenMemHandle /
// cuIpcCloseMemHandle). An exported allocation's pages are a memfd (device_memory.h); its handle
// names the exporting process, the descriptor and a serial, and another process of the same user
// opens the memfd through /proc/<pid>/fd/<fd> (checking the serial in its name, so a reused
// descriptor number is refused) and maps it into its own device range. A process opens a handle
// once: opening it again counts a reference and gives the same address.
//
// Threading: any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "cudaabi/cuda_api.h"
#include "cudaabi/result.h"

namespace fastgpu::sim {

class Device;

// Opens memfd `fd` of process `pid` (of this user) through /proc, checking that it is the memfd
// named `name` (a reused descriptor number is refused) and holds at least `minimumBytes`.
Result<int> openSharedMemfd(std::uint32_t pid, int fd, const std::string& name, std::uint64_t minimumBytes);

// What cudasim writes into a CUipcMemHandle's 64 bytes.
struct IpcMemHandleContents {
  static constexpr std::uint32_t kMagic = 0x50495346;  // "FSIP"
  std::uint32_t magic = kMagic;
  std::uint32_t pid = 0;
  std::int32_t fd = -1;
  std::uint32_t reserved = 0;
  std::uint64_t serial = 0;
  std::uint64_t bytes = 0;   // the allocation's size
  std::uint64_t length = 0;  // the shared pages
};
static_assert(sizeof(IpcMemHandleContents) <= sizeof(CUipcMemHandle));

// Makes the allocation starting at `base` of `device` shareable (DeviceMemory::exportAllocation)
// and says how another process opens it; CUDA_ERROR_INVALID_VALUE for anything else.
Result<IpcMemHandleContents> shareAllocation(Device& device, std::uint64_t base);

class IpcImports {
 public:
  // Opens `handle` into `device` for context `owner`: the address, the same one again for a handle
  // this process opened already.
  Result<std::uint64_t> open(const IpcMemHandleContents& handle, Device& device, std::uint64_t owner);
  // Closes one opening of the memory at `base`; the last one unmaps it.
  Status close(std::uint64_t base);

 private:
  struct Opened {
    Device* device;
    std::uint64_t base;
    int references;
  };
  std::mutex mutex_;
  std::map<std::pair<std::uint32_t, std::uint64_t>, Opened> opened_;  // (pid, serial) -> mapping
};

}  // namespace fastgpu::sim
