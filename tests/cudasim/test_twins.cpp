// Host twins of tests/kernels/test_kernels.cu. mixedParams has none on purpose: launching it
// must fail with a clear error.
#include "fastgpu/sim_tensor_map.h"
#include "fastgpu/sim_twin.hpp"

using fastgpu::sim::param;

FASTGPU_SIM_TWIN("appendValue", appendValueTwin);
int appendValueTwin(const fastgpu_sim_launch* launch) {
  auto* log = param<int*>(launch, 0);
  auto* length = param<int*>(launch, 1);
  log[(*length)++] = param<int>(launch, 2);
  return 0;
}

FASTGPU_SIM_TWIN("failWith", failWithTwin);
int failWithTwin(const fastgpu_sim_launch* launch) { return param<int>(launch, 0); }

FASTGPU_SIM_TWIN("report", reportTwin);
int reportTwin(const fastgpu_sim_launch* launch) {
  int value = param<int>(launch, 0);
  bool failed = false;
  fastgpu::sim::forEachThread(launch, [&](fastgpu_dim3 block, fastgpu_dim3 thread) {
    if (thread.x == 0) launch->device_printf(launch, "block %u of %u says %d\n", block.x, launch->grid_dim.x, value);
    // The kernel's assert is spelled out with this file name and line, so its twin's is too.
    if (!failed) failed = !fastgpu::sim::deviceAssert(launch, value > 0, "value > 0", "test_kernels.cu", 37, block, thread);
  });
  return failed ? fastgpu::sim::kAssertFailed : 0;
}

FASTGPU_SIM_TWIN("touch", touchTwin);
// A value of -16 (test convention, not the kernel's) writes what the twin reads of its device's
// attribute 16, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, through the ABI.
int touchTwin(const fastgpu_sim_launch* launch) {
  int value = param<int>(launch, 1);
  if (value == -16) value = fastgpu::sim::deviceAttribute(launch, 16, -1);
  *param<int*>(launch, 0) = value;
  return 0;
}

FASTGPU_SIM_TWIN("tileSum", tileSumTwin);
// What the TMA load reads: the 8x8 box at (x, y) of a 2-D int32 tensor, 0 outside it. The kernel
// is written for exactly that box; a map of another shape would overrun its shared tile on a GPU.
int tileSumTwin(const fastgpu_sim_launch* launch) {
  constexpr int kInvalidValue = 1;   // CUDA_ERROR_INVALID_VALUE
  constexpr std::uint8_t kInt32 = 3;  // CU_TENSOR_MAP_DATA_TYPE_INT32
  auto map = param<fastgpu_sim_tensor_map>(launch, 0);
  int x = param<int>(launch, 1), y = param<int>(launch, 2);
  if (map.magic != FASTGPU_SIM_TENSOR_MAP_MAGIC || map.kind != FASTGPU_SIM_TENSOR_MAP_TILED || map.rank != 2 ||
      map.data_type != kInt32 || map.box_dim[0] != 8 || map.box_dim[1] != 8) {
    return kInvalidValue;
  }
  int sum = 0;
  for (std::int64_t row = y; row < y + 8; ++row) {
    for (std::int64_t column = x; column < x + 8; ++column) {
      if (row < 0 || column < 0 || static_cast<std::uint64_t>(row) >= map.global_dim[1] ||
          static_cast<std::uint64_t>(column) >= map.global_dim[0]) {
        continue;  // out of the tensor: filled with zeros
      }
      auto address = map.global_address + static_cast<std::uint64_t>(row) * map.global_strides[0] +
                     static_cast<std::uint64_t>(column) * sizeof(int);
      int value = 0;
      std::memcpy(&value, reinterpret_cast<const void*>(address), sizeof(value));
      sum += value;
    }
  }
  *param<int*>(launch, 3) = sum;
  return 0;
}

FASTGPU_SIM_PLUGIN()
