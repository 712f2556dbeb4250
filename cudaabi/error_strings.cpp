#include "cudaabi/error_strings.h"

namespace fastgpu::cudaabi {
namespace {

struct ErrorCode {
  int value;
  const char* name;
  const char* text;
};

constexpr ErrorCode kErrorCodes[] = {
#define FASTGPU_CU_ERROR(name, value, text) {value, #name, text},
#include "cudaabi/error_codes.inc"
#undef FASTGPU_CU_ERROR
};

const ErrorCode* find(CUresult error) {
  for (const auto& code : kErrorCodes) {
    if (code.value == static_cast<int>(error)) return &code;
  }
  return nullptr;
}

}  // namespace

CUresult errorName(CUresult error, const char** name) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ErrorCode* code = find(error);
  *name = code != nullptr ? code->name : nullptr;
  return code != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult errorString(CUresult error, const char** text) {
  if (text == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ErrorCode* code = find(error);
  *text = code != nullptr ? code->text : nullptr;
  return code != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

const char* errorNameOrNumber(CUresult error) {
  const ErrorCode* code = find(error);
  return code != nullptr ? code->name : "unknown CUDA error";
}

}  // namespace fastgpu::cudaabi
