// The attributes a stream carries (cuStreamSetAttribute / GetAttribute / CopyAttributes): an L2
// access policy window, the synchronization policy, the priority, the memory synchronization
// domain and its map. Which attribute ids a stream takes and which values are valid, for cudasim
// (which keeps them: it has no L2 cache and one synchronization domain, so they change no
// timing) and for the server (which checks a client's values before its driver sees them).
#pragma once

#include "cudaabi/cuda_api.h"

#include <cstddef>

namespace fastgpu::cudaabi {

// The largest access policy window a device takes (CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE
// of the GPUs cudasim stands for).
inline constexpr std::size_t kMaxAccessPolicyWindowBytes = 134213632;
// Memory synchronization domains a device has (CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT).
inline constexpr unsigned kMemSyncDomains = 4;

// Whether `attribute` is one a stream carries.
bool isStreamAttribute(CUstreamAttrID attribute);
// CUDA_SUCCESS when `value` is valid for stream attribute `attribute` (one a stream carries); else
// CUDA_ERROR_INVALID_VALUE. The priority is clamped by the stream, not refused, as the driver's.
CUresult checkStreamAttribute(CUstreamAttrID attribute, const CUstreamAttrValue& value);

// What a new stream carries (the priority is the stream's own).
struct StreamAttributes {
  CUaccessPolicyWindow window{};  // num_bytes 0: none
  CUsynchronizationPolicy syncPolicy = CU_SYNC_POLICY_AUTO;
  CUlaunchMemSyncDomainMap domainMap{0, 1};
  CUlaunchMemSyncDomain domain = CU_LAUNCH_MEM_SYNC_DOMAIN_DEFAULT;

  // Sets or reads one attribute other than the priority (checked first by the caller).
  void set(CUstreamAttrID attribute, const CUstreamAttrValue& value);
  CUstreamAttrValue get(CUstreamAttrID attribute) const;
};

}  // namespace fastgpu::cudaabi
