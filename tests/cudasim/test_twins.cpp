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

FASTGPU_SIM_TWIN("touch", touchTwin);
int touchTwin(const fastgpu_sim_launch* launch) {
  *param<int*>(launch, 0) = param<int>(launch, 1);
  return 0;
}

FASTGPU_SIM_PLUGIN()
