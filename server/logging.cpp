#include "server/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace fastgpu::server {

std::shared_ptr<spdlog::logger> serverLogger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto created = spdlog::stderr_color_mt("fastgpu-server");
    created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    return created;
  }();
  return logger;
}

}  // namespace fastgpu::server
