// Logging for the driver libraries. They live inside someone else's process, so they are quiet by
// default: warnings and errors to stderr. FASTGPU_LOG=trace|debug|info|warn|error|off sets the
// level. The logger is private to the library (not in spdlog's global registry), so it cannot
// clash with the application's own spdlog use.
#pragma once

#include <spdlog/spdlog.h>

#include "cudaabi/cuda_api.h"

namespace fastgpu::cudaabi {

// The logger of this driver library, created on first use. Thread-safe.
spdlog::logger& driverLogger();

// The library's name in its log lines. cudaabi gives "fastgpu" as a weak default; a driver
// library names itself ("cudasim") with a strong definition.
extern const char kDriverLibraryName[];

// A driver entry point that is not implemented: logs its name once, returns
// CUDA_ERROR_NOT_SUPPORTED. Thread-safe.
CUresult reportNotSupported(const char* symbol);

}  // namespace fastgpu::cudaabi
