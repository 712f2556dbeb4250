// Device memory and events that sessions share with other sessions of their vGPU
// (cuIpcGetMemHandle / cuIpcOpenMemHandle, cuIpcGetEventHandle / cuIpcOpenEventHandle between a
// client's processes, each its own session and worker). The
// driver's IPC handles name memory of any process on the host, so clients never see them: an
// export is published here, on the board every worker maps, under a random 128-bit token, and the
// client's handle holds only that token. Opening looks the token up and is refused unless the
// session is of the same vGPU as the exporter (an open server's sessions are all "no vGPU").
// Entries go with their session (withdrawSession, called when its worker ends).
//
// Lives in shared memory (no pointers, no heap); a ProcessMutex guards it. Threading: any thread
// of any process mapping the board.
#pragma once

#include <array>
#include <cstdint>

#include "cudaabi/process_shared.h"
#include "cudaabi/result.h"

namespace fastgpu::scheduler {

using IpcToken = std::array<std::uint8_t, 16>;
using DriverIpcHandle = std::array<std::uint8_t, 64>;
// kPhysical: a physical allocation of virtual memory management, shared as a POSIX descriptor;
// kPool: a memory pool, shared as a POSIX descriptor; kPoolPointer: an allocation of a shared pool.
enum class IpcKind : std::uint32_t { kMemory = 1, kEvent = 2, kPhysical = 3, kPool = 4, kPoolPointer = 5 };

class IpcExports {
 public:
  static constexpr int kMaxExports = 4096;    // on the whole server
  static constexpr int kMaxPerSession = 256;  // so that no session can take them all

  // Publishes `handle` of `kind` (memory of `bytes`, or an event) for `session` of vGPU place
  // `vgpuPlace` (-1: none): its token, the same one for a handle the session published already.
  // CUDA_ERROR_OUT_OF_MEMORY when the table or the session's share of it is full.
  Result<IpcToken> publish(std::uint64_t session, int vgpuPlace, IpcKind kind, const DriverIpcHandle& handle,
                           std::uint64_t bytes);

  struct Found {
    DriverIpcHandle handle{};
    std::uint64_t bytes = 0;
    std::uint64_t session = 0;  // the exporter
  };
  // The export of `kind` behind `token`, for a session of `vgpuPlace`; CUDA_ERROR_INVALID_HANDLE
  // for an unknown token, one of another kind and one of another vGPU alike (which exports exist
  // is not revealed).
  Result<Found> find(const IpcToken& token, int vgpuPlace, IpcKind kind);

  // Forgets every export of `session`.
  void withdrawSession(std::uint64_t session);
  // Forgets the export of `kind` behind driver handle `handle` (its object is gone).
  void withdraw(IpcKind kind, const DriverIpcHandle& handle);

 private:
  struct Entry {
    std::uint64_t session = 0;  // 0: free
    std::int32_t vgpuPlace = -1;
    IpcKind kind = IpcKind::kMemory;
    IpcToken token{};
    DriverIpcHandle handle{};
    std::uint64_t bytes = 0;
  };
  ProcessMutex mutex_;
  Entry entries_[kMaxExports];
};

}  // namespace fastgpu::scheduler
