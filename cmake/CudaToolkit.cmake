# Locates the CUDA toolkit (headers and nvcc; 12.4 or newer). It is the one prerequisite that is
# not a Debian package. FASTGPU_CUDA_ROOT overrides the default /usr/local/cuda.
set(FASTGPU_CUDA_ROOT "/usr/local/cuda" CACHE PATH "CUDA toolkit root (headers, nvcc)")
set(FASTGPU_CUDA_INCLUDE_DIR "${FASTGPU_CUDA_ROOT}/include")
foreach(header cuda.h cudaTypedefs.h cudaProfilerTypedefs.h fatbinary_section.h)
  if(NOT EXISTS "${FASTGPU_CUDA_INCLUDE_DIR}/${header}")
    message(FATAL_ERROR
      "The CUDA toolkit is missing: ${FASTGPU_CUDA_INCLUDE_DIR}/${header} not found. "
      "Install the CUDA toolkit 12.4 or newer (headers and nvcc) in /usr/local/cuda, "
      "or pass -DFASTGPU_CUDA_ROOT=/path/to/cuda.")
  endif()
endforeach()
file(STRINGS "${FASTGPU_CUDA_INCLUDE_DIR}/cuda.h" _cuda_version_line REGEX "^#define CUDA_VERSION [0-9]+")
string(REGEX REPLACE "^#define CUDA_VERSION ([0-9]+).*" "\\1" FASTGPU_CUDA_VERSION "${_cuda_version_line}")
if(FASTGPU_CUDA_VERSION LESS 12040)
  message(FATAL_ERROR "CUDA toolkit ${FASTGPU_CUDA_VERSION} is too old: FastGPU needs 12.4 (12040) or newer")
endif()
message(STATUS "CUDA toolkit: ${FASTGPU_CUDA_ROOT} (CUDA_VERSION ${FASTGPU_CUDA_VERSION})")

# The CUDA headers, as a target. -isystem keeps their warnings out of our -Werror build.
add_library(fastgpu_cuda_headers INTERFACE)
target_include_directories(fastgpu_cuda_headers SYSTEM INTERFACE "${FASTGPU_CUDA_INCLUDE_DIR}")
