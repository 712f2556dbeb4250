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

#include "scheduler/compute_gate.h"
#include "scheduler/memory_quota.h"
#include "scheduler/server_config.h"

namespace fastgpu::scheduler {

struct PhysicalGpu {
  int ordinal = 0;  // the driver's device ordinal
  std::string uuid;  // "GPU-xxxxxxxx-..." form
  std::uint64_t memoryBytes = 0;
};

// What a vGPU has used, for metrics and accounting. Updated by session threads; lock-free.
struct VgpuUsage {
  std::atomic<std::uint64_t> launches{0};
  std::atomic<std::uint64_t> bytesToDevice{0};
  std::atomic<std::uint64_t> bytesFromDevice{0};
  std::atomic<std::uint64_t> sessionsServed{0};
  // Latency of answered calls on the server, in buckets of kLatencyBoundsSeconds (+Inf last).
  static constexpr double kLatencyBoundsSeconds[] = {1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10};
  std::atomic<std::uint64_t> latencyBuckets[std::size(kLatencyBoundsSeconds) + 1] = {};
  std::atomic<std::uint64_t> latencyCount{0};
  std::atomic<std::uint64_t> latencyNanos{0};

  void recordLatency(double seconds);
};

class Vgpu {
 public:
  Vgpu(VgpuSpec spec, int physicalGpu) : spec_(std::move(spec)), physicalGpu_(physicalGpu), quota_(spec_.memoryBytes) {}
  // A copy: the administrator may change it at any time.
  VgpuSpec spec() const {
    std::lock_guard lock(specMutex_);
    return spec_;
  }
  const std::string& name() const { return name_; }  // never changes
  int physicalGpu() const { return physicalGpu_; }  // a position in the registry's GPU list
  MemoryQuota& quota() { return quota_; }
  std::atomic<int>& sessions() { return sessions_; }
  // Its GPU's compute gate (null when the registry meters nothing) and its tenant there.
  ComputeGate* gate() const { return gate_; }
  ComputeGate::TenantId tenant() const { return tenant_; }
  void attach(ComputeGate* gate, ComputeGate::TenantId tenant) {
    gate_ = gate;
    tenant_ = tenant;
  }
  // GPU time used so far.
  double gpuSeconds() const { return gate_ != nullptr ? gate_->gpuSeconds(tenant_) : 0; }
  VgpuUsage& usage() { return usage_; }

 private:
  friend class VgpuRegistry;
  mutable std::mutex specMutex_;
  VgpuSpec spec_;  // guarded by specMutex_
  const std::string name_ = spec_.name;
  int physicalGpu_;
  MemoryQuota quota_;
  std::atomic<int> sessions_{0};
  ComputeGate* gate_ = nullptr;
  ComputeGate::TenantId tenant_ = 0;
  VgpuUsage usage_;
};

// One session's hold on a vGPU: its device view and its quota. Frees the session slot when
// destroyed.
class VgpuLease {
 public:
  VgpuLease(std::shared_ptr<Vgpu> vgpu, std::vector<PhysicalGpu> devices);
  ~VgpuLease();
  VgpuLease(const VgpuLease&) = delete;
  VgpuLease& operator=(const VgpuLease&) = delete;

  // The devices the client sees, in its ordinal order: the vGPU's GPU as device 0, or all.
  const std::vector<PhysicalGpu>& devices() const { return devices_; }
  // The driver ordinal behind a client ordinal, or -1.
  int physicalDevice(int clientOrdinal) const;
  // The shared quota, or null when unlimited (open registry).
  MemoryQuota* quota() const { return vgpu_ ? &vgpu_->quota() : nullptr; }
  // Where the session's work is counted, or null (open registry).
  VgpuUsage* usage() const { return vgpu_ ? &vgpu_->usage() : nullptr; }
  // The compute gate all GPU work of the session passes, or null (open registry).
  ComputeGate* gate() const { return vgpu_ ? vgpu_->gate() : nullptr; }
  ComputeGate::TenantId tenant() const { return vgpu_ ? vgpu_->tenant() : 0; }
  const Vgpu* vgpu() const { return vgpu_.get(); }

 private:
  std::shared_ptr<Vgpu> vgpu_;
  std::vector<PhysicalGpu> devices_;
};

class VgpuRegistry {
 public:
  // Places every vGPU on a GPU of `gpus` (by index, UUID, or the placement policy); fails when a
  // vGPU names a GPU that is not there or does not fit. With `driver`, each GPU that has vGPUs
  // gets a compute gate metering through that driver.
  // Unless `overcommit`, the quotas of a GPU's vGPUs may not add up to more than its memory (on
  // creation, add and update alike).
  static Result<std::unique_ptr<VgpuRegistry>> create(std::vector<VgpuSpec> specs, std::vector<PhysicalGpu> gpus,
                                                      Placement placement,
                                                      const cudaabi::DriverTable* driver = nullptr,
                                                      bool overcommit = false);

  // Admits a session to vGPU `name` with `token`: unknown vGPU, wrong token and a full vGPU are
  // refused with a reason a person can act on (no secret in it).
  Result<std::unique_ptr<VgpuLease>> admit(const std::string& name, const std::string& token);

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
  // Sessions refused so far, by reason ("unknown_vgpu", "wrong_token", "full").
  std::map<std::string, std::uint64_t> refusals() const;
  std::vector<std::shared_ptr<Vgpu>> vgpus() const {
    std::lock_guard lock(mutex_);
    return vgpus_;
  }

 private:
  VgpuRegistry(std::vector<std::shared_ptr<Vgpu>> vgpus, std::vector<PhysicalGpu> gpus)
      : vgpus_(std::move(vgpus)), gpus_(std::move(gpus)) {}

  void refused(const char* reason);
  // The GPU position for a spec (index, UUID or placement), given what is placed already.
  Result<int> place(const VgpuSpec& spec, const std::vector<std::shared_ptr<Vgpu>>& placed) const;
  // The quota already given out on GPU position `gpu`, leaving out vGPU `except`.
  std::uint64_t committedOn(int gpu, const std::string& except) const;
  // Refuses `bytes` more on GPU position `gpu` when that exceeds its memory (unless overcommit).
  Status checkFits(const VgpuSpec& spec, int gpu, std::uint64_t committed) const;
  void attachGate(Vgpu& vgpu);

  mutable std::mutex mutex_;  // guards vgpus_, gates_ and administered_
  const cudaabi::DriverTable* driver_ = nullptr;
  Placement placement_ = Placement::kBinpack;
  bool overcommit_ = false;
  bool administered_ = false;  // vGPUs were defined, so the registry is not open even when empty
  std::vector<std::unique_ptr<ComputeGate>> gates_;  // destroyed after the vGPUs that point to them
  std::vector<std::shared_ptr<Vgpu>> vgpus_;
  std::vector<PhysicalGpu> gpus_;
  mutable std::mutex refusalsMutex_;
  std::map<std::string, std::uint64_t> refusals_;
};

}  // namespace fastgpu::scheduler
