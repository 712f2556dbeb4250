// Copies that span many chunks, in every direction and form, checked byte for byte. Prints the
// same lines natively and through FastGPU.
#include <cuda.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "driver_check.h"
#include "tests/support/byte_pattern.h"

int main() {
  const std::size_t bytes = (40u << 20) + 12345;  // five chunks and a ragged end
  std::vector<unsigned char> source(bytes), back(bytes);
  for (std::size_t i = 0; i < bytes; ++i) source[i] = fastgpu::testing::patternByte(i);
  CHECK(cuInit(0));
  CUcontext context;
  CHECK(cuDevicePrimaryCtxRetain(&context, 0));
  CHECK(cuCtxSetCurrent(context));
  CUdeviceptr a, b;
  CHECK(cuMemAlloc(&a, bytes));
  CHECK(cuMemAlloc(&b, bytes));

  CHECK(cuMemcpyHtoD(a, source.data(), bytes));
  CHECK(cuMemcpyDtoD(b, a, bytes));
  CHECK(cuMemcpyDtoH(back.data(), b, bytes));
  bool ok = back == source;
  std::printf("synchronous: %s\n", ok ? "identical" : "DIFFERENT");

  CUstream stream;
  CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  void *pinned, *pinnedBack;
  CHECK(cuMemAllocHost(&pinned, bytes));
  CHECK(cuMemAllocHost(&pinnedBack, bytes));
  std::memcpy(pinned, source.data(), bytes);
  std::memset(pinnedBack, 0, bytes);
  CHECK(cuMemsetD8Async(a, 0, bytes, stream));
  CHECK(cuMemcpyHtoDAsync(a, pinned, bytes, stream));
  CHECK(cuMemcpyDtoHAsync(pinnedBack, a, bytes, stream));
  CHECK(cuStreamSynchronize(stream));
  bool pinnedOk = std::memcmp(pinnedBack, source.data(), bytes) == 0;
  ok = ok && pinnedOk;
  std::printf("asynchronous through pinned memory: %s\n", pinnedOk ? "identical" : "DIFFERENT");
  CHECK(cuMemFreeHost(pinnedBack));

  std::fill(back.begin(), back.end(), 0);
  CHECK(cuMemcpy(b, reinterpret_cast<CUdeviceptr>(source.data()), bytes));
  CHECK(cuMemcpy(reinterpret_cast<CUdeviceptr>(back.data()), b, bytes));
  ok = ok && back == source;
  std::printf("unified: %s\n", back == source ? "identical" : "DIFFERENT");

  CHECK(cuMemFreeHost(pinned));
  CHECK(cuStreamDestroy(stream));
  CHECK(cuMemFree(a));
  CHECK(cuMemFree(b));
  std::printf("big_copy: %s\n", ok ? "all copies correct" : "WRONG");
  return ok ? 0 : 1;
}
