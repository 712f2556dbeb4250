#include "cudasim/sim_config.h"

#include <signal.h>

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

namespace fastgpu::sim {

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
  if (const char* fault = std::getenv("FASTGPU_SIM_FAULT"); fault != nullptr && *fault != '\0') {
    std::string_view text(fault);
    auto colon = text.rfind(':');
    std::string_view kind = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
    config.faultSignal = kind == "segv" ? SIGSEGV : kind == "abort" ? SIGABRT : 0;
    if (colon == 0 || config.faultSignal == 0) {
      return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("FASTGPU_SIM_FAULT='{}' is not KERNEL:segv or KERNEL:abort", text));
    }
    config.faultKernel = std::string(text.substr(0, colon));
  }
  if (const char* delay = std::getenv("FASTGPU_SIM_HOST_COPY_DELAY_US"); delay != nullptr && *delay != '\0') {
    std::string_view text(delay);
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), config.hostCopyDelayMicros);
    if (error != std::errc() || end != text.data() + text.size() || config.hostCopyDelayMicros > kMaxHostCopyDelayMicros) {
      return Status(CUDA_ERROR_INVALID_VALUE,
                    fmt::format("FASTGPU_SIM_HOST_COPY_DELAY_US='{}' is not a number of microseconds up to {}", text,
                                kMaxHostCopyDelayMicros));
    }
  }
  return config;
}

}  // namespace fastgpu::sim
