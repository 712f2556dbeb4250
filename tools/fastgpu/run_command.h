// `fastgpu run`: runs a program with its CUDA calls executed by a fastgpu-server.
#pragma once

#include <CLI/CLI.hpp>

namespace fastgpu::tools {

// Adds the subcommand to `app`; running it replaces this process with the program.
void addRunCommand(CLI::App& app);

}  // namespace fastgpu::tools
