// What the server's Welcome says of one of the session's devices, decoded once when the client
// connects. A capnp reader counts every read against its traversal limit (8 Mi words), so a kept
// Welcome read on every device query and launch failed after some hundred thousand of them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cudaabi/cuda_api.h"
#include "protocol/schema/fastgpu.capnp.h"

namespace fastgpu::interposer {

struct RemoteDevice {
  std::string name;
  std::array<std::uint8_t, 16> uuid{};
  bool hasUuid = false;
  std::uint64_t totalMemory = 0;
  std::vector<std::int32_t> attributes;  // indexed by CUdevice_attribute
  std::string pciBusId;

  // 0 for an attribute the server did not send.
  int attribute(CUdevice_attribute which) const {
    auto index = static_cast<std::size_t>(which);
    return index < attributes.size() ? attributes[index] : 0;
  }

  static RemoteDevice decode(wire::DeviceInfo::Reader info) {
    RemoteDevice device;
    device.name = info.getName().cStr();
    auto uuid = info.getUuid();
    device.hasUuid = uuid.size() == device.uuid.size();
    if (device.hasUuid) std::copy(uuid.begin(), uuid.end(), device.uuid.begin());
    device.totalMemory = info.getTotalMemory();
    for (std::int32_t value : info.getAttributes()) device.attributes.push_back(value);
    device.pciBusId = info.getPciBusId().cStr();
    return device;
  }
};

}  // namespace fastgpu::interposer
