#include "tools/fastgpu/layout.h"

#include <algorithm>
#include <cstdlib>

namespace fastgpu::tools {

Layout currentLayout() {
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  return Layout{self.parent_path().parent_path()};
}

std::vector<std::filesystem::path> shippedTwinPlugins(const Layout& layout) {
  std::vector<std::filesystem::path> plugins;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(layout.twinDir(), error)) {
    if (entry.path().extension() == ".so") plugins.push_back(entry.path());
  }
  std::sort(plugins.begin(), plugins.end());
  return plugins;
}

std::string prependToPathList(const std::string& value, const char* name) {
  const char* current = std::getenv(name);
  if (current == nullptr || *current == '\0') return value;
  return value + ":" + current;
}

}  // namespace fastgpu::tools
