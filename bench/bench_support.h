// What the benchmarks share: loading a driver (FastGPU's interposer or cudasim) into the
// process, timing, and the measurements more than one benchmark makes.
#pragma once

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <optional>
#include <vector>

#include "cudaabi/driver_symbols.h"

namespace fastgpu::bench {

using Clock = std::chrono::steady_clock;
using fastgpu::cudaabi::DriverTable;

inline double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

inline DriverTable loadDriver(const std::string& path) {
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    std::fprintf(stderr, "cannot load %s: %s\n", path.c_str(), dlerror());
    std::exit(1);
  }
  auto table = fastgpu::cudaabi::loadDriverTable(library, path);
  if (!table || table->cuInit(0) != CUDA_SUCCESS) {
    std::fprintf(stderr, "cuInit failed on %s\n", path.c_str());
    std::exit(1);
  }
  return *table;
}

inline void check(CUresult result, const char* what) {
  if (result != CUDA_SUCCESS) {
    std::fprintf(stderr, "%s failed: %d\n", what, static_cast<int>(result));
    std::exit(1);
  }
}

inline CUcontext useDevice(const DriverTable& d) {
  CUcontext context = nullptr;
  check(d.cuDevicePrimaryCtxRetain(&context, 0), "cuDevicePrimaryCtxRetain");
  check(d.cuCtxSetCurrent(context), "cuCtxSetCurrent");
  return context;
}

inline double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

inline double percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  return samples[static_cast<std::size_t>(p * static_cast<double>(samples.size() - 1))];
}

// Microseconds of `iterations` synchronous calls (cuStreamQuery), after 100 to warm up.
inline std::vector<double> roundTrips(const DriverTable& d, int iterations) {
  CUstream stream;
  check(d.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  std::vector<double> samples;
  for (int i = 0; i < iterations + 100; ++i) {
    auto start = Clock::now();
    check(d.cuStreamQuery(stream), "cuStreamQuery");
    if (i >= 100) samples.push_back(seconds(Clock::now() - start) * 1e6);
  }
  check(d.cuStreamDestroy_v2(stream), "cuStreamDestroy");
  return samples;
}

// Launches per second of `launches` empty kernels and one synchronize.
inline double launchRate(const DriverTable& d, const std::vector<char>& image, int launches) {
  useDevice(d);
  CUmodule module;
  check(d.cuModuleLoadData(&module, image.data()), "cuModuleLoadData");
  CUfunction spin;
  check(d.cuModuleGetFunction(&spin, module, "fastgpu_spin"), "cuModuleGetFunction");
  unsigned long long micros = 0;
  void* params[] = {&micros};
  check(d.cuCtxSynchronize(), "cuCtxSynchronize");
  auto start = Clock::now();
  for (int i = 0; i < launches; ++i) check(d.cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr), "launch");
  auto issued = Clock::now();
  check(d.cuCtxSynchronize(), "cuCtxSynchronize");
  auto done = Clock::now();
  std::printf("  %d launches issued in %.1f ms, all done after %.1f ms\n", launches, seconds(issued - start) * 1e3,
              seconds(done - start) * 1e3);
  return launches / seconds(done - start);
}

struct CopyRates {
  double toDevice = 0;  // GB/s
  double toHost = 0;
};

// One copy of `bytes` each way between `host` and device memory (after a warm-up), checked: `back`
// receives what came back. Synchronous copies, or with `stream`, asynchronous ones on it each
// followed by cuStreamSynchronize.
inline CopyRates measureCopies(const DriverTable& d, std::size_t bytes, char* host, char* back,
                               std::optional<CUstream> stream = std::nullopt) {
  auto toDevice = [&](CUdeviceptr device) {
    if (!stream) return d.cuMemcpyHtoD_v2(device, host, bytes);
    CUresult result = d.cuMemcpyHtoDAsync_v2(device, host, bytes, *stream);
    return result == CUDA_SUCCESS ? d.cuStreamSynchronize(*stream) : result;
  };
  auto toHost = [&](CUdeviceptr device) {
    if (!stream) return d.cuMemcpyDtoH_v2(back, device, bytes);
    CUresult result = d.cuMemcpyDtoHAsync_v2(back, device, bytes, *stream);
    return result == CUDA_SUCCESS ? d.cuStreamSynchronize(*stream) : result;
  };
  std::memset(host, 3, bytes);
  std::memset(back, 0, bytes);
  CUdeviceptr device;
  check(d.cuMemAlloc_v2(&device, bytes), "cuMemAlloc");
  // Both directions once untimed, natively as remotely: the first touch of memory (page tables on
  // either side) is not what the figures compare.
  check(toDevice(device), "warm-up");
  check(toHost(device), "warm-up");
  std::memset(back, 0, bytes);
  CopyRates rates;
  auto start = Clock::now();
  check(toDevice(device), "the copy to the device");
  rates.toDevice = static_cast<double>(bytes) / seconds(Clock::now() - start) / 1e9;
  start = Clock::now();
  check(toHost(device), "the copy to the host");
  rates.toHost = static_cast<double>(bytes) / seconds(Clock::now() - start) / 1e9;
  check(d.cuMemFree_v2(device), "cuMemFree");
  if (std::memcmp(back, host, bytes) != 0) {
    std::fprintf(stderr, "bandwidth: data came back wrong\n");
    std::exit(1);
  }
  return rates;
}

// The same between pageable buffers.
inline CopyRates measureCopies(const DriverTable& d, std::size_t bytes, std::optional<CUstream> stream = std::nullopt) {
  std::vector<char> host(bytes), back(bytes);
  return measureCopies(d, bytes, host.data(), back.data(), stream);
}

}  // namespace fastgpu::bench
