#include "cudaabi/byte_size.h"

#include <cctype>
#include <charconv>
#include <string>

#include <fmt/format.h>

namespace fastgpu {
namespace {

std::string lower(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

Result<std::uint64_t> parseByteSize(std::string_view text) {
  std::string value = lower(text);
  std::uint64_t number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error != std::errc() || end == value.data()) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("'{}' is not a size (try 80GiB or 512MiB)", text));
  }
  std::string unit(end, static_cast<const char*>(value.data() + value.size()));
  int shift = -1;
  if (unit.empty() || unit == "b") shift = 0;
  else if (unit == "k" || unit == "kb" || unit == "kib") shift = 10;
  else if (unit == "m" || unit == "mb" || unit == "mib") shift = 20;
  else if (unit == "g" || unit == "gb" || unit == "gib") shift = 30;
  else if (unit == "t" || unit == "tb" || unit == "tib") shift = 40;
  if (shift < 0) return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("unknown unit '{}' in '{}'", unit, text));
  if (shift > 0 && number > (UINT64_MAX >> shift)) return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("'{}' is too large", text));
  return number << shift;
}


}  // namespace fastgpu
