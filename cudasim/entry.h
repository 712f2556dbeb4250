// Helpers shared by cudasim's driver entry points (the api_*.cpp files).
#pragma once

#include <exception>
#include <new>

#include "cudaabi/log.h"
#include "cudasim/driver.h"

namespace fastgpu::sim {

#define FASTGPU_SIM_EXPORT extern "C" __attribute__((visibility("default")))

// Runs an entry point's body against the initialized driver. No exception crosses the C
// boundary: they become CUDA errors here, in one place.
template <typename Body>
CUresult driverEntry(const char* name, Body&& body) noexcept {
  Driver* driver = Driver::instance();
  if (driver == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  try {
    CUresult result = body(*driver);
    cudaabi::driverLogger().trace("{} -> {}", name, static_cast<int>(result));
    // Which call failed, for FASTGPU_LOG=debug: libraries often turn a driver error into one
    // status of their own.
    if (result != CUDA_SUCCESS) cudaabi::driverLogger().debug("{} returned {}", name, static_cast<int>(result));
    return result;
  } catch (const std::bad_alloc&) {
    return CUDA_ERROR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    cudaabi::driverLogger().error("{} failed: {}", name, e.what());
    return CUDA_ERROR_UNKNOWN;
  }
}

// Reports an expected failure: logged at debug level (the caller gets the code), returned.
inline CUresult fail(const Status& status) {
  if (!status.message().empty()) cudaabi::driverLogger().debug("{}", status.message());
  return status.code();
}

template <typename T>
CUresult fail(const Result<T>& result) {
  return fail(result.status());
}

// Which default stream a NULL stream handle means: the plain entry points use the legacy
// stream, the _ptsz/_ptds variants the per-thread one.
enum class DefaultStream { kLegacy, kPerThread };

// The stream a handle names, with its context. NULL, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD
// resolve against the current context.
Result<std::shared_ptr<Stream>> resolveStream(Driver& driver, CUstream handle, DefaultStream nullMeans);

// Runs `body(driver, stream)` for the stream a handle names.
template <typename Body>
CUresult withStream(const char* name, CUstream handle, DefaultStream nullMeans, Body&& body) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    auto stream = resolveStream(driver, handle, nullMeans);
    if (!stream) return fail(stream);
    return body(driver, **stream);
  });
}

// The _ptsz forms differ only in what a NULL stream means.
inline CUstream perThreadIfNull(CUstream handle) { return handle == nullptr ? CU_STREAM_PER_THREAD : handle; }

// The pending asynchronous error of a context, for synchronizing calls.
inline CUresult asyncError(Context& context) { return context.errors().take(); }

}  // namespace fastgpu::sim
