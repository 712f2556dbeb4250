// Fat binary entries a set of devices can use (fatbin_selection.h).
#include "cudaabi/fatbin_selection.h"

#include <algorithm>

#include "cudaabi/kernel_image.h"

namespace fastgpu::cudaabi {
namespace {

constexpr std::uint16_t kPtx = 1;
constexpr std::uint16_t kCubin = 2;

// The SM version of the entries of `kind` device `sm` would pick: SASS of its major and a minor
// at most its own, PTX at most its version; the highest. 0 for none.
std::uint32_t pick(std::span<const RawFatbinEntry> entries, std::uint16_t kind, std::uint32_t sm) {
  std::uint32_t best = 0;
  for (const RawFatbinEntry& entry : entries) {
    if (entry.kind != kind || entry.smVersion > sm) continue;
    if (kind == kCubin && entry.smVersion / 10 != sm / 10) continue;
    best = std::max(best, entry.smVersion);
  }
  return best;
}

}  // namespace

std::optional<std::vector<std::uint8_t>> fatbinForDevices(std::span<const std::uint8_t> image,
                                                          std::span<const std::uint32_t> devices) {
  if (devices.empty()) return std::nullopt;
  auto entries = rawFatbinEntries(image);
  if (!entries || entries->empty()) return std::nullopt;
  std::vector<bool> keep(entries->size(), false);
  for (std::uint32_t sm : devices) {
    std::uint16_t kind = kCubin;
    std::uint32_t version = pick(*entries, kCubin, sm);
    if (version == 0) {
      kind = kPtx;
      version = pick(*entries, kPtx, sm);
    }
    if (version == 0) return std::nullopt;
    for (std::size_t i = 0; i < entries->size(); ++i) {
      if ((*entries)[i].kind == kind && (*entries)[i].smVersion == version) keep[i] = true;
    }
  }
  if (std::all_of(keep.begin(), keep.end(), [](bool kept) { return kept; })) return std::nullopt;
  std::vector<RawFatbinEntry> kept;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    if (keep[i]) kept.push_back((*entries)[i]);
  }
  return writeRawFatbin(kept);
}

}  // namespace fastgpu::cudaabi
