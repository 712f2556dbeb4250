// Kernels for the parser and cudasim tests. Built with nvcc into a fatbin (compressed and not), a
// cubin and PTX; their twins are in tests/cudasim/test_twins.cpp.
#include <cuda.h>

#include <cstdio>
#include <cuda/barrier>

#include "fastgpu/spin_kernel.cuh"

struct Pair {
  double first;
  char tag[12];
};

__device__ int deviceCounter = 5;
__device__ float deviceTable[8];

// Appends `value` to a log: log[(*length)++] = value. Order tests read the log.
extern "C" __global__ void appendValue(int* log, int* length, int value) {
  if (blockIdx.x == 0 && threadIdx.x == 0) log[(*length)++] = value;
}

// A C++ kernel with a struct, a char and a pointer: checks mangled names and alignment.
__global__ void mixedParams(char c, Pair pair, const int* pointer, short s) {}

// Writes `value` at `address`: a kernel with a stray pointer when the address is not the
// caller's.
extern "C" __global__ void touch(int* address, int value) { *address = value; }

// Writes a given error code into the sim: its twin returns `code`.
extern "C" __global__ void failWith(int code) {}

// Device output: the first thread of each block prints a line; every thread asserts `value` > 0
// (a failed assert is CUDA_ERROR_ASSERT, sticky). The assert is spelled out so that the image
// holds no build path (assert() would embed this file's absolute path, and its size).
extern "C" __device__ void __assertfail(const char* message, const char* file, unsigned line, const char* function,
                                        size_t charSize);
extern "C" __global__ void report(int value) {
  if (threadIdx.x == 0) printf("block %d of %d says %d\n", (int)blockIdx.x, (int)gridDim.x, value);
  if (value <= 0) __assertfail("value > 0", "test_kernels.cu", 37, "report", 1);
}

// Sums the 8x8 tile of ints at column x, row y of the 2-D tensor that `map` describes, loaded by
// the tensor memory accelerator (TMA): *out = the sum, elements outside the tensor read as 0. The
// way CUTLASS and Triton's TMA kernels take a descriptor: by value, __grid_constant__.
extern "C" __global__ void tileSum(const __grid_constant__ CUtensorMap map, int x, int y, int* out) {
  using Barrier = cuda::barrier<cuda::thread_scope_block>;
  __shared__ alignas(128) int tile[8][8];
#pragma nv_diag_suppress static_var_with_dynamic_init
  __shared__ Barrier arrived;
  if (threadIdx.x == 0) {
    init(&arrived, blockDim.x);
    cuda::device::experimental::fence_proxy_async_shared_cta();
  }
  __syncthreads();
  Barrier::arrival_token token;
  if (threadIdx.x == 0) {
    cuda::device::experimental::cp_async_bulk_tensor_2d_global_to_shared(&tile, &map, x, y, arrived);
    token = cuda::device::barrier_arrive_tx(arrived, 1, sizeof(tile));
  } else {
    token = arrived.arrive();
  }
  arrived.wait(std::move(token));
  if (threadIdx.x == 0) {
    int sum = 0;
    for (int row = 0; row < 8; ++row)
      for (int column = 0; column < 8; ++column) sum += tile[row][column];
    *out = sum;
  }
}
