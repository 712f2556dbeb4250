#include "cudaabi/stream_attributes.h"

#include <cmath>

namespace fastgpu::cudaabi {
namespace {

bool validProperty(CUaccessProperty property) {
  return property == CU_ACCESS_PROPERTY_NORMAL || property == CU_ACCESS_PROPERTY_STREAMING ||
         property == CU_ACCESS_PROPERTY_PERSISTING;
}

}  // namespace

bool isStreamAttribute(CUstreamAttrID attribute) {
  switch (attribute) {
    case CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW:
    case CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY:
    case CU_STREAM_ATTRIBUTE_PRIORITY:
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN:
      return true;
    default:
      return false;
  }
}

CUresult checkStreamAttribute(CUstreamAttrID attribute, const CUstreamAttrValue& value) {
  switch (attribute) {
    case CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW: {
      const CUaccessPolicyWindow& window = value.accessPolicyWindow;
      // A miss cannot persist; the ratio is a fraction (NaN fails both comparisons).
      bool valid = window.num_bytes <= kMaxAccessPolicyWindowBytes && window.hitRatio >= 0.0f &&
                   window.hitRatio <= 1.0f && validProperty(window.hitProp) && validProperty(window.missProp) &&
                   window.missProp != CU_ACCESS_PROPERTY_PERSISTING;
      return valid ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    }
    case CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY:
      return value.syncPolicy >= CU_SYNC_POLICY_AUTO && value.syncPolicy <= CU_SYNC_POLICY_BLOCKING_SYNC
                 ? CUDA_SUCCESS
                 : CUDA_ERROR_INVALID_VALUE;
    case CU_STREAM_ATTRIBUTE_PRIORITY:
      return CUDA_SUCCESS;
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
      return value.memSyncDomainMap.default_ < kMemSyncDomains && value.memSyncDomainMap.remote < kMemSyncDomains
                 ? CUDA_SUCCESS
                 : CUDA_ERROR_INVALID_VALUE;
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN:
      return value.memSyncDomain == CU_LAUNCH_MEM_SYNC_DOMAIN_DEFAULT ||
                     value.memSyncDomain == CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE
                 ? CUDA_SUCCESS
                 : CUDA_ERROR_INVALID_VALUE;
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

void StreamAttributes::set(CUstreamAttrID attribute, const CUstreamAttrValue& value) {
  switch (attribute) {
    case CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW: window = value.accessPolicyWindow; break;
    case CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY: syncPolicy = value.syncPolicy; break;
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP: domainMap = value.memSyncDomainMap; break;
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN: domain = value.memSyncDomain; break;
    default: break;
  }
}

CUstreamAttrValue StreamAttributes::get(CUstreamAttrID attribute) const {
  CUstreamAttrValue value{};
  switch (attribute) {
    case CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW: value.accessPolicyWindow = window; break;
    case CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY: value.syncPolicy = syncPolicy; break;
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP: value.memSyncDomainMap = domainMap; break;
    case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN: value.memSyncDomain = domain; break;
    default: break;
  }
  return value;
}

}  // namespace fastgpu::cudaabi
