// fastgpu: FastGPU's command line.
#include <CLI/CLI.hpp>

#include "tools/fastgpu/admin_commands.h"
#include "tools/fastgpu/kernels_command.h"
#include "tools/fastgpu/run_command.h"
#include "tools/fastgpu/sim_command.h"

int main(int argc, char** argv) {
  CLI::App app{"fastgpu: run CUDA programs on remote and virtual GPUs"};
  app.require_subcommand(1);
  fastgpu::tools::addRunCommand(app);
  fastgpu::tools::addSimCommand(app);
  fastgpu::tools::addKernelsCommand(app);
  fastgpu::tools::addAdminCommands(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
