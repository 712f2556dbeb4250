// One vGPU's code images kept on disk for its next sessions (docs/operations.md, "Module cache"):
// a client whose image the server holds sends its digest, not its bytes (protocol/code_digest.h).
//
// Each image is a file named by the SHA-256 the server computed from the bytes it loaded, so a
// client cannot plant an image under another's name; it is read back only if it still hashes to
// its name. Files are written whole under a temporary name and renamed, so a reader never sees
// half of one; a file's modification time is when it was last used, and keeping an image evicts
// the least recently used ones past the vGPU's bound. The sessions of one vGPU (separate worker
// processes) share the directory; no vGPU sees another's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cudaabi/result.h"
#include "protocol/code_digest.h"

namespace fastgpu::server {

class ModuleCache {
 public:
  // The cache in `directory` (created, mode 0700, if missing), holding at most `capacityBytes`.
  static Result<std::unique_ptr<ModuleCache>> open(std::string directory, std::uint64_t capacityBytes);

  // The image named `digest`, or none when absent or damaged (then removed). Marks it used.
  std::optional<std::vector<std::uint8_t>> find(const protocol::CodeDigest& digest);
  // Keeps `image` (one the driver loaded), then evicts the least recently used images past the
  // bound. A failure (a full disk) is logged and loses nothing but the entry.
  void keep(std::span<const std::uint8_t> image);

  const std::string& directory() const { return directory_; }

 private:
  ModuleCache(std::string directory, std::uint64_t capacityBytes)
      : directory_(std::move(directory)), capacityBytes_(capacityBytes) {}
  std::string pathOf(const protocol::CodeDigest& digest) const;
  // Writes `image` to `path` through a temporary file in the directory.
  Status writeWhole(const std::string& path, std::span<const std::uint8_t> image) const;
  void evict() const;

  std::string directory_;
  std::uint64_t capacityBytes_;
};

}  // namespace fastgpu::server
