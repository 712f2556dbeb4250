// The interposer's exported surface: every driver symbol; those not remoted yet report
// CUDA_ERROR_NOT_SUPPORTED (see cudaabi/driver_exports.h).
#include "cudaabi/driver_exports_impl.h"

namespace fastgpu::cudaabi {
extern const char kDriverLibraryName[] = "fastgpu";
}  // namespace fastgpu::cudaabi
