// `fastgpu vgpu ...` and `fastgpu session ...`: administration over the server's admin API.
#pragma once

#include <CLI/CLI.hpp>

namespace fastgpu::tools {

void addAdminCommands(CLI::App& app);

}  // namespace fastgpu::tools
