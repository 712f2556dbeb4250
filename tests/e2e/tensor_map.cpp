// A TMA descriptor encoded and passed to a kernel, as CUTLASS, cuBLASLt and Triton's TMA kernels
// use one: cuTensorMapEncodeTiled over a 2-D int32 tensor, the map passed by value to a kernel
// whose tensor memory accelerator loads 8x8 tiles (inside the tensor, across its edge, before its
// start), the address replaced, the launch captured and replayed, and encodings the driver refuses.
// Every sum is checked against the host's. A run through FastGPU must print the same.
//   tensor_map FATBIN     (the test kernels; their twins must be loaded)
#include <cuda.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "call_report.h"
#include "test_kernels_setup.h"

using fastgpu::e2e::failures;
using fastgpu::e2e::report;

namespace {

constexpr int kColumns = 40, kRows = 20;
constexpr std::size_t kPitch = kColumns * sizeof(int);

CUfunction tileSum;
CUdeviceptr out;
CUstream stream;

// The host's answer: the 8x8 box at (x, y) of `values`, 0 outside it.
int expectedSum(const std::vector<int>& values, int x, int y) {
  int sum = 0;
  for (int row = y; row < y + 8; ++row)
    for (int column = x; column < x + 8; ++column)
      if (row >= 0 && row < kRows && column >= 0 && column < kColumns) sum += values[row * kColumns + column];
  return sum;
}

CUresult encode(CUtensorMap* map, CUdeviceptr base, std::size_t pitch) {
  cuuint64_t dims[] = {kColumns, kRows};
  cuuint64_t strides[] = {pitch};
  cuuint32_t box[] = {8, 8};
  cuuint32_t elementStrides[] = {1, 1};
  return cuTensorMapEncodeTiled(map, CU_TENSOR_MAP_DATA_TYPE_INT32, 2, reinterpret_cast<void*>(base), dims, strides,
                                box, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
                                CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
}

CUresult launch(const CUtensorMap& map, int x, int y) {
  void* params[] = {const_cast<CUtensorMap*>(&map), &x, &y, &out};
  return cuLaunchKernel(tileSum, 1, 1, 1, 32, 1, 1, 0, stream, params, nullptr);
}

void sumAt(const CUtensorMap& map, const std::vector<int>& values, int x, int y) {
  report("cuLaunchKernel(tileSum)", launch(map, x, y));
  int sum = -1;
  report("cuMemcpyDtoHAsync", cuMemcpyDtoHAsync(&sum, out, sizeof(sum), stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  std::printf("tile at (%d, %d): sum %d, the host's %s\n", x, y, sum, sum == expectedSum(values, x, y) ? "too" : "DIFFERS");
}

}  // namespace

int main(int argc, char** argv) {
  CUcontext context;
  CUmodule module;
  CUdeviceptr first, second;
  if (!fastgpu::e2e::loadTestKernels(argc, argv, context, module) ||
      cuModuleGetFunction(&tileSum, module, "tileSum") != CUDA_SUCCESS ||
      cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS ||
      cuMemAlloc(&first, kPitch * kRows) != CUDA_SUCCESS || cuMemAlloc(&second, kPitch * kRows) != CUDA_SUCCESS ||
      cuMemAlloc(&out, sizeof(int)) != CUDA_SUCCESS) {
    std::printf("tensor_map: setup failed\n");
    return 1;
  }
  std::vector<int> a(kColumns * kRows), b(kColumns * kRows);
  for (int row = 0; row < kRows; ++row) {
    for (int column = 0; column < kColumns; ++column) {
      a[row * kColumns + column] = row * 100 + column;
      b[row * kColumns + column] = 7 - column * row;
    }
  }
  report("cuMemcpyHtoD(first)", cuMemcpyHtoD(first, a.data(), kPitch * kRows));
  report("cuMemcpyHtoD(second)", cuMemcpyHtoD(second, b.data(), kPitch * kRows));

  alignas(64) CUtensorMap map{}, again{};
  report("cuTensorMapEncodeTiled", encode(&map, first, kPitch));
  report("cuTensorMapEncodeTiled(the same again)", encode(&again, first, kPitch));
  std::printf("the same request encodes the same map: %d\n", std::memcmp(&map, &again, sizeof(map)) == 0);
  sumAt(map, a, 0, 0);
  sumAt(map, a, 16, 8);
  sumAt(map, a, 36, 16);  // across the tensor's far edge
  sumAt(map, a, -4, -6);  // before its start

  report("cuTensorMapReplaceAddress", cuTensorMapReplaceAddress(&map, reinterpret_cast<void*>(second)));
  sumAt(map, b, 8, 4);

  // A captured launch keeps the map it was given; replays read the memory as it is then.
  report("cuStreamBeginCapture", cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  report("  capture cuLaunchKernel(tileSum)", launch(map, 24, 12));
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  report("cuStreamEndCapture", cuStreamEndCapture(stream, &graph));
  report("cuGraphInstantiateWithFlags", cuGraphInstantiateWithFlags(&exec, graph, 0));
  for (int replay = 1; replay <= 2; ++replay) {
    b[12 * kColumns + 24] += 1000;
    report("cuMemcpyHtoD(second)", cuMemcpyHtoD(second, b.data(), kPitch * kRows));
    report("cuGraphLaunch", cuGraphLaunch(exec, stream));
    int sum = -1;
    report("cuMemcpyDtoHAsync", cuMemcpyDtoHAsync(&sum, out, sizeof(sum), stream));
    report("cuStreamSynchronize", cuStreamSynchronize(stream));
    std::printf("replay %d: sum %d, the host's %s\n", replay, sum, sum == expectedSum(b, 24, 12) ? "too" : "DIFFERS");
  }
  report("cuGraphExecDestroy", cuGraphExecDestroy(exec));
  report("cuGraphDestroy", cuGraphDestroy(graph));

  // What the driver refuses: a misaligned address, a stride that is not a multiple of 16.
  CUtensorMap refused{};
  report("cuTensorMapEncodeTiled(misaligned address)", encode(&refused, first + 4, kPitch), CUDA_ERROR_INVALID_VALUE);
  report("cuTensorMapEncodeTiled(stride of 8 bytes)", encode(&refused, first, 8), CUDA_ERROR_INVALID_VALUE);
  if (failures == 0) std::printf("tensor_map: done\n");
  return failures == 0 ? 0 : 1;
}
