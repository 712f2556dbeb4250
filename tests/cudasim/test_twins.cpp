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

FASTGPU_SIM_PLUGIN()
