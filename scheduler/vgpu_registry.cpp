#include "scheduler/vgpu_registry.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace fastgpu::scheduler {

void VgpuUsage::recordLatency(double seconds) {
  std::size_t bucket = 0;
  while (bucket < std::size(kLatencyBoundsSeconds) && seconds > kLatencyBoundsSeconds[bucket]) ++bucket;
  latencyBuckets[bucket].fetch_add(1, std::memory_order_relaxed);
  latencyCount.fetch_add(1, std::memory_order_relaxed);
  latencyNanos.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

VgpuLease::VgpuLease(std::shared_ptr<Vgpu> vgpu, std::vector<PhysicalGpu> devices)
    : vgpu_(std::move(vgpu)), devices_(std::move(devices)) {}

VgpuLease::~VgpuLease() {
  if (vgpu_) --vgpu_->sessions();
}

int VgpuLease::physicalDevice(int clientOrdinal) const {
  if (clientOrdinal < 0 || clientOrdinal >= static_cast<int>(devices_.size())) return -1;
  return devices_[static_cast<std::size_t>(clientOrdinal)].ordinal;
}

Result<std::unique_ptr<VgpuRegistry>> VgpuRegistry::create(std::vector<VgpuSpec> specs, std::vector<PhysicalGpu> gpus,
                                                           Placement placement, const cudaabi::DriverTable* driver) {
  std::map<int, std::uint64_t> committed;  // gpu position -> vGPU memory placed on it
  std::vector<std::shared_ptr<Vgpu>> vgpus;
  // Explicitly placed vGPUs first, so that automatic placement sees what they take.
  std::stable_sort(specs.begin(), specs.end(), [](const auto& a, const auto& b) { return !a.autoPlaced() && b.autoPlaced(); });
  for (auto& spec : specs) {
    int chosen = -1;
    if (spec.gpuIndex) {
      if (*spec.gpuIndex >= static_cast<int>(gpus.size())) {
        return Status(CUDA_ERROR_INVALID_DEVICE, fmt::format("vGPU '{}' names GPU {}, but the server has {} GPU(s)",
                                                             spec.name, *spec.gpuIndex, gpus.size()));
      }
      chosen = *spec.gpuIndex;
    } else if (!spec.gpuUuid.empty()) {
      for (std::size_t i = 0; i < gpus.size(); ++i) {
        if (gpus[i].uuid == spec.gpuUuid) chosen = static_cast<int>(i);
      }
      if (chosen < 0) {
        return Status(CUDA_ERROR_INVALID_DEVICE, fmt::format("vGPU '{}' names GPU {}, which this server does not have",
                                                             spec.name, spec.gpuUuid));
      }
    } else {
      // binpack: the fullest GPU that still fits; spread: the emptiest.
      for (std::size_t i = 0; i < gpus.size(); ++i) {
        std::uint64_t left = gpus[i].memoryBytes - std::min(gpus[i].memoryBytes, committed[static_cast<int>(i)]);
        if (left < spec.memoryBytes) continue;
        if (chosen < 0) {
          chosen = static_cast<int>(i);
          continue;
        }
        std::uint64_t best = gpus[static_cast<std::size_t>(chosen)].memoryBytes - committed[chosen];
        if (placement == Placement::kBinpack ? left < best : left > best) chosen = static_cast<int>(i);
      }
      if (chosen < 0) {
        return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("no GPU has {} bytes left for vGPU '{}'",
                                                            spec.memoryBytes, spec.name));
      }
    }
    const PhysicalGpu& gpu = gpus[static_cast<std::size_t>(chosen)];
    if (spec.memoryBytes > gpu.memoryBytes) {
      return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("vGPU '{}' asks for {} bytes; GPU {} has {}", spec.name,
                                                          spec.memoryBytes, gpu.ordinal, gpu.memoryBytes));
    }
    committed[chosen] += spec.memoryBytes;
    vgpus.push_back(std::make_shared<Vgpu>(std::move(spec), chosen));
  }
  auto registry = std::unique_ptr<VgpuRegistry>(new VgpuRegistry(std::move(vgpus), std::move(gpus)));
  if (driver != nullptr) {
    std::map<int, ComputeGate*> gateOf;
    for (const auto& vgpu : registry->vgpus_) {
      ComputeGate*& gate = gateOf[vgpu->physicalGpu()];
      if (gate == nullptr) {
        registry->gates_.push_back(std::make_unique<ComputeGate>(*driver));
        gate = registry->gates_.back().get();
      }
      const VgpuSpec& spec = vgpu->spec();
      std::optional<double> cap;
      if (spec.computeCapPercent) cap = *spec.computeCapPercent / 100.0;
      vgpu->attach(gate, gate->addTenant({spec.name, spec.computeShare, cap, spec.priority}));
    }
  }
  return registry;
}

Result<std::unique_ptr<VgpuLease>> VgpuRegistry::admit(const std::string& name, const std::string& token) {
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
  auto found = std::find_if(vgpus_.begin(), vgpus_.end(), [&](const auto& v) { return v->spec().name == name; });
  if (found == vgpus_.end()) {
    refused("unknown_vgpu");
    return Status(CUDA_ERROR_INVALID_DEVICE, fmt::format("unknown vGPU \"{}\"", name));
  }
  const std::shared_ptr<Vgpu>& vgpu = *found;
  TokenHash presented = hashToken(token);
  bool accepted = false;
  for (const auto& hash : vgpu->spec().tokenHashes) accepted |= sameHash(hash, presented);  // no early exit
  if (!accepted) {
    refused("wrong_token");
    return Status(CUDA_ERROR_NOT_PERMITTED, fmt::format("wrong token for vGPU \"{}\" (check FASTGPU_TOKEN)", name));
  }
  int limit = vgpu->spec().maxSessions;
  int now = ++vgpu->sessions();
  if (limit > 0 && now > limit) {
    --vgpu->sessions();
    refused("full");
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
