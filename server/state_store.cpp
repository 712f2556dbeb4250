#include "server/state_store.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace fastgpu::server {

Result<std::optional<std::vector<scheduler::VgpuSpec>>> StateStore::load() const {
  if (!std::filesystem::exists(path())) return std::optional<std::vector<scheduler::VgpuSpec>>();
  auto state = scheduler::loadServerConfig(path());
  if (!state) return state.status();
  return std::optional<std::vector<scheduler::VgpuSpec>>(std::move(state->vgpus));
}

Status StateStore::save(const std::vector<scheduler::VgpuSpec>& vgpus) const {
  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (error) return Status(CUDA_ERROR_UNKNOWN, fmt::format("cannot create {}: {}", directory_, error.message()));
  std::string temporary = path() + ".new";
  {
    std::ofstream file(temporary, std::ios::trunc);
    file << scheduler::formatVgpuState(vgpus);
    if (!file.flush()) return Status(CUDA_ERROR_UNKNOWN, fmt::format("cannot write {}", temporary));
  }
  // A rename replaces the old state at once: a crash leaves the old file or the new one.
  if (std::rename(temporary.c_str(), path().c_str()) != 0) {
    return Status(CUDA_ERROR_UNKNOWN, fmt::format("cannot replace {}", path()));
  }
  return Status::ok();
}

}  // namespace fastgpu::server
