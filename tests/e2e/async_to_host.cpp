// Asynchronous device-to-host copies into pinned memory, as the driver makes them: the call
// returns before the copy is done (a query right after it says CUDA_ERROR_NOT_READY while a long
// kernel runs ahead of it), and the bytes are in place once the stream's work is known complete
// (synchronize, event, query, a host function queued after the copy). Prints the same natively
// and through FastGPU.
//   async_to_host FATBIN          the checks, ending with "async_to_host: done"
//   async_to_host FATBIN COUNT    COUNT small copies and one synchronize (round_trips.sh)
#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "test_kernels_setup.h"

#define CHECK(call)                                                   \
  do {                                                                \
    CUresult status_ = (call);                                        \
    if (status_ != CUDA_SUCCESS) {                                    \
      std::printf("%s failed: %d\n", #call, static_cast<int>(status_)); \
      std::exit(1);                                                   \
    }                                                                 \
  } while (0)

namespace {

CUfunction spin;

// Fills device memory with a pattern that differs per `seed`.
void fill(CUdeviceptr device, std::size_t words, unsigned seed, CUstream stream) {
  std::vector<unsigned> pattern(words);
  for (std::size_t i = 0; i < words; ++i) pattern[i] = seed * 2654435761u + static_cast<unsigned>(i);
  CHECK(cuMemcpyHtoD(device, pattern.data(), words * 4));
  CHECK(cuStreamSynchronize(stream));
}

bool holds(const void* host, std::size_t words, unsigned seed) {
  const auto* values = static_cast<const unsigned*>(host);
  for (std::size_t i = 0; i < words; ++i) {
    if (values[i] != seed * 2654435761u + static_cast<unsigned>(i)) return false;
  }
  return true;
}

void report(const char* what, bool ok) { std::printf("%s: %s\n", what, ok ? "identical" : "WRONG"); }

void spinFor(unsigned long long micros, CUstream stream) {
  void* params[] = {&micros};
  CHECK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr));
}

// The copy waits behind a long kernel: the call returns, the stream is not done, and after the
// synchronize the bytes are there.
void behindALongKernel(CUdeviceptr device, void* pinned, CUstream stream) {
  const std::size_t words = 1 << 18;
  fill(device, words, 1, stream);
  std::memset(pinned, 0, words * 4);
  spinFor(1000000, stream);
  CHECK(cuMemcpyDtoHAsync(pinned, device, words * 4, stream));
  CUresult query = cuStreamQuery(stream);
  std::printf("query behind a long kernel: %s\n", query == CUDA_ERROR_NOT_READY ? "not ready" : "DONE TOO EARLY");
  CHECK(cuStreamSynchronize(stream));
  report("after the synchronize", holds(pinned, words, 1));
}

// Polling cuStreamQuery until the stream is done: then the bytes are there.
void pollingTheStream(CUdeviceptr device, void* pinned, CUstream stream) {
  const std::size_t words = 1 << 16;
  fill(device, words, 2, stream);
  spinFor(20000, stream);
  CHECK(cuMemcpyDtoHAsync(pinned, device, words * 4, stream));
  CUresult query;
  while ((query = cuStreamQuery(stream)) == CUDA_ERROR_NOT_READY) {
  }
  CHECK(query);
  report("after the stream query said done", holds(pinned, words, 2));
}

// Many copies into pinned and registered memory, then an event recorded behind them.
void manyThroughAnEvent(CUdeviceptr device, void* pinned, CUstream stream) {
  const std::size_t words = 1 << 20;
  fill(device, words, 3, stream);
  std::vector<unsigned> registered(words);
  CHECK(cuMemHostRegister(registered.data(), words * 4, 0));
  const std::size_t piece = 4096;
  for (std::size_t at = 0; at < words; at += piece) {
    void* target = (at / piece) % 2 == 0 ? static_cast<void*>(static_cast<unsigned*>(pinned) + at)
                                           : static_cast<void*>(registered.data() + at);
    CHECK(cuMemcpyDtoHAsync(target, device + at * 4, piece * 4, stream));
  }
  CUevent done;
  CHECK(cuEventCreate(&done, CU_EVENT_DISABLE_TIMING));
  CHECK(cuEventRecord(done, stream));
  CHECK(cuEventSynchronize(done));
  bool ok = true;
  const auto* values = static_cast<const unsigned*>(pinned);
  for (std::size_t i = 0; i < words; ++i) {
    unsigned seen = (i / piece) % 2 == 0 ? values[i] : registered[i];
    ok = ok && seen == 3 * 2654435761u + static_cast<unsigned>(i);
  }
  report("many copies after the event", ok);
  CHECK(cuEventDestroy(done));
  CHECK(cuMemHostUnregister(registered.data()));
}

// More bytes in flight than FastGPU keeps pending (the rest is copied synchronously).
void moreThanTheBound(CUdeviceptr device, void* pinned, std::size_t words, CUstream stream) {
  fill(device, words, 4, stream);
  std::memset(pinned, 0, words * 4);
  const std::size_t piece = 2 << 20;
  for (std::size_t at = 0; at < words; at += piece) {
    CHECK(cuMemcpyDtoHAsync(static_cast<unsigned*>(pinned) + at, device + at * 4, piece * 4, stream));
  }
  CHECK(cuCtxSynchronize());
  report("96 MiB in 8 MiB copies", holds(pinned, words, 4));
}

struct Seen {
  const void* buffer;
  std::size_t words;
  bool ok;
};

