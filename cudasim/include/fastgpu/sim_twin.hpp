// C++ conveniences over the cudasim twin ABI (sim_twin.h). Header-only; nothing here changes
// the ABI.
//
//   FASTGPU_SIM_TWIN("_Z6scalePfif", scaleTwin);  // registers at plugin init
//   int scaleTwin(const fastgpu_sim_launch* launch) {
//     auto* data = fastgpu::sim::param<float*>(launch, 0);
//     ...
//   }
//   FASTGPU_SIM_PLUGIN();  // defines fastgpu_sim_plugin_init for every FASTGPU_SIM_TWIN above
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fastgpu/sim_twin.h"

namespace fastgpu::sim {

// Parameter `index` of the launch, read as T (by value, as the kernel received it).
template <typename T>
T param(const fastgpu_sim_launch* launch, unsigned index) {
  T value;
  std::memcpy(&value, launch->params[index], sizeof(T));
  return value;
}

// Calls body(blockIdx, threadIdx) for every thread of the grid, block by block, threads in
// x-fastest order. Threads of a block run one after another, so a kernel that synchronizes
// threads (__syncthreads) needs its twin written in phases with forEachBlock instead.
template <typename Body>
void forEachThread(const fastgpu_sim_launch* launch, Body&& body) {
  const fastgpu_dim3 grid = launch->grid_dim;
  const fastgpu_dim3 block = launch->block_dim;
  for (uint32_t bz = 0; bz < grid.z; ++bz)
    for (uint32_t by = 0; by < grid.y; ++by)
      for (uint32_t bx = 0; bx < grid.x; ++bx)
        for (uint32_t tz = 0; tz < block.z; ++tz)
          for (uint32_t ty = 0; ty < block.y; ++ty)
            for (uint32_t tx = 0; tx < block.x; ++tx) body(fastgpu_dim3{bx, by, bz}, fastgpu_dim3{tx, ty, tz});
}

// Calls body(blockIdx, sharedMemory) once per block with a zeroed dynamic shared buffer.
template <typename Body>
void forEachBlock(const fastgpu_sim_launch* launch, Body&& body) {
  std::vector<unsigned char> shared(launch->dynamic_shared_bytes);
  const fastgpu_dim3 grid = launch->grid_dim;
  for (uint32_t bz = 0; bz < grid.z; ++bz)
    for (uint32_t by = 0; by < grid.y; ++by)
      for (uint32_t bx = 0; bx < grid.x; ++bx) {
        std::fill(shared.begin(), shared.end(), 0);
        body(fastgpu_dim3{bx, by, bz}, shared.data());
      }
}

// A device attribute (a CUdevice_attribute value) of the launch's device, or `fallback` on a host
// older than ABI 2 or for an attribute it does not know.
inline int deviceAttribute(const fastgpu_sim_launch* launch, int attribute, int fallback) {
  int value = fallback;
  if (launch->abi_version < 2 || launch->device_attribute(launch, attribute, &value) != 0) return fallback;
  return value;
}

// The kernel's assert(condition) in thread `thread` of block `block`: false (and the message a GPU
// prints recorded) when it fails; the twin then returns kAssertFailed. Needs ABI 2 for the message.
inline constexpr int kAssertFailed = 710;  // CUDA_ERROR_ASSERT
inline bool deviceAssert(const fastgpu_sim_launch* launch, bool condition, const char* expression, const char* file,
                         int line, fastgpu_dim3 block, fastgpu_dim3 thread) {
  if (condition) return true;
  if (launch->abi_version >= 2) launch->assert_failed(launch, expression, file, line, block, thread);
  return false;
}

namespace detail {
struct TwinEntry {
  const char* name;
  fastgpu_sim_twin_fn twin;
};
inline std::vector<TwinEntry>& pluginTwins() {
  static std::vector<TwinEntry> twins;
  return twins;
}
struct TwinRegistrar {
  TwinRegistrar(const char* name, fastgpu_sim_twin_fn twin) { pluginTwins().push_back({name, twin}); }
};
}  // namespace detail

}  // namespace fastgpu::sim

#define FASTGPU_SIM_CONCAT_INNER(a, b) a##b
#define FASTGPU_SIM_CONCAT(a, b) FASTGPU_SIM_CONCAT_INNER(a, b)

// Declares `function` as the twin of the kernel with mangled name `mangledName`.
#define FASTGPU_SIM_TWIN(mangledName, function)                                                 \
  int function(const fastgpu_sim_launch* launch);                                               \
  static ::fastgpu::sim::detail::TwinRegistrar FASTGPU_SIM_CONCAT(fastgpuTwinRegistrar, __LINE__)( \
      mangledName, function)

// assert(condition) inside a forEachThread body whose parameters are named block and thread:
// evaluates to false when it fails (see deviceAssert).
#define FASTGPU_SIM_ASSERT(launch, condition) \
  ::fastgpu::sim::deviceAssert((launch), (condition), #condition, __FILE__, __LINE__, block, thread)

// Defines the plugin's init function, registering every FASTGPU_SIM_TWIN of the plugin.
#define FASTGPU_SIM_PLUGIN()                                                                     \
  extern "C" __attribute__((visibility("default"))) int fastgpu_sim_plugin_init(const fastgpu_sim_host* host) { \
    for (const auto& entry : ::fastgpu::sim::detail::pluginTwins()) {                           \
      if (host->register_twin(host, entry.name, entry.twin) != 0) return -1;                    \
    }                                                                                           \
    return 0;                                                                                   \
  }
