#include "cudasim/sim_config.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

namespace fastgpu::sim {
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

Result<SimConfig> loadSimConfig() {
  SimConfig config;
  if (const char* devices = std::getenv("FASTGPU_SIM_DEVICES"); devices != nullptr && *devices != '\0') {
    int count = 0;
    std::string_view text(devices);
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (error != std::errc() || end != text.data() + text.size() || count < 1 || count > kMaxDevices) {
      return Status(CUDA_ERROR_INVALID_VALUE,
                    fmt::format("FASTGPU_SIM_DEVICES='{}' is not a device count between 1 and {}", text, kMaxDevices));
    }
    config.deviceCount = count;
  }
  if (const char* memory = std::getenv("FASTGPU_SIM_MEMORY"); memory != nullptr && *memory != '\0') {
    auto bytes = parseByteSize(memory);
    if (!bytes) return Status(CUDA_ERROR_INVALID_VALUE, "FASTGPU_SIM_MEMORY: " + bytes.status().message());
    if (*bytes < (1ULL << 20) || *bytes > kMaxDeviceMemoryBytes / 2) {
      return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("FASTGPU_SIM_MEMORY='{}' must be between 1MiB and 512GiB", memory));
    }
    config.memoryBytes = *bytes;
  }
  if (const char* plugins = std::getenv("FASTGPU_SIM_KERNELS"); plugins != nullptr) {
    std::string_view list(plugins);
    while (!list.empty()) {
      auto colon = list.find(':');
      std::string_view path = list.substr(0, colon);
      if (!path.empty()) config.twinPlugins.emplace_back(path);
      if (colon == std::string_view::npos) break;
      list.remove_prefix(colon + 1);
    }
  }
  return config;
}

}  // namespace fastgpu::sim
