// The libibverbs the RDMA link uses (verbs_link.h), loaded once with dlopen when first needed, and
// the device a link opens: FASTGPU_RDMA_DEVICE, FASTGPU_RDMA_PORT, FASTGPU_RDMA_GID_INDEX (a RoCE v2
// GID on Ethernet ports by default). Internal to the verbs layer.
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "cudaabi/result.h"

namespace fastgpu::protocol::verbs_device {

struct VerbsLibrary {
  void* handle = nullptr;
  std::string missing;  // why it is unusable; "" when loaded
  int (*forkInit)() = nullptr;
  ibv_device** (*getDeviceList)(int*) = nullptr;
  void (*freeDeviceList)(ibv_device**) = nullptr;
  const char* (*getDeviceName)(ibv_device*) = nullptr;
  ibv_context* (*openDevice)(ibv_device*) = nullptr;
  int (*closeDevice)(ibv_context*) = nullptr;
  int (*queryDevice)(ibv_context*, ibv_device_attr*) = nullptr;
  int (*queryPort)(ibv_context*, std::uint8_t, _compat_ibv_port_attr*) = nullptr;
  int (*queryGid)(ibv_context*, std::uint8_t, int, ibv_gid*) = nullptr;
  ibv_pd* (*allocPd)(ibv_context*) = nullptr;
  int (*deallocPd)(ibv_pd*) = nullptr;
  ibv_mr* (*regMr)(ibv_pd*, void*, std::size_t, int) = nullptr;
  int (*deregMr)(ibv_mr*) = nullptr;
  ibv_comp_channel* (*createCompChannel)(ibv_context*) = nullptr;
  int (*destroyCompChannel)(ibv_comp_channel*) = nullptr;
  ibv_cq* (*createCq)(ibv_context*, int, void*, ibv_comp_channel*, int) = nullptr;
  int (*destroyCq)(ibv_cq*) = nullptr;
  ibv_qp* (*createQp)(ibv_pd*, ibv_qp_init_attr*) = nullptr;
  int (*destroyQp)(ibv_qp*) = nullptr;
  int (*modifyQp)(ibv_qp*, ibv_qp_attr*, int) = nullptr;
  int (*getCqEvent)(ibv_comp_channel*, ibv_cq**, void**) = nullptr;
  void (*ackCqEvents)(ibv_cq*, unsigned) = nullptr;
  const char* (*wcStatusText)(ibv_wc_status) = nullptr;
};

// The library, loaded on first use (missing says why when it is unusable).
const VerbsLibrary& verbs();

// A verbs call's failure with its errno text.
Status verbsFailure(std::string_view call, int error);

// The device, port and GID a link uses.
struct DeviceChoice {
  ibv_context* context = nullptr;
  std::uint8_t port = 1;
  ibv_port_attr portAttr{};
  int readsInFlight = 1;  // RDMA READs a QP may have outstanding (the device's limit, at most 16)
  int gidIndex = 0;
  ibv_gid gid{};
};

// Opens the device and port a link uses (FASTGPU_RDMA_DEVICE / _PORT / _GID_INDEX): the first
// device whose port is active when none is named. kUnimplemented when libibverbs or a device is
// missing, with the reason.
Result<DeviceChoice> openDevice();

}  // namespace fastgpu::protocol::verbs_device
