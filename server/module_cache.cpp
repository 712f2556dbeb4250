#include "server/module_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "server/logging.h"

namespace fastgpu::server {
namespace {

constexpr const char* kTemporaryPrefix = ".partial-";
// A partial file this old belongs to a worker that died while writing it.
constexpr std::chrono::seconds kAbandonedAfter{600};

bool isDigestName(std::string_view name) {
  return name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Closes a descriptor when it goes.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

bool readAll(int fd, std::uint8_t* out, std::size_t bytes) {
  while (bytes > 0) {
    ssize_t got = ::read(fd, out, bytes);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out += got;
    bytes -= static_cast<std::size_t>(got);
  }
  return true;
}

bool writeAll(int fd, const std::uint8_t* in, std::size_t bytes) {
  while (bytes > 0) {
    ssize_t put = ::write(fd, in, bytes);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    in += put;
    bytes -= static_cast<std::size_t>(put);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<ModuleCache>> ModuleCache::open(std::string directory, std::uint64_t capacityBytes) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return Status(CUDA_ERROR_OPERATING_SYSTEM, fmt::format("cannot create module cache {}: {}", directory, error.message()));
  }
  // Other tenants' code: only the server's user reads it.
  if (::chmod(directory.c_str(), 0700) != 0) {
    return Status(CUDA_ERROR_OPERATING_SYSTEM,
                  fmt::format("cannot restrict module cache {}: {}", directory, std::strerror(errno)));
  }
  return std::unique_ptr<ModuleCache>(new ModuleCache(std::move(directory), capacityBytes));
}

std::string ModuleCache::pathOf(const protocol::CodeDigest& digest) const {
  return directory_ + "/" + protocol::hexOf(digest);
}

std::optional<std::vector<std::uint8_t>> ModuleCache::find(const protocol::CodeDigest& digest) {
  std::string path = pathOf(digest);
  Descriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (file.fd < 0) return std::nullopt;
  struct stat info {};
  // Nothing larger than the bound is ever kept: a larger file is not ours.
  bool usable = ::fstat(file.fd, &info) == 0 && S_ISREG(info.st_mode) &&
                static_cast<std::uint64_t>(info.st_size) <= capacityBytes_;
  std::vector<std::uint8_t> image;
  if (usable) {
    image.resize(static_cast<std::size_t>(info.st_size));
    usable = readAll(file.fd, image.data(), image.size()) && protocol::codeDigest(image) == digest;
  }
  if (!usable) {
    serverLogger()->warn("module cache: {} is damaged; removed", path);
    ::unlink(path.c_str());
    return std::nullopt;
  }
  ::futimens(file.fd, nullptr);  // used now: the last to be evicted
  return image;
}

void ModuleCache::keep(std::span<const std::uint8_t> image) {
  if (image.size() > capacityBytes_) return;
  std::string path = pathOf(protocol::codeDigest(image));
  if (::utimensat(AT_FDCWD, path.c_str(), nullptr, AT_SYMLINK_NOFOLLOW) == 0) return;  // held already
  if (Status written = writeWhole(path, image); !written) {
    serverLogger()->warn("module cache: cannot keep an image of {} bytes: {}", image.size(), written.message());
    return;
  }
  evict();
}

Status ModuleCache::writeWhole(const std::string& path, std::span<const std::uint8_t> image) const {
  std::string partial = fmt::format("{}/{}{}-{}", directory_, kTemporaryPrefix, path.substr(directory_.size() + 1), ::getpid());
  Descriptor file{::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (file.fd < 0) return Status(CUDA_ERROR_OPERATING_SYSTEM, std::strerror(errno));
  bool written = writeAll(file.fd, image.data(), image.size());
  int writeError = errno;
  if (!written || ::rename(partial.c_str(), path.c_str()) != 0) {
    if (written) writeError = errno;
    ::unlink(partial.c_str());
    return Status(CUDA_ERROR_OPERATING_SYSTEM, std::strerror(writeError));
  }
  return Status::ok();
}

void ModuleCache::evict() const {
  struct Entry {
    std::string name;
    std::uint64_t bytes;
    timespec used;
  };
  std::vector<Entry> entries;
  std::uint64_t total = 0;
  DIR* dir = ::opendir(directory_.c_str());
  if (dir == nullptr) return;
  auto now = std::chrono::system_clock::now();
  while (const dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    struct stat info {};
    if (::fstatat(::dirfd(dir), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(info.st_mode)) continue;
    if (name.starts_with(kTemporaryPrefix)) {
      if (now - std::chrono::system_clock::from_time_t(info.st_mtim.tv_sec) > kAbandonedAfter) {
        ::unlinkat(::dirfd(dir), entry->d_name, 0);
      }
      continue;
    }
    if (!isDigestName(name)) continue;
    entries.push_back(Entry{std::string(name), static_cast<std::uint64_t>(info.st_size), info.st_mtim});
    total += static_cast<std::uint64_t>(info.st_size);
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.used.tv_sec != b.used.tv_sec ? a.used.tv_sec < b.used.tv_sec : a.used.tv_nsec < b.used.tv_nsec;
  });
  for (const Entry& entry : entries) {
    if (total <= capacityBytes_) break;
    if (::unlinkat(::dirfd(dir), entry.name.c_str(), 0) == 0) {
      serverLogger()->debug("module cache: evicted {} ({} bytes)", entry.name, entry.bytes);
    }
    total -= entry.bytes;  // gone, by us or by another session's eviction
  }
  ::closedir(dir);
}

}  // namespace fastgpu::server
