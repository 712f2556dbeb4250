// cudasim's exported driver surface: every symbol of the toolkit's driver, weak "not supported"
// definitions for those cudasim does not implement (see cudaabi/driver_exports.h).
#include "cudaabi/driver_exports_impl.h"

namespace fastgpu::cudaabi {
extern const char kDriverLibraryName[] = "cudasim";
}  // namespace fastgpu::cudaabi
