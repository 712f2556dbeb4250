// Where the fastgpu command finds the rest of FastGPU: the build tree and an installation share
// one layout, relative to the executable (bin/fastgpu):
//   lib/cudasim/libcuda.so.1     the simulated driver
//   lib/cudasim/twins/*.so       host-twin plugins of the examples
//   lib/fastgpu/libcuda.so.1     the interposer (remote execution)
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fastgpu::tools {

struct Layout {
  std::filesystem::path root;  // the directory above bin/
  std::filesystem::path cudasimLibraryDir() const { return root / "lib" / "cudasim"; }
  std::filesystem::path twinDir() const { return cudasimLibraryDir() / "twins"; }
  std::filesystem::path interposerLibraryDir() const { return root / "lib" / "fastgpu"; }
};

// The layout of the running executable.
Layout currentLayout();

// The twin plugins shipped in the layout, sorted.
std::vector<std::filesystem::path> shippedTwinPlugins(const Layout& layout);

// Replaces this process with `command`; on failure prints "<who>: cannot run ..." and exits 127.
[[noreturn]] void execProgram(const std::vector<std::string>& command, const char* who);

// `value` prepended to the colon-separated list in environment variable `name`.
std::string prependToPathList(const std::string& value, const char* name);

}  // namespace fastgpu::tools
