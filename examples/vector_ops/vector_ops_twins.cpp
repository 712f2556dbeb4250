// Host twins of vector_ops.cu's kernels, for cudasim.
#include <numeric>

#include "fastgpu/sim_twin.hpp"

using fastgpu::sim::param;

// __global__ void saxpy(float a, const float* x, float* y, int n)
FASTGPU_SIM_TWIN("_Z5saxpyfPKfPfi", saxpyTwin);
int saxpyTwin(const fastgpu_sim_launch* launch) {
  auto a = param<float>(launch, 0);
  auto* x = param<const float*>(launch, 1);
  auto* y = param<float*>(launch, 2);
  auto n = param<int>(launch, 3);
  fastgpu::sim::forEachThread(launch, [&](fastgpu_dim3 block, fastgpu_dim3 thread) {
    auto i = static_cast<int>(fastgpu_sim_global_x(launch, block, thread.x));
    if (i < n) y[i] = a * x[i] + y[i];
  });
  return 0;
}

// __global__ void fill(int* out, int value, int n)
FASTGPU_SIM_TWIN("_Z4fillPiii", fillTwin);
int fillTwin(const fastgpu_sim_launch* launch) {
  auto* out = param<int*>(launch, 0);
  auto value = param<int>(launch, 1);
  auto n = param<int>(launch, 2);
  fastgpu::sim::forEachThread(launch, [&](fastgpu_dim3 block, fastgpu_dim3 thread) {
    auto i = static_cast<int>(fastgpu_sim_global_x(launch, block, thread.x));
    if (i < n) out[i] = value + i;
  });
  return 0;
}

// __global__ void blockSum(const int* in, long long* out, int n): one partial sum per block, in
// the block's dynamic shared memory, as the kernel does.
FASTGPU_SIM_TWIN("_Z8blockSumPKiPxi", blockSumTwin);
int blockSumTwin(const fastgpu_sim_launch* launch) {
  auto* in = param<const int*>(launch, 0);
  auto* out = param<long long*>(launch, 1);
  auto n = param<int>(launch, 2);
  if (launch->dynamic_shared_bytes < launch->block_dim.x * sizeof(long long)) return 1;  // CUDA_ERROR_INVALID_VALUE
  fastgpu::sim::forEachBlock(launch, [&](fastgpu_dim3 block, unsigned char* shared) {
    auto* partial = reinterpret_cast<long long*>(shared);
    for (unsigned t = 0; t < launch->block_dim.x; ++t) {
      auto i = static_cast<int>(fastgpu_sim_global_x(launch, block, t));
      partial[t] = i < n ? in[i] : 0;
    }
    out[block.x] = std::accumulate(partial, partial + launch->block_dim.x, 0LL);
  });
  return 0;
}

FASTGPU_SIM_PLUGIN()
