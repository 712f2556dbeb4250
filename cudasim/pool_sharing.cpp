#include "cudasim/pool_sharing.h"

#include <unistd.h>

#include <cstring>

#include "cudaabi/sealed_descriptor.h"

namespace fastgpu::sim {

Result<int> exportPool(const MemoryPool& pool, int ordinal) {
  if (!pool.exportable()) return Status(CUDA_ERROR_INVALID_VALUE, "the pool was not made to be shared");
  PoolExportContents contents;
  contents.device = ordinal;
  contents.pool = pool.identity();
  std::uint8_t bytes[sizeof(contents)] = {};
  std::memcpy(bytes, &contents, sizeof(contents));
  return cudaabi::sealedDescriptor("cudasim-pool", bytes);
}

Result<PoolExportContents> readPoolExport(int fd) {
  PoolExportContents contents;
  std::uint8_t bytes[sizeof(contents)] = {};
  if (!cudaabi::readSealedDescriptor(fd, bytes)) return Status(CUDA_ERROR_INVALID_VALUE, "not a pool's descriptor");
  std::memcpy(&contents, bytes, sizeof(contents));
  if (contents.magic != PoolExportContents::kMagic) return Status(CUDA_ERROR_INVALID_VALUE, "not a pool's descriptor");
  if (contents.pool.pid == static_cast<std::uint32_t>(getpid())) {
    return Status(CUDA_ERROR_INVALID_VALUE, "a pool is imported by other processes, not its own");
  }
  return contents;
}

}  // namespace fastgpu::sim
