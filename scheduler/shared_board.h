// The state that the server's main process shares with its session workers (DESIGN.md, decision
// 3), in one region of memory that every worker maps: per GPU the compute gate's policy, per vGPU
// its memory quota and usage counters, per session what its worker holds and has done. Workers
// consult and update it directly — no round trip to the main process per call — and when a
// worker dies, its session slot tells the main process exactly what to take back.
//
// A worker is trusted code (it is our server, running one tenant's calls), but a tenant's kernel
// runs in its process: a worker killed at any instruction leaves the board usable (robust
// mutexes, counters that are updated together under them).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "scheduler/compute_gate.h"
#include "scheduler/gate_board.h"
#include "scheduler/ipc_exports.h"
#include "scheduler/memory_quota.h"
#include "cudaabi/process_shared.h"
#include "scheduler/vgpu_usage.h"

namespace fastgpu::scheduler {

struct PhysicalGpu {
  int ordinal = 0;   // the driver's device ordinal
  std::string uuid;  // "GPU-xxxxxxxx-..." form
  std::uint64_t memoryBytes = 0;
};

// One session's slot: written by its worker, read (and, once the worker is gone, cleared) by the
// main process.
struct SessionSlot {
  std::atomic<std::uint64_t> session{0};  // the session id while in use; 0 when free
  // Set by the main process when the session starts; vgpuPlace goes back to -2 (no vGPU's)
  // before its GPU time moves to the vGPU's ended sessions.
  std::atomic<std::int32_t> vgpuPlace{-2};  // -1: an open server's session
  std::atomic<std::uint32_t> pid{0};         // the client's, as it said (its own host's)
  SessionCounters counters;
  GpuTimeAccount gpuTime;
  SessionMemory memory;  // under its vGPU quota's lock when it has one
  GatePieces pieces;     // under its gate's lock
};

struct VgpuEntry {
  explicit VgpuEntry(std::uint64_t limitBytes) : quota(limitBytes) {}
  MemoryQuota quota;
  VgpuUsage usage;
};

struct BoardLayout {
  static constexpr std::uint64_t kMagic = 0x4653'4750'4244'0004;  // "FSGPBD", layout 4
  static constexpr int kMaxGpus = 16;
  static constexpr int kMaxVgpus = 512;
  static constexpr int kMaxSessions = 4096;  // the most max_connections may be

  std::uint64_t magic = kMagic;
  std::uint64_t bytes = sizeof(BoardLayout);
  GateBoard gates[kMaxGpus];
  // Constructed in place by SharedBoard when a vGPU takes the place.
  alignas(VgpuEntry) unsigned char vgpus[kMaxVgpus][sizeof(VgpuEntry)];
  SessionSlot sessions[kMaxSessions];
  IpcExports ipc;  // device memory shared between sessions of a vGPU

  VgpuEntry& vgpu(int place) { return *std::launder(reinterpret_cast<VgpuEntry*>(vgpus[place])); }
};

// The main process's owner of the board: creates it, and hands out vGPU places and session slots.
// Thread-safe.
class SharedBoard {
 public:
  static Result<std::unique_ptr<SharedBoard>> create();
  ~SharedBoard();
  SharedBoard(const SharedBoard&) = delete;
  SharedBoard& operator=(const SharedBoard&) = delete;

  BoardLayout& layout() const { return *layout_; }
  // For workers: the descriptor of the board's memory (close-on-exec; the spawner dups it).
  int descriptor() const { return region_.descriptor(); }

  // A place for a vGPU's quota and usage, or nullopt when kMaxVgpus are in use.
  std::optional<int> takeVgpu(std::uint64_t limitBytes);
  void giveBackVgpu(int place);
  // A slot for session `id`, or nullopt when kMaxSessions are in use.
  std::optional<int> takeSession(std::uint64_t id);
  // Frees a slot whose worker has ended; the caller gave back what it held first.
  void giveBackSession(int slot);

 private:
  explicit SharedBoard(SharedRegion region);
  SharedRegion region_;
  BoardLayout* layout_;
  std::mutex mutex_;  // guards the two lists
  std::vector<bool> vgpuTaken_;
  std::vector<bool> sessionTaken_;
};

// A worker's view of the board: maps it by descriptor and checks its layout.
Result<std::pair<SharedRegion, BoardLayout*>> mapBoard(int fd);

// What a session's worker holds of its vGPU: the devices the client sees, and its places on the
// board (quota, usage, gate). An open server's sessions have no vGPU: every GPU, no quota, no
// gate. Threading: the session's threads.
class VgpuAccess {
 public:
  // `devices` in the client's ordinal order; `vgpu` is null for an open server, `gate` null when
  // nothing is metered. Everything pointed to must outlive this object.
  VgpuAccess(std::vector<PhysicalGpu> devices, SessionSlot& slot, VgpuEntry* vgpu = nullptr, ComputeGate* gate = nullptr,
             GatePolicy::TenantId tenant = 0)
      : devices_(std::move(devices)), slot_(slot), vgpu_(vgpu), gate_(gate), tenant_(tenant) {}
  // Where the session shares device memory with the other sessions of its vGPU (place `place`,
  // -1 for an open server's); none: IPC is refused.
  void shareThrough(IpcExports* exports, int place) {
    ipc_ = exports;
    vgpuPlace_ = place;
  }
  IpcExports* ipc() const { return ipc_; }
  int vgpuPlace() const { return vgpuPlace_; }
  // Where the sessions of every vGPU are, for snapshot(); none: the snapshot has only this one.
  void seeSessions(std::span<const SessionSlot> sessions) { sessions_ = sessions; }

  // The vGPU as its sessions see it (what NVML reports to a client).
  struct Snapshot {
    static constexpr std::size_t kMaxProcesses = 64;
    struct Process {
      std::uint32_t pid = 0;
      std::uint64_t heldBytes = 0;
    };
    std::uint64_t heldBytes = 0;   // what the vGPU's sessions hold (an open server's: all sessions)
    std::uint64_t limitBytes = 0;  // the quota; 0 for an open server
    bool metered = false;          // GPU time is metered (a vGPU with a gate)
    std::uint64_t gpuNanos = 0;    // GPU time its work has used, its ended sessions' included
    std::vector<Process> processes;  // its live sessions, at most kMaxProcesses
  };
  Snapshot snapshot() const;

  const std::vector<PhysicalGpu>& devices() const { return devices_; }
  // The driver ordinal behind a client ordinal, or -1.
  int physicalDevice(int clientOrdinal) const;
  // The vGPU's quota, or null (open server).
  MemoryQuota* quota() const { return vgpu_ != nullptr ? &vgpu_->quota : nullptr; }
  // Where the vGPU's work is counted, or null (open server).
  VgpuUsage* usage() const { return vgpu_ != nullptr ? &vgpu_->usage : nullptr; }
  ComputeGate* gate() const { return gate_; }
  GatePolicy::TenantId tenant() const { return tenant_; }
  SessionSlot& slot() const { return slot_; }

  // Device memory the session takes or gives back: against the quota when there is one.
  Status reserve(std::uint64_t bytes) const;
  void release(std::uint64_t bytes) const;

 private:
  std::vector<PhysicalGpu> devices_;
  SessionSlot& slot_;
  VgpuEntry* vgpu_;
  ComputeGate* gate_;
  GatePolicy::TenantId tenant_;
  IpcExports* ipc_ = nullptr;
  int vgpuPlace_ = -1;
  std::span<const SessionSlot> sessions_;
};

}  // namespace fastgpu::scheduler
