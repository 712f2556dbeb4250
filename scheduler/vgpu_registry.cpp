#include "scheduler/vgpu_registry.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace fastgpu::scheduler {

namespace {

GatePolicy::TenantConfig tenantConfig(const VgpuSpec& spec) {
  std::optional<double> cap;
  if (spec.computeCapPercent) cap = *spec.computeCapPercent / 100.0;
  return {spec.computeShare, cap, spec.priority};
}

}  // namespace

Result<std::shared_ptr<Vgpu>> Vgpu::create(VgpuSpec spec, int physicalGpu, std::shared_ptr<SharedBoard> board) {
  if (physicalGpu >= BoardLayout::kMaxGpus) {
    return Status(CUDA_ERROR_NOT_SUPPORTED, fmt::format("vGPUs are supported on the first {} GPUs only", BoardLayout::kMaxGpus));
  }
  std::optional<int> place = board->takeVgpu(spec.memoryBytes);
  if (!place) return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("no room for more than {} vGPUs", BoardLayout::kMaxVgpus));
  auto tenant = board->layout().gates[physicalGpu].addTenant(tenantConfig(spec));
  if (!tenant) {
    board->giveBackVgpu(*place);
    return Status(CUDA_ERROR_OUT_OF_MEMORY,
                  fmt::format("GPU {} has {} vGPUs, the most it can meter", physicalGpu, GatePolicy::kMaxTenants));
  }
  return std::shared_ptr<Vgpu>(new Vgpu(std::move(spec), physicalGpu, std::move(board), *place, *tenant));
}

Vgpu::~Vgpu() {
  gate().removeTenant(tenant_);
  board_->giveBackVgpu(place_);
}

VgpuLease::VgpuLease(std::shared_ptr<Vgpu> vgpu, std::vector<PhysicalGpu> devices)
    : vgpu_(std::move(vgpu)), devices_(std::move(devices)) {}

VgpuLease::~VgpuLease() {
  if (vgpu_) --vgpu_->sessions();
}

Result<int> VgpuRegistry::place(const VgpuSpec& spec, const std::vector<std::shared_ptr<Vgpu>>& placed) const {
  std::map<int, std::uint64_t> committed;  // gpu position -> vGPU memory placed on it
  for (const auto& vgpu : placed) committed[vgpu->physicalGpu()] += vgpu->quota().limit();
  int chosen = -1;
  if (spec.gpuIndex) {
    if (*spec.gpuIndex >= static_cast<int>(gpus_.size())) {
      return Status(CUDA_ERROR_INVALID_DEVICE, fmt::format("vGPU '{}' names GPU {}, but the server has {} GPU(s)",
                                                           spec.name, *spec.gpuIndex, gpus_.size()));
    }
    chosen = *spec.gpuIndex;
  } else if (!spec.gpuUuid.empty()) {
    for (std::size_t i = 0; i < gpus_.size(); ++i) {
      if (gpus_[i].uuid == spec.gpuUuid) chosen = static_cast<int>(i);
    }
    if (chosen < 0) {
      return Status(CUDA_ERROR_INVALID_DEVICE,
                    fmt::format("vGPU '{}' names GPU {}, which this server does not have", spec.name, spec.gpuUuid));
    }
  } else {
    // binpack: the fullest GPU that still fits; spread: the emptiest.
    std::uint64_t best = 0;
    for (std::size_t i = 0; i < gpus_.size(); ++i) {
      std::uint64_t left = gpus_[i].memoryBytes - std::min(gpus_[i].memoryBytes, committed[static_cast<int>(i)]);
      if (left < spec.memoryBytes) continue;
      if (chosen < 0 || (placement_ == Placement::kBinpack ? left < best : left > best)) {
        chosen = static_cast<int>(i);
        best = left;
      }
    }
    if (chosen < 0 && overcommit_) {
      // Overcommitting: of the GPUs large enough at all, the one with the least committed.
      for (std::size_t i = 0; i < gpus_.size(); ++i) {
        int position = static_cast<int>(i);
        if (gpus_[i].memoryBytes >= spec.memoryBytes && (chosen < 0 || committed[position] < committed[chosen])) {
          chosen = position;
        }
      }
    }
    if (chosen < 0) {
      return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("no GPU has {} bytes left for vGPU '{}'", spec.memoryBytes,
                                                          spec.name));
    }
  }
  if (Status fits = checkFits(spec, chosen, committed[chosen]); !fits) return fits;
  return chosen;
}

