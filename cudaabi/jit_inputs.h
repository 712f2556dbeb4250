// What cudasim and the client both read the same way from a program's JIT calls (cuLink*,
// cuModuleLoad*): the error log buffer among the JIT options, and an input file's bytes.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "cudaabi/cuda_api.h"
#include "cudaabi/result.h"

namespace fastgpu::cudaabi {

// The program's CU_JIT_ERROR_LOG_BUFFER(_SIZE_BYTES): where a failure's reason goes.
struct JitErrorLog {
  char* buffer = nullptr;
  std::size_t bytes = 0;

  // Writes `message`, cut to fit with its NUL; nothing without a buffer.
  void write(std::string_view message) const;
};

// Reads the error log from `count` JIT options and empties both log buffers the program gave,
// as the driver does before it works.
JitErrorLog jitErrorLog(unsigned count, const CUjit_option* options, void* const* values);

// The bytes of file `path` with a NUL after them (PTX text must end in one): FILE_NOT_FOUND when
// it cannot be opened.
Result<std::vector<char>> readFileWithNul(const char* path);

// A file given to the linker as input `type`: the NUL stays with PTX text only; an empty file is
// INVALID_IMAGE.
Result<std::vector<char>> readJitInputFile(const char* path, CUjitInputType type);

}  // namespace fastgpu::cudaabi
