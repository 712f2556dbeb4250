// Host twins of tests/kernels/test_kernels.cu. mixedParams has none on purpose: launching it
// must fail with a clear error.
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
    if (value <= 0 && !failed) {
      launch->assert_failed(launch, "value > 0", "test_kernels.cu", 37, block, thread);
      failed = true;
    }
  });
  return failed ? 710 : 0;  // CUDA_ERROR_ASSERT
}

FASTGPU_SIM_TWIN("touch", touchTwin);
int touchTwin(const fastgpu_sim_launch* launch) {
  *param<int*>(launch, 0) = param<int>(launch, 1);
  return 0;
}

FASTGPU_SIM_PLUGIN()
