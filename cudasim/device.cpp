#include "cudasim/device.h"

#include <fmt/format.h>

namespace fastgpu::sim {
namespace {

// PCI bus numbers of the eight GPUs of a DGX H100, then counting on.
constexpr int kPciBuses[] = {0x19, 0x3b, 0x4c, 0x5d, 0x9b, 0xbb, 0xcb, 0xdb};

}  // namespace

Result<std::unique_ptr<Device>> Device::create(int ordinal, std::uint64_t memoryBytes, DeviceShare& share) {
  auto memory = DeviceMemory::reserve(ordinal, memoryBytes, share);
  if (!memory) return memory.status();
  return std::unique_ptr<Device>(new Device(ordinal, std::move(*memory), share));
}

Device::Device(int ordinal, std::unique_ptr<DeviceMemory> memory, DeviceShare& share)
    : ordinal_(ordinal), name_("NVIDIA H100 80GB HBM3 (cudasim)"), memory_(std::move(memory)), share_(share) {
  // A fixed, recognizable UUID per ordinal: "fa57690c-..." with the ordinal in the last byte.
  constexpr unsigned char kUuid[16] = {0xfa, 0x57, 0x69, 0x0c, 0x51, 0x3d, 0x4e, 0x7a,
                                       0x9b, 0x1e, 0x2c, 0x5d, 0x00, 0x00, 0x00, 0x00};
  for (int i = 0; i < 16; ++i) uuid_.bytes[i] = static_cast<char>(kUuid[i]);
  uuid_.bytes[15] = static_cast<char>(ordinal);
}

int Device::pciBus() const {
  constexpr int kKnown = static_cast<int>(std::size(kPciBuses));
  return ordinal_ < kKnown ? kPciBuses[ordinal_] : 0xe0 + (ordinal_ - kKnown);
}

}  // namespace fastgpu::sim
