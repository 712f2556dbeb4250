// Launches from the wire, as the driver takes them: the configuration, the packed parameters, and
// the launch attributes (cuLaunchKernelEx). A client's attribute value
// is an attacker's: plain values are copied, the events that PROGRAMMATIC_EVENT and
// LAUNCH_COMPLETION_EVENT carry are looked up in the session's own table (a raw pointer would
// reach the driver otherwise), and an attribute this server does not know — which might carry a
// pointer or a handle — is refused.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>

#include "cudaabi/result.h"
#include "protocol/schema/fastgpu.capnp.h"

namespace fastgpu::server {

// Finds one of the session's events by its id.
using EventLookup = std::function<Result<CUevent>(std::uint64_t id)>;

// Converts `attributes` into the front of `into`; returns how many it wrote. Fails with
// CUDA_ERROR_INVALID_VALUE for too many, an oversized value or an unknown attribute,
// CUDA_ERROR_INVALID_HANDLE for an event that is not the session's, and
// CUDA_ERROR_NOT_SUPPORTED for what needs graphs.
Result<std::size_t> convertLaunchAttributes(capnp::List<wire::LaunchAttribute>::Reader attributes,
                                            std::span<CUlaunchAttribute> into, const EventLookup& event);

// The configuration a Launch message describes (geometry, shared memory), its attributes translated
// into `storage`. The stream is left for the caller: occupancy queries and graph nodes have none.
Result<CUlaunchConfig> launchConfig(wire::Launch::Reader launch, std::span<CUlaunchAttribute> storage,
                                    const EventLookup& event);

// The packed parameter buffer of a Launch as the driver's `extra` array names it (launches and
// kernel nodes). Points into the message: valid while it is, and only as long as the driver call
// that copies the parameters.
class PackedParameters {
 public:
  explicit PackedParameters(wire::Launch::Reader launch);
  PackedParameters(const PackedParameters&) = delete;
  PackedParameters& operator=(const PackedParameters&) = delete;
  void** extra() { return extra_.data(); }

 private:
  std::size_t bytes_;
  std::array<void*, 5> extra_;
};

}  // namespace fastgpu::server
