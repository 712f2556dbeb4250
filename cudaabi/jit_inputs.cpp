// JIT options and input files read alike by cudasim and the client (jit_inputs.h).
#include "cudaabi/jit_inputs.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

namespace fastgpu::cudaabi {

void JitErrorLog::write(std::string_view message) const {
  if (buffer == nullptr || bytes == 0) return;
  std::size_t kept = std::min(bytes - 1, message.size());
  std::memcpy(buffer, message.data(), kept);
  buffer[kept] = '\0';
}

JitErrorLog jitErrorLog(unsigned count, const CUjit_option* options, void* const* values) {
  JitErrorLog log;
  if (options == nullptr || values == nullptr) return log;
  char* info = nullptr;
  std::size_t infoBytes = 0;
  for (unsigned i = 0; i < count; ++i) {
    auto value = reinterpret_cast<std::uintptr_t>(values[i]);
    if (options[i] == CU_JIT_ERROR_LOG_BUFFER) log.buffer = static_cast<char*>(values[i]);
    if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) log.bytes = value;
    if (options[i] == CU_JIT_INFO_LOG_BUFFER) info = static_cast<char*>(values[i]);
    if (options[i] == CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES) infoBytes = value;
  }
  log.write("");
  JitErrorLog{info, infoBytes}.write("");
  return log;
}

Result<std::vector<char>> readFileWithNul(const char* path) {
  if (path == nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "NULL path");
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status(CUDA_ERROR_FILE_NOT_FOUND, fmt::format("cannot open {}", path));
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  bytes.push_back('\0');
  return bytes;
}

Result<std::vector<char>> readJitInputFile(const char* path, CUjitInputType type) {
  auto bytes = readFileWithNul(path);
  if (!bytes) return bytes;
  if (type != CU_JIT_INPUT_PTX) bytes->pop_back();
  if (bytes->empty()) return Status(CUDA_ERROR_INVALID_IMAGE, fmt::format("{} is empty", path));
  return bytes;
}

}  // namespace fastgpu::cudaabi
