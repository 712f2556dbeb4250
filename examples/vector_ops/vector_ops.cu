// A CUDA runtime API program: kernels launched with <<<>>>, cudaMalloc, cudaMemcpy, pinned host
// memory, streams and events. Prints what it computed; exits non-zero on a wrong result.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <cuda_runtime.h>

#define CHECK(call)                                                                        \
  do {                                                                                     \
    cudaError_t status_ = (call);                                                          \
    if (status_ != cudaSuccess) {                                                          \
      std::printf("%s failed: %s (%d)\n", #call, cudaGetErrorName(status_), (int)status_); \
      return 1;                                                                            \
    }                                                                                      \
  } while (0)

__global__ void saxpy(float a, const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

__global__ void fill(int* out, int value, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = value + i;
}

// Sums each block's slice into out[blockIdx.x], using dynamic shared memory.
__global__ void blockSum(const int* in, long long* out, int n) {
  extern __shared__ long long partial[];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  partial[threadIdx.x] = i < n ? in[i] : 0;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}

int main() {
  int devices = 0;
  CHECK(cudaGetDeviceCount(&devices));
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("devices: %d, device 0 compute capability %d.%d\n", devices, prop.major, prop.minor);

  // saxpy through pageable memory and the default stream.
  const int n = 1 << 16;
  std::vector<float> x(n), y(n);
  for (int i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i);
    y[i] = 1.0f;
  }
  float *dx = nullptr, *dy = nullptr;
  CHECK(cudaMalloc(&dx, n * sizeof(float)));
  CHECK(cudaMalloc(&dy, n * sizeof(float)));
  CHECK(cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(dy, y.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  saxpy<<<(n + 255) / 256, 256>>>(2.0f, dx, dy, n);
  CHECK(cudaGetLastError());
  CHECK(cudaMemcpy(y.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost));
  double checksum = 0;
  for (int i = 0; i < n; ++i) {
    if (y[i] != 2.0f * i + 1.0f) {
      std::printf("saxpy: wrong result at %d: %f\n", i, y[i]);
      return 1;
    }
    checksum += y[i];
  }
  std::printf("saxpy: n=%d checksum=%.1f\n", n, checksum);

  // fill + block sums on a created stream, with pinned memory, events and async copies.
  const int m = 4096, threads = 256, blocks = m / threads;
  cudaStream_t stream;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  int* dvalues = nullptr;
  long long* dsums = nullptr;
  long long* hsums = nullptr;
  CHECK(cudaMalloc(&dvalues, m * sizeof(int)));
  CHECK(cudaMalloc(&dsums, blocks * sizeof(long long)));
  CHECK(cudaMallocHost(&hsums, blocks * sizeof(long long)));
  CHECK(cudaEventRecord(start, stream));
  fill<<<blocks, threads, 0, stream>>>(dvalues, 7, m);
  blockSum<<<blocks, threads, threads * sizeof(long long), stream>>>(dvalues, dsums, m);
  CHECK(cudaMemcpyAsync(hsums, dsums, blocks * sizeof(long long), cudaMemcpyDeviceToHost, stream));
  CHECK(cudaEventRecord(stop, stream));
  CHECK(cudaEventSynchronize(stop));
  float ms = -1;
  CHECK(cudaEventElapsedTime(&ms, start, stop));
  long long total = 0;
  for (int b = 0; b < blocks; ++b) total += hsums[b];
  long long expected = 7LL * m + static_cast<long long>(m) * (m - 1) / 2;
  if (total != expected || ms < 0) {
    std::printf("blockSum: total %lld, expected %lld (elapsed %f ms)\n", total, expected, ms);
    return 1;
  }
  std::printf("blockSum: blocks=%d total=%lld elapsed=%s\n", blocks, total, ms >= 0 ? "measured" : "missing");

  // Unified copies between pointers the runtime classifies itself.
  CHECK(cudaMemcpy(dvalues, hsums, sizeof(long long), cudaMemcpyDefault));
  long long back = 0;
  CHECK(cudaMemcpy(&back, dvalues, sizeof(back), cudaMemcpyDefault));
  std::printf("cudaMemcpyDefault round trip: %s\n", back == hsums[0] ? "ok" : "WRONG");
  if (back != hsums[0]) return 1;

  CHECK(cudaFreeHost(hsums));
  CHECK(cudaFree(dsums));
  CHECK(cudaFree(dvalues));
  CHECK(cudaFree(dx));
  CHECK(cudaFree(dy));
  CHECK(cudaEventDestroy(start));
  CHECK(cudaEventDestroy(stop));
  CHECK(cudaStreamDestroy(stream));
  std::printf("vector_ops: all results correct\n");
  return 0;
}
