// Memory pools shared between processes (cuMemPoolExportToShareableHandle /
// cuMemPoolImportFromShareableHandle, cuMemPoolExportPointer / cuMemPoolImportPointer), as
// torch.multiprocessing and the streamOrderedAllocationIPC sample use them. A pool made with POSIX
// descriptors as its handle type exports a descriptor of a sealed memory file naming the pool
// (its process and serial); another process imports it as a pool of its own that allocates
// nothing. An allocation of an exportable pool is exported as cuIpcGetMemHandle shares memory
// (ipc.h: its pages become a memfd the importer maps), together with the pool it came from, and is
// taken in only through an import of that pool. The importer frees it (cuMemFree, cuMemFreeAsync),
// which unmaps it there; the memory is the exporter's and counts against the exporter alone.
#pragma once

#include <cstdint>

#include "cudaabi/cuda_api.h"
#include "cudaabi/result.h"
#include "cudasim/ipc.h"
#include "cudasim/memory_pool.h"

namespace fastgpu::sim {

// What the descriptor of an exported pool holds.
struct PoolExportContents {
  static constexpr std::uint32_t kMagic = 0x4c505346;  // "FSPL"
  std::uint32_t magic = kMagic;
  std::int32_t device = 0;  // the pool's device ordinal
  PoolIdentity pool;
};

// What cudasim writes into a CUmemPoolPtrExportData's 64 bytes.
struct PoolPointerContents {
  static constexpr std::uint32_t kMagic = 0x50505346;  // "FSPP"
  std::uint32_t magic = kMagic;
  std::uint32_t reserved = 0;
  PoolIdentity pool;  // the pool it was allocated from
  IpcMemHandleContents memory;
};
static_assert(sizeof(PoolPointerContents) <= sizeof(CUmemPoolPtrExportData));

// A new descriptor naming exportable pool `pool` of device `ordinal`.
Result<int> exportPool(const MemoryPool& pool, int ordinal);
// What descriptor `fd` names; CUDA_ERROR_INVALID_VALUE for one that is not a pool's export, and
// for a pool of this very process (a pool is imported by other processes).
Result<PoolExportContents> readPoolExport(int fd);

}  // namespace fastgpu::sim
