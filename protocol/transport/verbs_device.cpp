#include "protocol/transport/verbs_device.h"

#include <dlfcn.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>

#include <fmt/format.h>

namespace fastgpu::protocol::verbs_device {
namespace {

template <typename F>
void bind(VerbsLibrary& library, F& function, const char* name) {
  function = reinterpret_cast<F>(::dlsym(library.handle, name));
  if (function == nullptr && library.missing.empty()) library.missing = fmt::format("libibverbs.so.1 lacks {}", name);
}

}  // namespace

const VerbsLibrary& verbs() {
  static const VerbsLibrary library = [] {
    VerbsLibrary loaded;
    loaded.handle = ::dlopen("libibverbs.so.1", RTLD_NOW | RTLD_LOCAL);
    if (loaded.handle == nullptr) {
      loaded.missing = fmt::format("libibverbs.so.1 does not load ({})", ::dlerror());
      return loaded;
    }
    bind(loaded, loaded.forkInit, "ibv_fork_init");
    bind(loaded, loaded.getDeviceList, "ibv_get_device_list");
    bind(loaded, loaded.freeDeviceList, "ibv_free_device_list");
    bind(loaded, loaded.getDeviceName, "ibv_get_device_name");
    bind(loaded, loaded.openDevice, "ibv_open_device");
    bind(loaded, loaded.closeDevice, "ibv_close_device");
    bind(loaded, loaded.queryDevice, "ibv_query_device");
    bind(loaded, loaded.queryPort, "ibv_query_port");
    bind(loaded, loaded.queryGid, "ibv_query_gid");
    bind(loaded, loaded.allocPd, "ibv_alloc_pd");
    bind(loaded, loaded.deallocPd, "ibv_dealloc_pd");
    bind(loaded, loaded.regMr, "ibv_reg_mr");
    bind(loaded, loaded.deregMr, "ibv_dereg_mr");
    bind(loaded, loaded.createCompChannel, "ibv_create_comp_channel");
    bind(loaded, loaded.destroyCompChannel, "ibv_destroy_comp_channel");
    bind(loaded, loaded.createCq, "ibv_create_cq");
    bind(loaded, loaded.destroyCq, "ibv_destroy_cq");
    bind(loaded, loaded.createQp, "ibv_create_qp");
    bind(loaded, loaded.destroyQp, "ibv_destroy_qp");
    bind(loaded, loaded.modifyQp, "ibv_modify_qp");
    bind(loaded, loaded.getCqEvent, "ibv_get_cq_event");
    bind(loaded, loaded.ackCqEvents, "ibv_ack_cq_events");
    bind(loaded, loaded.wcStatusText, "ibv_wc_status_str");
    // Registered pages are not inherited by a forked child (which never touches its parent's
    // connection): the parent's stay where the device writes them.
    if (loaded.missing.empty()) (void)loaded.forkInit();
    return loaded;
  }();
  return library;
}

Status verbsFailure(std::string_view call, int error) {
  return Status(ErrorKind::kFailed, CUDA_ERROR_OPERATING_SYSTEM, fmt::format("{}: {}", call, std::strerror(error)));
}

namespace {

std::optional<int> environmentNumber(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 0 || value > 255) return std::nullopt;
  return static_cast<int>(value);
}

// The GID index to use: FASTGPU_RDMA_GID_INDEX, else on Ethernet (RoCE) the first index whose
// sysfs type says RoCE v2 (routable), else 0.
int chooseGidIndex(const char* device, std::uint8_t port, const ibv_port_attr& attr) {
  if (auto chosen = environmentNumber("FASTGPU_RDMA_GID_INDEX")) return *chosen;
  if (attr.link_layer != IBV_LINK_LAYER_ETHERNET) return 0;
  for (int index = 0; index < attr.gid_tbl_len && index < 256; ++index) {
    std::ifstream type(fmt::format("/sys/class/infiniband/{}/ports/{}/gid_attrs/types/{}", device, port, index));
    std::string text;
    if (std::getline(type, text) && text.find("v2") != std::string::npos) return index;
  }
  return 0;
}

}  // namespace

Result<DeviceChoice> openDevice() {
  const VerbsLibrary& v = verbs();
  if (!v.missing.empty()) return Status(ErrorKind::kUnimplemented, CUDA_ERROR_NOT_SUPPORTED, v.missing);
  int count = 0;
  ibv_device** devices = v.getDeviceList(&count);
  if (devices == nullptr || count == 0) {
    if (devices != nullptr) v.freeDeviceList(devices);
    return Status(ErrorKind::kUnimplemented, CUDA_ERROR_NOT_SUPPORTED, "no RDMA device (ibv_get_device_list lists none)");
  }
  const char* wanted = std::getenv("FASTGPU_RDMA_DEVICE");
  auto port = static_cast<std::uint8_t>(environmentNumber("FASTGPU_RDMA_PORT").value_or(1));
  DeviceChoice choice;
  std::string tried;
  for (int i = 0; i < count && choice.context == nullptr; ++i) {
    const char* name = v.getDeviceName(devices[i]);
    if (wanted != nullptr && *wanted != '\0' && std::strcmp(wanted, name) != 0) continue;
    ibv_context* context = v.openDevice(devices[i]);
    if (context == nullptr) {
      tried += fmt::format(" {} (does not open)", name);
      continue;
    }
    ibv_port_attr attr{};
    if (v.queryPort(context, port, reinterpret_cast<_compat_ibv_port_attr*>(&attr)) != 0 ||
        attr.state != IBV_PORT_ACTIVE) {
      tried += fmt::format(" {} (port {} not active)", name, port);
      v.closeDevice(context);
      continue;
    }
    choice = DeviceChoice{context, port, attr, 1, chooseGidIndex(name, port, attr), {}};
    if (ibv_device_attr device{}; v.queryDevice(context, &device) == 0) {
      choice.readsInFlight = std::clamp(std::min(device.max_qp_rd_atom, device.max_qp_init_rd_atom), 1, 16);
    }
    if (v.queryGid(context, port, choice.gidIndex, &choice.gid) != 0) {
      tried += fmt::format(" {} (no GID {})", name, choice.gidIndex);
      v.closeDevice(context);
      choice.context = nullptr;
    }
  }
  v.freeDeviceList(devices);
  if (choice.context == nullptr) {
    return Status(ErrorKind::kFailed, CUDA_ERROR_NOT_SUPPORTED, fmt::format("no usable RDMA device:{}", tried));
  }
  return choice;
}

}  // namespace fastgpu::protocol::verbs_device
