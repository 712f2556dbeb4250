#include "tools/fastgpu/sim_command.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tools/fastgpu/layout.h"

namespace fastgpu::tools {
namespace {

struct SimOptions {
  int devices = 0;
  std::string memory;
  std::vector<std::string> twins;
  std::vector<std::string> command;
};

[[noreturn]] void runSim(const SimOptions& options) {
  Layout layout = currentLayout();
  if (!std::filesystem::exists(layout.cudasimLibraryDir() / "libcuda.so.1")) {
    fmt::print(stderr, "fastgpu sim: cudasim is not where it should be: {} (build FastGPU first)\n",
               (layout.cudasimLibraryDir() / "libcuda.so.1").string());
    std::exit(2);
  }
  std::string plugins;
  for (const auto& plugin : shippedTwinPlugins(layout)) plugins += (plugins.empty() ? "" : ":") + plugin.string();
  for (const auto& plugin : options.twins) plugins += (plugins.empty() ? "" : ":") + plugin;
  setenv("LD_LIBRARY_PATH", prependToPathList(layout.cudasimLibraryDir().string(), "LD_LIBRARY_PATH").c_str(), 1);
  if (!plugins.empty()) setenv("FASTGPU_SIM_KERNELS", prependToPathList(plugins, "FASTGPU_SIM_KERNELS").c_str(), 1);
  if (options.devices > 0) setenv("FASTGPU_SIM_DEVICES", std::to_string(options.devices).c_str(), 1);
  if (!options.memory.empty()) setenv("FASTGPU_SIM_MEMORY", options.memory.c_str(), 1);

  execProgram(options.command, "fastgpu sim");
}

}  // namespace

void addSimCommand(CLI::App& app) {
  auto options = std::make_shared<SimOptions>();
  CLI::App* sim = app.add_subcommand(
      "sim", "Run a program natively on cudasim, the CPU-simulated CUDA driver (no GPU needed).");
  sim->footer(
      "Sets LD_LIBRARY_PATH to cudasim's libcuda.so.1 (and FastGPU's libnvidia-ml.so.1, which then describes the\n"
      "simulated devices) and FASTGPU_SIM_KERNELS to the shipped host-twin plugins\n"
      "plus any --twins, then runs PROGRAM. Example: fastgpu sim --devices 2 --memory 16GiB -- ./my_cuda_app");
  sim->add_option("--devices", options->devices, "number of simulated devices (1-16; default 1)")
      ->check(CLI::Range(1, 16));
  sim->add_option("--memory", options->memory, "memory per simulated device, e.g. 16GiB (default 80GiB)");
  // One plugin per --twins: a list would swallow "--" and the program's own options with it.
  sim->add_option("--twins", options->twins, "a host-twin plugin library to load (repeatable)")
      ->allow_extra_args(false);
  sim->add_option("command", options->command, "PROGRAM [ARGS...] (after --)")->required();
  sim->callback([options] { runSim(*options); });
}

}  // namespace fastgpu::tools
