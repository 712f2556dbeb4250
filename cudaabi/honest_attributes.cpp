#include "cudaabi/honest_attributes.h"

namespace fastgpu::cudaabi {

bool announcesUnimplementedFeature(CUdevice_attribute attribute) {
  switch (attribute) {
    // Compressible memory (cuMemCreate's compression flag), RDMA to virtual memory.
    case CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED:
    // Shareable handles other than POSIX descriptors: cuMemExportToShareableHandle.
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_HANDLE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_KMT_HANDLE_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_TIMELINE_SEMAPHORE_INTEROP_SUPPORTED:
    // Managed memory: cuMemAllocManaged, cuMemPrefetchAsync, cuMemAdvise.
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY:
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS:
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS:
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES:
    case CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST:
    // Arrays (sparse, deferred mapping): cuArrayCreate and the mipmapped kind.
    case CU_DEVICE_ATTRIBUTE_SPARSE_CUDA_ARRAY_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED:
      return true;
    default:
      return false;
  }
}

int remoteSessionAttribute(CUdevice_attribute attribute, int value, bool sharedHostMemory) {
  switch (attribute) {
    // The device cannot reach a remote client's host memory: no mapped pinned memory
    // (cuMemHostGetDevicePointer), no registered host pointers used in place, no host atomics.
    // A same-host client's cuMemHostAlloc memory is shared with the server, and mapped.
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY:
      return sharedHostMemory ? value : 0;
    // Pools are shared as POSIX descriptors only (server/dispatch_ipc.cpp).
    case CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES:
      return value & CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM:
    case CU_DEVICE_ATTRIBUTE_HOST_NATIVE_ATOMIC_SUPPORTED:
      return 0;
    default:
      return announcesUnimplementedFeature(attribute) ? 0 : value;
  }
}

}  // namespace fastgpu::cudaabi
