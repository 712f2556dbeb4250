#include "tools/fastgpu/kernels_command.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cudaabi/kernel_image.h"
#include "cudaabi/kernel_names.h"

namespace fastgpu::tools {
namespace {

constexpr std::uint8_t kElfMagic[] = {0x7f, 'E', 'L', 'F'};

// The kernels of one file: a program or shared library (its .nv_fatbin section), or a fatbin,
// cubin or PTX file itself. Kernel name -> parameter bytes.
Result<std::map<std::string, std::uint32_t>> kernelsOf(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status(CUDA_ERROR_FILE_NOT_FOUND, "cannot read it");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::span<const std::uint8_t> image(bytes);
  if (bytes.size() >= 4 && std::equal(std::begin(kElfMagic), std::end(kElfMagic), bytes.begin())) {
    auto embedded = cudaabi::elfSection(image, ".nv_fatbin");
    if (embedded) {
      image = *embedded;
    } else if (embedded.status().code() != CUDA_ERROR_NOT_FOUND) {
      return embedded.status();
    }  // else a cubin: parsed whole
  }
  auto parsed = cudaabi::parseKernelImage(image);
  if (!parsed) return parsed.status();
  std::map<std::string, std::uint32_t> kernels;
  for (const auto& kernel : parsed->kernels) kernels[kernel.name] = kernel.paramBytes;
  return kernels;
}

int listKernels(const std::vector<std::string>& paths) {
  int failed = 0;
  for (const auto& path : paths) {
    auto kernels = kernelsOf(path);
    if (!kernels) {
      fmt::print(stderr, "fastgpu kernels: {}: {}\n", path, kernels.status().message());
      ++failed;
      continue;
    }
    if (paths.size() > 1) fmt::print("{}:\n", path);
    if (kernels->empty()) fmt::print("  (no kernels)\n");
    for (const auto& [name, paramBytes] : *kernels) {
      fmt::print("{}  ({} parameter bytes)", name, paramBytes);
      if (auto base = cudaabi::internalLinkageBaseName(name)) fmt::print("  twin it as {}", *base);
      fmt::print("\n");
    }
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

void addKernelsCommand(CLI::App& app) {
  auto paths = std::make_shared<std::vector<std::string>>();
  CLI::App* kernels = app.add_subcommand(
      "kernels", "List the kernels in a program's, library's, fatbin's, cubin's or PTX file's code, by mangled name.");
  kernels->footer(
      "These are the names cudasim's host twins are registered under (docs/cudasim.md, \"Host twins\"), including\n"
      "kernels of internal linkage that nm does not show; for those, the name to register the twin under follows.\n"
      "Example: fastgpu kernels ./my_cuda_app");
  kernels->add_option("files", *paths, "programs, shared libraries, .fatbin, .cubin or .ptx files")->required();
  kernels->callback([paths] { std::exit(listKernels(*paths)); });
}

}  // namespace fastgpu::tools
