// `fastgpu kernels`: the kernels in a program's fat binaries, by the names cudasim's host twins
// are registered under.
#pragma once

#include <CLI/CLI.hpp>

namespace fastgpu::tools {

void addKernelsCommand(CLI::App& app);

}  // namespace fastgpu::tools
