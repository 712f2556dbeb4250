// The vGPUs a server offers, where they are placed, and who may use them.
//
// A client names a vGPU and presents its token in the handshake; admit() checks both (the token
// against SHA-256 hashes, in constant time) and the vGPU's session limit, and hands back a
// VgpuLease that the session holds for its lifetime. With no vGPU configured the registry is
// open: every client gets every GPU and no quota (for development and tests).
//
// Threading: every method may be called from any thread.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "scheduler/server_config.h"
#include "scheduler/shared_board.h"

namespace fastgpu::scheduler {

class Vgpu {
 public:
  // Takes its places on `board`: a quota and usage place, and a tenant of the gate of GPU
  // position `physicalGpu`; gives them back when destroyed (after its last session).
  static Result<std::shared_ptr<Vgpu>> create(VgpuSpec spec, int physicalGpu, std::shared_ptr<SharedBoard> board);
  ~Vgpu();
  Vgpu(const Vgpu&) = delete;
  Vgpu& operator=(const Vgpu&) = delete;

  // A copy: the administrator may change it at any time.
  VgpuSpec spec() const {
    std::lock_guard lock(specMutex_);
    return spec_;
  }
  const std::string& name() const { return name_; }  // never changes
  int physicalGpu() const { return physicalGpu_; }  // a position in the registry's GPU list
  MemoryQuota& quota() const { return board_->layout().vgpu(place_).quota; }
  VgpuUsage& usage() const { return board_->layout().vgpu(place_).usage; }
  std::atomic<int>& sessions() { return sessions_; }
  // Its place on the board (quota and usage) and its tenant in its GPU's gate.
  int place() const { return place_; }
  GatePolicy::TenantId tenant() const { return tenant_; }
  GateBoard& gate() const { return board_->layout().gates[physicalGpu_]; }
  // GPU time used so far.
  double gpuSeconds() const { return gate().gpuSeconds(tenant_); }

 private:
  friend class VgpuRegistry;
  Vgpu(VgpuSpec spec, int physicalGpu, std::shared_ptr<SharedBoard> board, int place, GatePolicy::TenantId tenant)
      : spec_(std::move(spec)), physicalGpu_(physicalGpu), board_(std::move(board)), place_(place), tenant_(tenant) {}
  mutable std::mutex specMutex_;
  VgpuSpec spec_;  // guarded by specMutex_
  const std::string name_ = spec_.name;
  int physicalGpu_;
  std::shared_ptr<SharedBoard> board_;
  int place_;
  GatePolicy::TenantId tenant_;
  std::atomic<int> sessions_{0};
};

// One session's hold on a vGPU, in the main process: its device view and its vGPU. Frees the
// session place when destroyed.
class VgpuLease {
 public:
  VgpuLease(std::shared_ptr<Vgpu> vgpu, std::vector<PhysicalGpu> devices);
  ~VgpuLease();
  VgpuLease(const VgpuLease&) = delete;
  VgpuLease& operator=(const VgpuLease&) = delete;

  // The devices the client sees, in its ordinal order: the vGPU's GPU as device 0, or all.
  const std::vector<PhysicalGpu>& devices() const { return devices_; }
  // Null for an open registry.
  Vgpu* vgpu() const { return vgpu_.get(); }

 private:
  std::shared_ptr<Vgpu> vgpu_;
  std::vector<PhysicalGpu> devices_;
};

class VgpuRegistry {
 public:
  // Places every vGPU on a GPU of `gpus` (by index, UUID, or the placement policy); fails when a
  // vGPU names a GPU that is not there or does not fit. Quotas, usage and the compute gates live
  // on a new shared board (board()), which session workers map.
  // Unless `overcommit`, the quotas of a GPU's vGPUs may not add up to more than its memory (on
  // creation, add and update alike).
  static Result<std::unique_ptr<VgpuRegistry>> create(std::vector<VgpuSpec> specs, std::vector<PhysicalGpu> gpus,
                                                      Placement placement, bool overcommit = false);

  // Admits a session to vGPU `name` with `token`. An unknown vGPU and a wrong token get one
  // answer (CUDA_ERROR_NOT_PERMITTED, the same text): a guesser must not learn which names exist.
  // A full vGPU is refused with a reason a person can act on. `reason`, when given, gets the
  // refusal's kind for the operator's log ("unknown_vgpu", "wrong_token", "full").
  Result<std::unique_ptr<VgpuLease>> admit(const std::string& name, const std::string& token,
                                           std::string* reason = nullptr);

  // Live administration. add() places a new vGPU (an open registry stays open: it has no
  // gates); update() changes one (a smaller quota refuses new allocations, frees nothing);
  // remove() stops admitting to it (its sessions are the caller's to end).
  Result<std::shared_ptr<Vgpu>> add(VgpuSpec spec);
  Status update(const VgpuSpec& spec);
  Status remove(const std::string& name);
  std::shared_ptr<Vgpu> find(const std::string& name) const;
  std::vector<VgpuSpec> specs() const;

  bool open() const {
    std::lock_guard lock(mutex_);
    return vgpus_.empty() && !administered_;
  }
  const std::vector<PhysicalGpu>& gpus() const { return gpus_; }
  SharedBoard& board() const { return *board_; }
  // Sessions refused so far, by reason ("unknown_vgpu", "wrong_token", "full").
  std::map<std::string, std::uint64_t> refusals() const;
  std::vector<std::shared_ptr<Vgpu>> vgpus() const {
    std::lock_guard lock(mutex_);
    return vgpus_;
  }

 private:
  VgpuRegistry(std::shared_ptr<SharedBoard> board, std::vector<PhysicalGpu> gpus)
      : board_(std::move(board)), gpus_(std::move(gpus)) {}

  void refused(const char* reason);
  // The GPU position for a spec (index, UUID or placement), given what is placed already.
  Result<int> place(const VgpuSpec& spec, const std::vector<std::shared_ptr<Vgpu>>& placed) const;
  // The quota already given out on GPU position `gpu`, leaving out vGPU `except`.
  std::uint64_t committedOn(int gpu, const std::string& except) const;
  // Refuses `bytes` more on GPU position `gpu` when that exceeds its memory (unless overcommit).
  Status checkFits(const VgpuSpec& spec, int gpu, std::uint64_t committed) const;

  std::shared_ptr<SharedBoard> board_;
  mutable std::mutex mutex_;  // guards vgpus_ and administered_
  Placement placement_ = Placement::kBinpack;
  bool overcommit_ = false;
  bool administered_ = false;  // vGPUs were defined, so the registry is not open even when empty
  std::vector<std::shared_ptr<Vgpu>> vgpus_;
  std::vector<PhysicalGpu> gpus_;
  mutable std::mutex refusalsMutex_;
  std::map<std::string, std::uint64_t> refusals_;
};

}  // namespace fastgpu::scheduler
