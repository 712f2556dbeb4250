#include "cudaabi/kernel_node_attributes.h"

#include "cudaabi/stream_attributes.h"

namespace fastgpu::cudaabi {
namespace {

// The largest cluster a launch may ask for (non-portable sizes on Hopper).
constexpr unsigned kMaxClusterBlocks = 16;

bool validCluster(unsigned x, unsigned y, unsigned z) {
  if (x == 0 && y == 0 && z == 0) return true;  // none asked for
  if (x == 0 || y == 0 || z == 0 || x > kMaxClusterBlocks || y > kMaxClusterBlocks || z > kMaxClusterBlocks) return false;
  return x * y * z <= kMaxClusterBlocks;
}

}  // namespace

bool isKernelNodeAttribute(CUlaunchAttributeID attribute) {
  switch (attribute) {
    case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
    case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
    case CU_LAUNCH_ATTRIBUTE_PRIORITY:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE:
    case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING:
      return true;
    default:
      return false;
  }
}

CUresult checkKernelNodeAttribute(CUlaunchAttributeID attribute, const CUlaunchAttributeValue& value) {
  switch (attribute) {
    case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
    case CU_LAUNCH_ATTRIBUTE_PRIORITY:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
      return checkStreamAttribute(attribute, value);  // the same values as a stream's
    case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
    case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING:
      return CUDA_SUCCESS;  // zero or not
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
      return validCluster(value.clusterDim.x, value.clusterDim.y, value.clusterDim.z) ? CUDA_SUCCESS
                                                                                       : CUDA_ERROR_INVALID_VALUE;
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
      return validCluster(value.preferredClusterDim.x, value.preferredClusterDim.y, value.preferredClusterDim.z)
                 ? CUDA_SUCCESS
                 : CUDA_ERROR_INVALID_VALUE;
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
      return value.clusterSchedulingPolicyPreference >= CU_CLUSTER_SCHEDULING_POLICY_DEFAULT &&
                     value.clusterSchedulingPolicyPreference <= CU_CLUSTER_SCHEDULING_POLICY_LOAD_BALANCING
                 ? CUDA_SUCCESS
                 : CUDA_ERROR_INVALID_VALUE;
    case CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE:
      return CUDA_ERROR_NOT_SUPPORTED;
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

CUlaunchAttributeValue KernelNodeAttributes::get(CUlaunchAttributeID attribute) const {
  if (auto it = values_.find(attribute); it != values_.end()) return it->second;
  CUlaunchAttributeValue value{};
  if (attribute == CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP) value.memSyncDomainMap = {0, 1};
  return value;
}

}  // namespace fastgpu::cudaabi
