// See launch_attributes.h.
#include "server/launch_attributes.h"

#include <cstring>

#include <fmt/format.h>

namespace fastgpu::server {
namespace {

// Replaces the client's event id in `handle` with the session's event.
Status translateEvent(CUevent& handle, const EventLookup& event) {
  auto found = event(reinterpret_cast<std::uintptr_t>(handle));
  if (!found) return Status(CUDA_ERROR_INVALID_HANDLE, "a launch attribute names an event that is not this session's");
  handle = *found;
  return Status::ok();
}

Status convertOne(CUlaunchAttribute& attribute, const EventLookup& event) {
  switch (attribute.id) {
    // Plain values: numbers, enums, dimensions, and a cache window whose address is only a hint
    // about the session's own memory.
    case CU_LAUNCH_ATTRIBUTE_IGNORE:
    case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
    case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
    case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
    case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
    case CU_LAUNCH_ATTRIBUTE_PRIORITY:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
    case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING:
      return Status::ok();
    case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT:
      return translateEvent(attribute.value.programmaticEvent.event, event);
    case CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT:
      return translateEvent(attribute.value.launchCompletionEvent.event, event);
    case CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE:  // writes a device node handle back
      return Status(CUDA_ERROR_NOT_SUPPORTED, "device-updatable kernel nodes need graphs, which are not supported yet");
    default:
      return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("launch attribute {} is not supported", static_cast<int>(attribute.id)));
  }
}

}  // namespace

Result<std::size_t> convertLaunchAttributes(capnp::List<wire::LaunchAttribute>::Reader attributes,
                                            std::span<CUlaunchAttribute> into, const EventLookup& event) {
  if (attributes.size() > into.size()) return Status(CUDA_ERROR_INVALID_VALUE, "too many launch attributes");
  for (unsigned i = 0; i < attributes.size(); ++i) {
    CUlaunchAttribute& converted = into[i];
    converted = CUlaunchAttribute{};  // a short value is zero-filled, never left undefined
    converted.id = static_cast<CUlaunchAttributeID>(attributes[i].getId());
    auto value = attributes[i].getValue();
    if (value.size() > sizeof(converted.value)) {
      return Status(CUDA_ERROR_INVALID_VALUE, "a launch attribute's value is larger than CUlaunchAttributeValue");
    }
    std::memcpy(&converted.value, value.begin(), value.size());
    if (Status status = convertOne(converted, event); !status) return status;
  }
  return static_cast<std::size_t>(attributes.size());
}

Result<CUlaunchConfig> launchConfig(wire::Launch::Reader launch, std::span<CUlaunchAttribute> storage,
                                    const EventLookup& event) {
  // Each list read once: every get() follows and checks the pointer again (a launch's hot path).
  auto grid = launch.getGrid();
  auto block = launch.getBlock();
  if (grid.size() != 3 || block.size() != 3) {
    return Status(CUDA_ERROR_INVALID_VALUE, "launch dimensions must have three values");
  }
  auto attributeCount = convertLaunchAttributes(launch.getAttributes(), storage, event);
  if (!attributeCount) return attributeCount.status();
  CUlaunchConfig config{};
  config.gridDimX = grid[0];
  config.gridDimY = grid[1];
  config.gridDimZ = grid[2];
  config.blockDimX = block[0];
  config.blockDimY = block[1];
  config.blockDimZ = block[2];
  config.sharedMemBytes = launch.getSharedBytes();
  config.attrs = storage.data();
  config.numAttrs = static_cast<unsigned>(*attributeCount);
  return config;
}

PackedParameters::PackedParameters(wire::Launch::Reader launch)
    : bytes_(launch.getParams().size()),
      extra_{CU_LAUNCH_PARAM_BUFFER_POINTER, const_cast<capnp::byte*>(launch.getParams().begin()),
             CU_LAUNCH_PARAM_BUFFER_SIZE, &bytes_, CU_LAUNCH_PARAM_END} {}

}  // namespace fastgpu::server
