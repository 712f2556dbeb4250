// Exercises CUDA errors on purpose and prints the codes it gets, so that runs on different
// drivers (cudasim, FastGPU remoting, a real GPU) can be compared line by line. Exits non-zero
// only when an error that must happen does not.
#include <cstdio>

#include <cuda_runtime.h>

static int failures = 0;

static void expect(const char* what, cudaError_t got, cudaError_t wanted) {
  std::printf("%-44s -> %s (%d)\n", what, cudaGetErrorName(got), static_cast<int>(got));
  if (got != wanted) {
    std::printf("  expected %s (%d)\n", cudaGetErrorName(wanted), static_cast<int>(wanted));
    ++failures;
  }
}

// For errors whose exact code differs between drivers: any failure will do.
static void expectFailure(const char* what, cudaError_t got) {
  std::printf("%-44s -> %s (%d)\n", what, cudaGetErrorName(got), static_cast<int>(got));
  if (got == cudaSuccess) {
    std::printf("  expected an error\n");
    ++failures;
  }
}

__global__ void touch(int* p) { *p = 1; }

int main() {
  // Out of memory: more than any device has.
  void* huge = nullptr;
  expect("cudaMalloc(1 PiB)", cudaMalloc(&huge, 1ULL << 50), cudaErrorMemoryAllocation);

  // Invalid pointers: a copy from an address that was never allocated, a free of a pointer
  // that is not an allocation's start, a copy after free.
  int* device = nullptr;
  expect("cudaMalloc(4 KiB)", cudaMalloc(&device, 4096), cudaSuccess);
  int value = 0;
  expect("cudaMemcpy beyond the allocation", cudaMemcpy(&value, device + 4096, sizeof(value), cudaMemcpyDeviceToHost),
         cudaErrorInvalidValue);
  expect("cudaFree(inside an allocation)", cudaFree(device + 1), cudaErrorInvalidValue);
  expect("cudaFree(allocation)", cudaFree(device), cudaSuccess);
  expect("cudaMemcpy from freed memory", cudaMemcpy(&value, device, sizeof(value), cudaMemcpyDeviceToHost),
         cudaErrorInvalidValue);

  // Handles: created and destroyed cleanly. (Using a destroyed handle is undefined in CUDA: the
  // real driver crashes. FastGPU refuses it instead; tests/interposer checks that.)
  cudaStream_t stream;
  expect("cudaStreamCreate", cudaStreamCreate(&stream), cudaSuccess);
  expect("cudaStreamDestroy", cudaStreamDestroy(stream), cudaSuccess);
  cudaEvent_t event;
  expect("cudaEventCreate", cudaEventCreate(&event), cudaSuccess);
  expect("cudaEventQuery(new event)", cudaEventQuery(event), cudaSuccess);
  expect("cudaEventDestroy", cudaEventDestroy(event), cudaSuccess);

  // A bad launch configuration.
  touch<<<1, 4096>>>(nullptr);
  expectFailure("launch with 4096 threads per block", cudaGetLastError());

  std::printf("errors: %s\n", failures == 0 ? "every error as expected" : "UNEXPECTED RESULTS");
  return failures == 0 ? 0 : 1;
}
