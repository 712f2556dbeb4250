// See process_mappings.h.
#include "interposer/process_mappings.h"

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "cudaabi/checked_math.h"

namespace fastgpu::interposer {
namespace {

// One line of /proc/self/maps: whether the mapping may move, and where it lies.
struct Mapping {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  bool movable = false;
};

std::optional<Mapping> parseMapping(const std::string& line) {
  std::istringstream in(line);
  std::string range, perms, offset, device, path;
  std::uint64_t inode = 0;
  if (!(in >> range >> perms >> offset >> device >> inode)) return std::nullopt;
  std::getline(in >> std::ws, path);
  auto dash = range.find('-');
  if (dash == std::string::npos || perms.size() < 4) return std::nullopt;
  Mapping mapping;
  try {
    mapping.start = std::stoull(range.substr(0, dash), nullptr, 16);
    mapping.end = std::stoull(range.substr(dash + 1), nullptr, 16);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  // Read-write and nothing more (pages that move come back read-write: no code), private.
  mapping.movable = perms.starts_with("rw-p") && inode == 0 &&
                    (path.empty() || path == "[heap]" || path.starts_with("[anon:"));
  return mapping;
}

}  // namespace

bool privateAnonymousPages(std::uint64_t base, std::uint64_t bytes) {
  auto end = cudaabi::checkedAdd(base, bytes);
  if (!end || bytes == 0) return false;
  std::ifstream maps("/proc/self/maps");
  std::uint64_t covered = base;  // every page below this one qualifies
  for (std::string line; covered < *end && std::getline(maps, line);) {
    auto mapping = parseMapping(line);
    if (!mapping || mapping->end <= covered) continue;
    if (mapping->start > covered || !mapping->movable) return false;
    covered = mapping->end;
  }
  return covered >= *end;
}

}  // namespace fastgpu::interposer