// A host function queued after the copy sees its bytes.
void aHostFunctionAfterTheCopy(CUdeviceptr device, void* pinned, CUstream stream) {
  const std::size_t words = 1 << 16;
  fill(device, words, 5, stream);
  spinFor(20000, stream);
  CHECK(cuMemcpyDtoHAsync(pinned, device, words * 4, stream));
  Seen seen{pinned, words, false};
  CHECK(cuLaunchHostFunc(
      stream, [](void* data) {
        auto* what = static_cast<Seen*>(data);
        what->ok = holds(what->buffer, what->words, 5);
      },
      &seen));
  CHECK(cuStreamSynchronize(stream));
  report("in a host function queued after the copy", seen.ok);
}

// Pinned memory freed while a copy into it is pending, and a new allocation (perhaps at the same
// address) written meanwhile: the new memory keeps what the program wrote.
void freedBeforeTheCopyLands(CUdeviceptr device, CUstream stream) {
  const std::size_t words = 1 << 16;
  fill(device, words, 6, stream);
  void* doomed;
  CHECK(cuMemAllocHost(&doomed, words * 4));
  spinFor(20000, stream);
  CHECK(cuMemcpyDtoHAsync(doomed, device, words * 4, stream));
  CHECK(cuMemFreeHost(doomed));
  void* fresh;
  CHECK(cuMemAllocHost(&fresh, words * 4));
  std::memset(fresh, 0x5a, words * 4);
  CHECK(cuStreamSynchronize(stream));
  bool kept = true;
  for (std::size_t i = 0; i < words * 4; ++i) kept = kept && static_cast<unsigned char*>(fresh)[i] == 0x5a;
  std::printf("memory allocated after a freed copy target: %s\n", kept ? "kept" : "OVERWRITTEN");
  CHECK(cuMemFreeHost(fresh));
}

// Freeing pinned memory waits for the device's work, as the driver's cuMemFreeHost does, also
// where the device cannot reach the memory (over a socket it is the client's alone).
void freeingWaitsForTheDevice(CUstream stream) {
  void* unused;
  CHECK(cuMemAllocHost(&unused, 4096));
  spinFor(300000, stream);
  CHECK(cuMemFreeHost(unused));
  std::printf("the stream after cuMemFreeHost: %s\n", cuStreamQuery(stream) == CUDA_SUCCESS ? "idle" : "STILL BUSY");
}

// Registered memory unregistered while a copy into it is pending: unregistering waits for the
// copy, so the bytes are in the program's memory afterwards.
void unregisteredBeforeTheCopyLands(CUdeviceptr device, CUstream stream) {
  const std::size_t words = 1 << 16;
  fill(device, words, 9, stream);
  std::vector<unsigned> registered(words);
  CHECK(cuMemHostRegister(registered.data(), words * 4, 0));
  spinFor(20000, stream);
  CHECK(cuMemcpyDtoHAsync(registered.data(), device, words * 4, stream));
  CHECK(cuMemHostUnregister(registered.data()));
  report("memory unregistered before the copy landed", holds(registered.data(), words, 9));
  CHECK(cuStreamSynchronize(stream));
}

// An asynchronous copy, then a synchronous one to the same bytes: the later one wins.
void laterCopyWins(CUdeviceptr device, void* pinned) {
  const std::size_t words = 1 << 16;
  fill(device, words, 7, nullptr);
  fill(device + words * 4, words, 8, nullptr);
  CHECK(cuMemcpyDtoHAsync(pinned, device, words * 4, nullptr));
  CHECK(cuMemcpyDtoH(pinned, device + words * 4, words * 4));
  report("a synchronous copy after an asynchronous one", holds(pinned, words, 8));
}

// Copies the driver refuses are refused at once, as natively.
void refused(CUdeviceptr device, void* pinned, std::size_t bytes, CUstream stream) {
  std::printf("past the allocation's end: %d\n", static_cast<int>(cuMemcpyDtoHAsync(pinned, device + 4, bytes, stream)));
  std::printf("from a freed address: %d\n", static_cast<int>(cuMemcpyDtoHAsync(pinned, 16, 64, stream)));
  CHECK(cuStreamSynchronize(stream));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: async_to_host FATBIN [COUNT]\n");
    return 2;
  }
  CUcontext context;
  CUmodule module;
  if (!fastgpu::e2e::loadTestKernels(argv[1], context, module)) {
    std::printf("the test kernels did not load\n");
    return 1;
  }
  CHECK(cuModuleGetFunction(&spin, module, "fastgpu_spin"));
  CUstream stream;
  CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  const std::size_t words = 24 << 20;  // 96 MiB
  CUdeviceptr device;
  CHECK(cuMemAlloc(&device, words * 4));
  void* pinned;
  CHECK(cuMemAllocHost(&pinned, words * 4));

  if (argc == 3) {
    long count = std::atol(argv[2]);
    for (long i = 0; i < count; ++i) {
      CHECK(cuMemcpyDtoHAsync(static_cast<char*>(pinned) + i * 4096, device + i * 4096, 4096, stream));
    }
    CHECK(cuStreamSynchronize(stream));
    std::printf("copied %ld times to pinned memory\n", count);
    return 0;
  }
  behindALongKernel(device, pinned, stream);
  pollingTheStream(device, pinned, stream);
  manyThroughAnEvent(device, pinned, stream);
  moreThanTheBound(device, pinned, words, stream);
  aHostFunctionAfterTheCopy(device, pinned, stream);
  freedBeforeTheCopyLands(device, stream);
  unregisteredBeforeTheCopyLands(device, stream);
  laterCopyWins(device, pinned);
  refused(device, pinned, words * 4, stream);
  freeingWaitsForTheDevice(stream);
  CHECK(cuMemFreeHost(pinned));
  CHECK(cuMemFree(device));
  CHECK(cuStreamDestroy(stream));
  std::printf("async_to_host: done\n");
  return 0;
}
