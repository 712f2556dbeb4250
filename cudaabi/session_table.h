// FastGPU's own private driver table: what FastGPU's NVML library (nvml/) asks the driver
// library loaded in the same process, through cuGetExportTable with kSessionTableId, so that it
// exports no symbol of its own (DESIGN.md decision 15). Both driver libraries serve it: the
// interposer answers from the server (the session's vGPU), cudasim from its simulated devices.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cudaabi/cuda_api.h"

namespace fastgpu::cudaabi {

// {f45a7c1e-3b9d-4e62-9a0b-fa57c0de0001}: FastGPU's, not NVIDIA's.
inline constexpr std::uint8_t kSessionTableId[16] = {0xf4, 0x5a, 0x7c, 0x1e, 0x3b, 0x9d, 0x4e, 0x62,
                                                     0x9a, 0x0b, 0xfa, 0x57, 0xc0, 0xde, 0x00, 0x01};

// A device as the program's session sees it.
struct VgpuStatus {
  static constexpr std::size_t kMaxProcesses = 64;
  struct Process {
    std::uint32_t pid = 0;        // as the client said (its own host's)
    std::uint64_t heldBytes = 0;  // device memory it holds
  };
  std::uint64_t usedBytes = 0;   // what the vGPU's sessions hold
  std::uint64_t totalBytes = 0;  // the vGPU's quota (an open server's or cudasim's: the device's memory)
  bool metered = false;          // GPU time is metered: gpuNanos counts
  std::uint64_t gpuNanos = 0;    // GPU time the vGPU's work has used, ended sessions' included
  std::uint64_t atNanos = 0;     // when, on the answering side's steady clock
  std::uint32_t processCount = 0;  // the vGPU's live sessions, at most kMaxProcesses
  Process processes[kMaxProcesses];
};

// The table's slots: slot 0 its size in bytes, slot 1 vgpuStatus.
using VgpuStatusFn = CUresult (*)(int device, VgpuStatus* status);
inline constexpr std::size_t kSessionTableSlots = 2;

}  // namespace fastgpu::cudaabi
