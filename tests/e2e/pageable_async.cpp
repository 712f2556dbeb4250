// Asynchronous copies of pageable memory, as the driver documents them: one to the device returns
// once the source's bytes are taken (the program may reuse the buffer at once, the copy still
// delivers what it held), one to the host returns once the bytes are there. Two copies on
// different streams back to back must not mix their bytes (over shared memory both pass through
// one staging area). Prints the same lines natively and through FastGPU.
#include <cuda.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "driver_check.h"
#include "tests/support/byte_pattern.h"

namespace {

std::vector<unsigned char> pattern(std::size_t bytes, unsigned char seed) {
  std::vector<unsigned char> data(bytes);
  for (std::size_t i = 0; i < bytes; ++i) data[i] = fastgpu::testing::patternByte(i, seed);
  return data;
}

const char* verdict(bool same) { return same ? "identical" : "DIFFERENT"; }

}  // namespace

int main() {
  const std::size_t bytes = (20u << 20) + 4321;  // more than one staging area's half, a ragged end
  const auto first = pattern(bytes, 1), second = pattern(bytes, 2);
  CHECK(cuInit(0));
  CUcontext context;
  CHECK(cuDevicePrimaryCtxRetain(&context, 0));
  CHECK(cuCtxSetCurrent(context));
  CUdeviceptr a, b;
  CHECK(cuMemAlloc(&a, bytes));
  CHECK(cuMemAlloc(&b, bytes));
  CUstream stream, other;
  CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CHECK(cuStreamCreate(&other, CU_STREAM_NON_BLOCKING));

  // The source is reused as soon as the call returns; then a copy on another stream follows.
  std::vector<unsigned char> source = first;
  CHECK(cuMemcpyHtoDAsync(a, source.data(), bytes, stream));
  std::memset(source.data(), 0xEE, bytes);
  std::vector<unsigned char> source2 = second;
  CHECK(cuMemcpyHtoDAsync(b, source2.data(), bytes, other));
  CHECK(cuStreamSynchronize(stream));
  CHECK(cuStreamSynchronize(other));

  // To pageable memory: the bytes are there when the call returns, before any synchronization.
  std::vector<unsigned char> back(bytes, 0);
  CHECK(cuMemcpyDtoHAsync(back.data(), a, bytes, stream));
  bool ok = back == first;
  std::printf("to the device, source reused at once, then read back: %s\n", verdict(back == first));
  CHECK(cuMemcpyDtoHAsync(back.data(), b, bytes, other));
  ok = ok && back == second;
  std::printf("the copy on the other stream: %s\n", verdict(back == second));

  // A synchronous copy right after an asynchronous one on a stream.
  CHECK(cuMemcpyHtoDAsync(a, second.data(), bytes, stream));
  CHECK(cuMemcpyHtoD(b, first.data(), bytes));
  CHECK(cuStreamSynchronize(stream));
  CHECK(cuMemcpyDtoH(back.data(), a, bytes));
  bool swapped = back == second;
  CHECK(cuMemcpyDtoH(back.data(), b, bytes));
  swapped = swapped && back == first;
  ok = ok && swapped;
  std::printf("an asynchronous copy, then a synchronous one: %s\n", verdict(swapped));

  CHECK(cuStreamDestroy(stream));
  CHECK(cuStreamDestroy(other));
  CHECK(cuMemFree(a));
  CHECK(cuMemFree(b));
  std::printf("pageable_async: %s\n", ok ? "all copies correct" : "WRONG");
  return ok ? 0 : 1;
}
