#include "cudaabi/pointer_attributes.h"

#include <cstddef>
#include <cstring>

namespace fastgpu::cudaabi {
namespace {

template <typename T>
void put(void* data, T value) {
  std::memcpy(data, &value, sizeof(T));
}

}  // namespace

CUresult writePointerAttribute(const PointerFacts& facts, CUpointer_attribute attribute, void* data) {
  bool known = facts.type != 0;
  switch (attribute) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: put(data, facts.context); break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: put(data, facts.type); break;
    // With unified addressing a pointer is its own device pointer, and host memory its own host pointer.
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: put(data, static_cast<CUdeviceptr>(known ? facts.address : 0)); break;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
      put(data, facts.type == CU_MEMORYTYPE_HOST ? reinterpret_cast<void*>(facts.address) : nullptr);
      break;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: put(data, 1); break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: put(data, static_cast<unsigned long long>(facts.base)); break;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: put(data, 0); break;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: put(data, facts.deviceOrdinal); break;
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: put(data, facts.ipcCapable ? 1 : 0); break;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: put(data, static_cast<CUdeviceptr>(facts.base)); break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: put(data, static_cast<std::size_t>(facts.size)); break;
    case CU_POINTER_ATTRIBUTE_MAPPED: put(data, known ? 1 : 0); break;
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: put(data, 0ULL); break;
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: put(data, 0); break;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
      put(data, static_cast<unsigned>(CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE));
      break;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: put(data, static_cast<CUmemoryPool>(nullptr)); break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

}  // namespace fastgpu::cudaabi
