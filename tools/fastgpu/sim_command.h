// `fastgpu sim`: runs a program natively on cudasim.
#pragma once

#include <CLI/CLI.hpp>

namespace fastgpu::tools {

// Adds the subcommand to `app`; running it replaces this process with the program.
void addSimCommand(CLI::App& app);

}  // namespace fastgpu::tools
