// Kernels for the parser and cudasim tests. Built with nvcc into a fatbin (compressed and not), a
// cubin and PTX; their twins are in tests/cudasim/test_twins.cpp.
#include <cstdio>

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
