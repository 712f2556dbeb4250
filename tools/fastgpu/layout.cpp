#include "tools/fastgpu/layout.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

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

void execProgram(const std::vector<std::string>& command, const char* who) {
  std::vector<char*> argv;
  for (const auto& argument : command) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  fmt::print(stderr, "{}: cannot run {}: {}\n", who, command.front(), std::strerror(errno));
  std::exit(127);
}

std::string prependToPathList(const std::string& value, const char* name) {
  const char* current = std::getenv(name);
  if (current == nullptr || *current == '\0') return value;
  return value + ":" + current;
}

}  // namespace fastgpu::tools
