// A vGPU's memory quota, shared by all its sessions (in their separate worker processes: it lives
// in the shared board, shared_board.h). The one door of every allocation path (DESIGN.md,
// decision 9): a path reserves here before the driver allocates, and releases what it frees. An
// allocation over quota fails with CUDA_ERROR_OUT_OF_MEMORY and changes nothing.
//
// What each session holds is counted beside it (SessionMemory, in the session's slot), under
// the same lock, so that when a worker dies the main process gives exactly that back.
//
// Threading: any thread of any process mapping the board.
#pragma once

#include <atomic>
#include <cstdint>

#include "cudaabi/result.h"
#include "cudaabi/process_shared.h"

namespace fastgpu::scheduler {

// What one session holds and for how long (GiB-seconds, for the usage ledger). Written by the
// session's worker; read by the main process for checkpoints and after the worker ended.
struct SessionMemory {
  std::atomic<std::uint64_t> heldBytes{0};
  std::atomic<double> byteSeconds{0};      // up to sinceNanos
  std::atomic<std::int64_t> sinceNanos{0};  // steady clock, when heldBytes last changed

  void add(std::uint64_t bytes);
  void remove(std::uint64_t bytes);
  double gibSeconds() const;

 private:
  void accountUntilNow();
};

class MemoryQuota {
 public:
  explicit MemoryQuota(std::uint64_t limitBytes) : limit_(limitBytes) {}

  // Reserves `bytes` for the session that holds `held`.
  Status reserve(std::uint64_t bytes, SessionMemory& held);
  void release(std::uint64_t bytes, SessionMemory& held);
  // Gives back all a session held (its worker ended).
  void releaseAll(SessionMemory& held);
  std::uint64_t used() const;
  std::uint64_t limit() const;
  // Live change: a limit below current use refuses new allocations and frees nothing.
  void setLimit(std::uint64_t limitBytes);
  // limit - used, never negative.
  std::uint64_t available() const;
  // Allocations refused for being over quota.
  std::uint64_t refusals() const;

 private:
  mutable ProcessMutex mutex_;
  std::uint64_t limit_;  // guarded by mutex_, like the rest
  std::uint64_t used_ = 0;
  std::uint64_t refusals_ = 0;
};

}  // namespace fastgpu::scheduler