std::uint64_t VgpuRegistry::committedOn(int gpu, const std::string& except) const {
  std::uint64_t committed = 0;
  for (const auto& vgpu : vgpus_) {
    if (vgpu->physicalGpu() == gpu && vgpu->name() != except) committed += vgpu->quota().limit();
  }
  return committed;
}

Status VgpuRegistry::checkFits(const VgpuSpec& spec, int position, std::uint64_t committed) const {
  const PhysicalGpu& gpu = gpus_[static_cast<std::size_t>(position)];
  if (spec.memoryBytes > gpu.memoryBytes) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("vGPU '{}' asks for {} bytes; GPU {} has {}", spec.name,
                                                        spec.memoryBytes, gpu.ordinal, gpu.memoryBytes));
  }
  if (!overcommit_ && committed > gpu.memoryBytes - spec.memoryBytes) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY,
                  fmt::format("vGPU '{}' asks for {} bytes; GPU {} has {} of its {} left for vGPUs (set overcommit = "
                              "true to allow quotas beyond the GPU's memory)",
                              spec.name, spec.memoryBytes, gpu.ordinal, gpu.memoryBytes - std::min(gpu.memoryBytes, committed),
                              gpu.memoryBytes));
  }
  return Status::ok();
}

Result<std::unique_ptr<VgpuRegistry>> VgpuRegistry::create(std::vector<VgpuSpec> specs, std::vector<PhysicalGpu> gpus,
                                                           Placement placement, bool overcommit) {
  auto board = SharedBoard::create();
  if (!board) return board.status();
  auto registry = std::unique_ptr<VgpuRegistry>(new VgpuRegistry(std::move(*board), std::move(gpus)));
  registry->placement_ = placement;
  registry->overcommit_ = overcommit;
  // Explicitly placed vGPUs first, so that automatic placement sees what they take.
  std::stable_sort(specs.begin(), specs.end(), [](const auto& a, const auto& b) { return !a.autoPlaced() && b.autoPlaced(); });
  for (auto& spec : specs) {
    auto added = registry->add(std::move(spec));
    if (!added) return added.status();
  }
  registry->administered_ = false;  // defined by configuration: open only when there are none
  return registry;
}

Result<std::shared_ptr<Vgpu>> VgpuRegistry::add(VgpuSpec spec) {
  std::lock_guard lock(mutex_);
  for (const auto& vgpu : vgpus_) {
    if (vgpu->name() == spec.name) {
      return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("vGPU '{}' already exists", spec.name));
    }
  }
  auto position = place(spec, vgpus_);
  if (!position) return position.status();
  auto vgpu = Vgpu::create(std::move(spec), *position, board_);
  if (!vgpu) return vgpu.status();
  vgpus_.push_back(*vgpu);
  administered_ = true;
  return *vgpu;
}

Status VgpuRegistry::update(const VgpuSpec& spec) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(vgpus_.begin(), vgpus_.end(), [&](const auto& v) { return v->name() == spec.name; });
  if (it == vgpus_.end()) return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("no vGPU '{}'", spec.name));
  Vgpu& vgpu = **it;
  VgpuSpec current = vgpu.spec();
  if (spec.gpuIndex != current.gpuIndex || spec.gpuUuid != current.gpuUuid) {
    return Status(CUDA_ERROR_NOT_SUPPORTED, fmt::format("vGPU '{}' cannot move to another GPU while it exists; "
                                                        "delete and create it", spec.name));
  }
  if (Status fits = checkFits(spec, vgpu.physicalGpu(), committedOn(vgpu.physicalGpu(), spec.name)); !fits) return fits;
  {
    std::lock_guard specLock(vgpu.specMutex_);
    vgpu.spec_ = spec;
  }
  vgpu.quota().setLimit(spec.memoryBytes);
  vgpu.gate().updateTenant(vgpu.tenant(), tenantConfig(spec));
  return Status::ok();
}

