#include "cudaabi/log.h"

#include <cstdlib>
#include <mutex>
#include <set>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>

#include "cudaabi/cuda_api.h"

namespace fastgpu::cudaabi {
namespace {

std::shared_ptr<spdlog::logger> makeDriverLogger() {
  auto logger = std::make_shared<spdlog::logger>(kDriverLibraryName, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("[%n] %l: %v");
  spdlog::level::level_enum level = spdlog::level::warn;
  if (const char* env = std::getenv("FASTGPU_LOG"); env != nullptr && *env != '\0') {
    level = spdlog::level::from_str(env);
  }
  logger->set_level(level);
  return logger;
}

}  // namespace

__attribute__((weak)) extern const char kDriverLibraryName[] = "fastgpu";

spdlog::logger& driverLogger() {
  // Intentionally never destroyed: driver entry points run from atexit handlers of the
  // application, after static destructors would have run.
  static auto* logger = new std::shared_ptr<spdlog::logger>(makeDriverLogger());
  return **logger;
}

CUresult reportNotSupported(const char* symbol) {
  static std::mutex mutex;
  static auto* reported = new std::set<std::string>;  // never destroyed, see driverLogger()
  std::lock_guard lock(mutex);
  if (reported->insert(symbol).second) {
    driverLogger().warn("{} is not implemented; returning CUDA_ERROR_NOT_SUPPORTED", symbol);
  }
  return CUDA_ERROR_NOT_SUPPORTED;
}

}  // namespace fastgpu::cudaabi
