// Shareable handles a library hands a program as POSIX descriptors (cuMemExportToShareableHandle,
// cuMemPoolExportToShareableHandle): a small sealed memory file holding what names the shared
// object. The program passes the descriptor to another process (SCM_RIGHTS), which reads the
// bytes back; sealed, the file cannot be changed or resized after it is made, by anyone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "cudaabi/result.h"

namespace fastgpu::cudaabi {

// A new close-on-exec descriptor of a sealed memory file named `name` holding `bytes`;
// CUDA_ERROR_OPERATING_SYSTEM when the system refuses.
Result<int> sealedDescriptor(const char* name, std::span<const std::uint8_t> bytes);
// Reads exactly `into.size()` bytes from the start of descriptor `fd`; false for a descriptor that
// is not open or holds fewer bytes (not one made by sealedDescriptor). Never takes ownership of `fd`.
bool readSealedDescriptor(int fd, std::span<std::uint8_t> into);

}  // namespace fastgpu::cudaabi