Status VgpuRegistry::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(vgpus_.begin(), vgpus_.end(), [&](const auto& v) { return v->name() == name; });
  if (it == vgpus_.end()) return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("no vGPU '{}'", name));
  // Its places on the board stay until its last session has ended (sessions hold the Vgpu).
  vgpus_.erase(it);
  return Status::ok();
}

std::shared_ptr<Vgpu> VgpuRegistry::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  for (const auto& vgpu : vgpus_) {
    if (vgpu->name() == name) return vgpu;
  }
  return nullptr;
}

std::vector<VgpuSpec> VgpuRegistry::specs() const {
  std::lock_guard lock(mutex_);
  std::vector<VgpuSpec> specs;
  for (const auto& vgpu : vgpus_) specs.push_back(vgpu->spec());
  return specs;
}

Result<std::unique_ptr<VgpuLease>> VgpuRegistry::admit(const std::string& name, const std::string& token,
                                                      std::string* reason) {
  if (open()) {
    if (!name.empty()) {
      return Status(CUDA_ERROR_INVALID_DEVICE, fmt::format("unknown vGPU \"{}\" (this server defines no vGPUs; "
                                                           "unset FASTGPU_VGPU)", name));
    }
    return std::make_unique<VgpuLease>(nullptr, gpus_);
  }
  if (name.empty()) {
    return Status(CUDA_ERROR_INVALID_DEVICE, "this server shares its GPUs as vGPUs: name one (set FASTGPU_VGPU)");
  }
  // An unknown vGPU and a wrong token get the same answer after the same work (a token hash), so
  // that a guesser learns neither which names exist nor anything from the time it takes.
  std::shared_ptr<Vgpu> vgpu = find(name);
  TokenHash presented = hashToken(token);
  bool accepted = false;
  if (vgpu) {
    for (const auto& hash : vgpu->spec().tokenHashes) accepted |= sameHash(hash, presented);  // no early exit
  }
  if (!accepted) {
    const char* why = vgpu ? "wrong_token" : "unknown_vgpu";
    refused(why);
    if (reason != nullptr) *reason = why;
    return Status(CUDA_ERROR_NOT_PERMITTED, fmt::format("access to vGPU \"{}\" denied: unknown vGPU or wrong token "
                                                        "(check FASTGPU_VGPU and FASTGPU_TOKEN)",
                                                        name));
  }
  VgpuSpec spec = vgpu->spec();
  int limit = spec.maxSessions;
  int now = ++vgpu->sessions();
  if (limit > 0 && now > limit) {
    --vgpu->sessions();
    refused("full");
    if (reason != nullptr) *reason = "full";
    return Status(CUDA_ERROR_DEVICE_UNAVAILABLE,
                  fmt::format("vGPU \"{}\" is full: all {} session(s) are in use", name, limit));
  }
  ++vgpu->usage().sessionsServed;
  return std::make_unique<VgpuLease>(vgpu, std::vector<PhysicalGpu>{gpus_[static_cast<std::size_t>(vgpu->physicalGpu())]});
}

void VgpuRegistry::refused(const char* reason) {
  std::lock_guard lock(refusalsMutex_);
  ++refusals_[reason];
}

std::map<std::string, std::uint64_t> VgpuRegistry::refusals() const {
  std::lock_guard lock(refusalsMutex_);
  return refusals_;
}

}  // namespace fastgpu::scheduler
