// What of a fat binary a set of devices can use, so that the client sends only that (libtorch's
// fat binaries carry SASS for a dozen architectures; one GPU uses one).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace fastgpu::cudaabi {

// The fat binary `image` with only the entries devices of SM versions `devices` (10 * major +
// minor) can use, as the driver chooses: for each device, its SASS — the cubins of the highest SM
// version with the device's major and a minor at most the device's — else the newest PTX at or
// below the device's version. Entries are copied byte for byte (compressed ones stay
// compressed), into one container. Nothing when `image` is not a fat binary, when a device could
// use nothing in it (the driver says so, with the whole image), or when nothing would be left out.
std::optional<std::vector<std::uint8_t>> fatbinForDevices(std::span<const std::uint8_t> image,
                                                          std::span<const std::uint32_t> devices);

}  // namespace fastgpu::cudaabi
