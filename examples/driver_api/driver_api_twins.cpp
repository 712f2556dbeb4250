// Host twins of driver_api/kernels.cu, for cudasim.
#include "fastgpu/sim_twin.hpp"

using fastgpu::sim::param;

namespace {
struct Affine {
  float scale;
  float offset;
  int pad[2];
};
}  // namespace

FASTGPU_SIM_TWIN("affine", affineTwin);
int affineTwin(const fastgpu_sim_launch* launch) {
  auto* data = param<float*>(launch, 0);
  auto map = param<Affine>(launch, 1);
  auto n = param<unsigned>(launch, 2);
  auto* launchCount = static_cast<int*>(launch->global_address(launch, "launchCount", nullptr));
  if (launchCount == nullptr) return 500;  // CUDA_ERROR_NOT_FOUND
  fastgpu::sim::forEachThread(launch, [&](fastgpu_dim3 block, fastgpu_dim3 thread) {
    auto i = fastgpu_sim_global_x(launch, block, thread.x);
    if (i < n) data[i] = data[i] * map.scale + map.offset;
    if (i == 0) ++*launchCount;
  });
  return 0;
}

FASTGPU_SIM_TWIN("addRow", addRowTwin);
int addRowTwin(const fastgpu_sim_launch* launch) {
  auto* base = param<char*>(launch, 0);
  auto pitch = param<size_t>(launch, 1);
  auto width = param<unsigned>(launch, 2);
  auto height = param<unsigned>(launch, 3);
  fastgpu::sim::forEachThread(launch, [&](fastgpu_dim3 block, fastgpu_dim3 thread) {
    unsigned x = block.x * launch->block_dim.x + thread.x;
    unsigned y = block.y * launch->block_dim.y + thread.y;
    if (x < width && y < height) reinterpret_cast<int*>(base + y * pitch)[x] += static_cast<int>(y);
  });
  return 0;
}

FASTGPU_SIM_PLUGIN()
