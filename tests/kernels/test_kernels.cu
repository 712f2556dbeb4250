// Kernels for the parser and cudasim tests. Built with nvcc into a fatbin (compressed and not), a
// cubin and PTX; their twins are in tests/cudasim/test_twins.cpp.
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
