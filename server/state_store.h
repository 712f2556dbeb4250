// The server's state directory: the vGPUs as the admin API last left them, so that a restart
// keeps live changes. One TOML file (vgpus.toml), replaced atomically on every change; it holds
// token hashes, never tokens.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "scheduler/server_config.h"

namespace fastgpu::server {

class StateStore {
 public:
  explicit StateStore(std::string directory) : directory_(std::move(directory)) {}

  // The saved vGPUs, or nothing when no state was saved yet.
  Result<std::optional<std::vector<scheduler::VgpuSpec>>> load() const;
  Status save(const std::vector<scheduler::VgpuSpec>& vgpus) const;
  std::string path() const { return directory_ + "/vgpus.toml"; }

 private:
  std::string directory_;
};

}  // namespace fastgpu::server
