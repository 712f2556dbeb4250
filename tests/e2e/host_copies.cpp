// Copies between host memory and the device — page-locked, synchronous and asynchronous, and
// pageable, synchronous — checked byte for byte: with FASTGPU_STATS=1, host_copy_traffic.sh counts
// what crossed the connection (nothing but calls over shared memory, every byte over a socket).
#include <cuda.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "driver_check.h"

int main() {
  const std::size_t bytes = 64u << 20;
  CHECK(cuInit(0));
  CUcontext context;
  CHECK(cuDevicePrimaryCtxRetain(&context, 0));
  CHECK(cuCtxSetCurrent(context));
  CUstream stream;
  CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CUdeviceptr device;
  CHECK(cuMemAlloc(&device, bytes));
  void *pinned, *back;
  CHECK(cuMemAllocHost(&pinned, bytes));
  CHECK(cuMemHostAlloc(&back, bytes, CU_MEMHOSTALLOC_PORTABLE));
  bool ok = true;
  for (unsigned round = 0; round < 4; ++round) {
    auto* values = static_cast<unsigned*>(pinned);
    for (std::size_t i = 0; i < bytes / 4; ++i) values[i] = static_cast<unsigned>(i * 2654435761u) ^ round;
    if (round % 2 == 0) {
      CHECK(cuMemcpyHtoD(device, pinned, bytes));
      CHECK(cuMemcpyDtoH(back, device, bytes));
    } else {
      CHECK(cuMemcpyHtoDAsync(device, pinned, bytes, stream));
      CHECK(cuMemcpyDtoHAsync(back, device, bytes, stream));
      CHECK(cuStreamSynchronize(stream));
    }
    ok = ok && std::memcmp(pinned, back, bytes) == 0;
  }
  std::vector<unsigned char> pageable(bytes), pageableBack(bytes);
  for (std::size_t i = 0; i < bytes; ++i) pageable[i] = static_cast<unsigned char>(i * 7 + i / 4093);
  CHECK(cuMemcpyHtoD(device, pageable.data(), bytes));
  CHECK(cuMemcpyDtoH(pageableBack.data(), device, bytes));
  ok = ok && pageable == pageableBack;
  CHECK(cuMemFreeHost(pinned));
  CHECK(cuMemFreeHost(back));
  CHECK(cuMemFree(device));
  CHECK(cuStreamDestroy(stream));
  std::printf("host_copies: 320 MiB each way %s\n", ok ? "correct" : "WRONG");
  return ok ? 0 : 1;
}
