#include "cudaabi/sealed_descriptor.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace fastgpu::cudaabi {

Result<int> sealedDescriptor(const char* name, std::span<const std::uint8_t> bytes) {
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return Status(CUDA_ERROR_OPERATING_SYSTEM, "memfd_create failed");
  if (pwrite(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()) ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    close(fd);
    return Status(CUDA_ERROR_OPERATING_SYSTEM, "a sealed memory file could not be written");
  }
  return fd;
}

bool readSealedDescriptor(int fd, std::span<std::uint8_t> into) {
  return fd >= 0 && pread(fd, into.data(), into.size(), 0) == static_cast<ssize_t>(into.size());
}

}  // namespace fastgpu::cudaabi
