#include "server/logging.h"

#include <spdlog/sinks/ansicolor_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <fmt/format.h>

namespace fastgpu::server {

std::shared_ptr<spdlog::logger> serverLogger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto created = spdlog::stderr_color_mt("fastgpu-server");
    created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    return created;
  }();
  return logger;
}

void logToDescriptor(int fd) {
  std::FILE* file = fdopen(fd, "w");
  if (file == nullptr) return;
  auto logger = serverLogger();
  logger->sinks().clear();
  logger->sinks().push_back(
      std::make_shared<spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>>(file, spdlog::color_mode::automatic));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

std::string escapeForLog(std::string_view text, std::size_t maxBytes) {
  std::string escaped;
  std::string_view kept = text.substr(0, maxBytes);
  escaped.reserve(kept.size() + 16);
  for (char c : kept) {
    auto byte = static_cast<unsigned char>(c);
    if (byte == '\\') {
      escaped += "\\\\";
    } else if (byte >= 0x20 && byte < 0x7f) {
      escaped += c;
    } else {
      escaped += fmt::format("\\x{:02x}", byte);
    }
  }
  if (text.size() > kept.size()) escaped += fmt::format("...(+{} bytes)", text.size() - kept.size());
  return escaped;
}

}  // namespace fastgpu::server
