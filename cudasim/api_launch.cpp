// Kernel launches: cuLaunchKernel (with a CUfunction or a CUkernel, kernelParams or the
// `extra` buffer), cuLaunchKernelEx and cuLaunchCooperativeKernel. A launch is checked and its
// parameters copied at the call, as CUDA does; the kernel's host twin then runs in stream order.
#include <cstring>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "cudaabi/launch_params.h"
#include "cudasim/entry.h"
#include "cudasim/functions.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

struct Geometry {
  fastgpu_dim3 grid;
  fastgpu_dim3 block;
  unsigned sharedBytes;
};

Status checkGeometry(const Geometry& g, const Function& function) {
  if (g.grid.x == 0 || g.grid.y == 0 || g.grid.z == 0 || g.block.x == 0 || g.block.y == 0 || g.block.z == 0) {
    return Status(CUDA_ERROR_INVALID_VALUE, "a launch dimension is zero");
  }
  if (g.grid.x > 2147483647u || g.grid.y > 65535 || g.grid.z > 65535) {
    return Status(CUDA_ERROR_INVALID_VALUE, "grid dimensions exceed the device's limits");
  }
  if (g.block.x > 1024 || g.block.y > 1024 || g.block.z > 64 ||
      static_cast<std::uint64_t>(g.block.x) * g.block.y * g.block.z > 1024) {
    return Status(CUDA_ERROR_INVALID_VALUE, "block dimensions exceed the device's limits");
  }
  if (g.sharedBytes > static_cast<unsigned>(function.maxDynamicSharedBytes())) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{} bytes of dynamic shared memory exceed the function's "
                                                        "maximum of {}",
                                                        g.sharedBytes, function.maxDynamicSharedBytes()));
  }
  return Status::ok();
}

// The parameter buffer of a launch, laid out as on the GPU.
Result<std::vector<std::uint8_t>> packParameters(const cudaabi::KernelInfo& info, void** params, void** extra) {
  std::vector<std::uint8_t> buffer(info.paramBytes);
  if (Status status = cudaabi::packLaunchParameters(info, params, extra, buffer); !status) return status;
  return buffer;
}

void* globalAddress(const fastgpu_sim_launch* launch, const char* name, size_t* size) {
  const auto* function = static_cast<const Function*>(launch->host_private);
  const Module::Global* global = name != nullptr ? function->module().findGlobal(name) : nullptr;
  if (global == nullptr) return nullptr;
  if (size != nullptr) *size = global->size;
  return reinterpret_cast<void*>(global->address);
}

CUresult reportMissingTwin(const std::string& kernel) {
  static std::mutex mutex;
  static std::set<std::string> reported;
  std::lock_guard lock(mutex);
  if (reported.insert(kernel).second) {
    cudaabi::driverLogger().error(
        "cannot launch kernel {}: no host twin is registered for it (write one and list its plugin in "
        "FASTGPU_SIM_KERNELS; see docs/cudasim.md)",
        kernel);
  }
  return CUDA_ERROR_NOT_FOUND;
}

CUresult launch(const char* name, CUfunction handle, const Geometry& geometry, CUstream streamHandle, void** params,
                void** extra, DefaultStream nullMeans) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    auto function = resolveFunction(driver, handle);
    if (!function) return fail(function);
    auto stream = resolveStream(driver, streamHandle, nullMeans);
    if (!stream) return fail(stream);
    if (Status status = checkGeometry(geometry, **function); !status) return fail(status);
    auto buffer = packParameters((*function)->info(), params, extra);
    if (!buffer) return fail(buffer);
    if ((*function)->twin() == nullptr) return reportMissingTwin((*function)->info().name);

    int ordinal = (*stream)->context().device().ordinal();
    auto work = [function = *function, buffer = std::move(*buffer), geometry, ordinal]() mutable -> CUresult {
      const auto& info = function->info();
      std::vector<void*> pointers(info.params.size());
      for (std::size_t i = 0; i < pointers.size(); ++i) pointers[i] = buffer.data() + info.params[i].offset;
      fastgpu_sim_launch launch{FASTGPU_SIM_TWIN_ABI_VERSION,
                                info.name.c_str(),
                                geometry.grid,
                                geometry.block,
                                geometry.sharedBytes,
                                static_cast<std::uint32_t>(pointers.size()),
                                pointers.data(),
                                buffer.data(),
                                static_cast<std::uint32_t>(buffer.size()),
                                ordinal,
                                globalAddress,
                                function.get()};
      return static_cast<CUresult>(function->twin()(&launch));
    };
    (*stream)->context().enqueue(**stream, Operation{Operation::Kind::kDeviceWork, std::move(work), {}});
    return CUDA_SUCCESS;
  });
}

Geometry geometryOf(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared) {
  return Geometry{{gx, gy, gz}, {bx, by, bz}, shared};
}

// Whether an attribute asks the launch to record an event (PROGRAMMATIC_EVENT,
// LAUNCH_COMPLETION_EVENT), and which. cudasim runs a kernel's blocks one after another, so "every
// block has begun" and "every block has triggered" both hold by the kernel's end: recording the
// event after the kernel, in stream order, keeps every promise (a waiter may wait longer than on
// a GPU, never shorter).
bool carriesEvent(const CUlaunchAttribute& attribute) {
  return attribute.id == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT || attribute.id == CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT;
}
CUevent eventOf(const CUlaunchAttribute& attribute) {
  return attribute.id == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT ? attribute.value.programmaticEvent.event
                                                                 : attribute.value.launchCompletionEvent.event;
}

bool isEvent(CUevent event) {
  return driverEntry("cuLaunchKernelEx", [&](Driver& driver) {
           return driver.handles().find<Event>(HandleKind::kEvent, event) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
         }) == CUDA_SUCCESS;
}

CUresult launchEx(const char* name, const CUlaunchConfig* config, CUfunction function, void** params, void** extra,
                  DefaultStream nullMeans) {
  if (config == nullptr || (config->numAttrs > 0 && config->attrs == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUevent> toRecord;
  for (unsigned i = 0; i < config->numAttrs; ++i) {
    // Scheduling hints (cooperative, cluster shape, priority, ...) do not change what a twin
    // computes; unknown ids are refused, events must be events.
    if (config->attrs[i].id < CU_LAUNCH_ATTRIBUTE_IGNORE || config->attrs[i].id > CU_LAUNCH_ATTRIBUTE_MAX) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE) return CUDA_ERROR_NOT_SUPPORTED;
    if (carriesEvent(config->attrs[i])) {
      if (!isEvent(eventOf(config->attrs[i]))) return CUDA_ERROR_INVALID_HANDLE;
      toRecord.push_back(eventOf(config->attrs[i]));
    }
  }
  Geometry geometry = geometryOf(config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX,
                                 config->blockDimY, config->blockDimZ, config->sharedMemBytes);
  CUresult launched = launch(name, function, geometry, config->hStream, params, extra, nullMeans);
  for (CUevent event : toRecord) {
    if (launched != CUDA_SUCCESS) break;
    launched = nullMeans == DefaultStream::kPerThread ? cuEventRecord_ptsz(event, config->hStream)
                                                      : cuEventRecord(event, config->hStream);
  }
  return launched;
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                           unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                                           CUstream stream, void** params, void** extra) {
  return launch(__func__, f, geometryOf(gx, gy, gz, bx, by, bz, shared), stream, params, extra,
                DefaultStream::kLegacy);
}

FASTGPU_SIM_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                                unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                                                CUstream stream, void** params, void** extra) {
  return launch(__func__, f, geometryOf(gx, gy, gz, bx, by, bz, shared), stream, params, extra,
                DefaultStream::kPerThread);
}

FASTGPU_SIM_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                                      unsigned int bx, unsigned int by, unsigned int bz,
                                                      unsigned int shared, CUstream stream, void** params) {
  return launch(__func__, f, geometryOf(gx, gy, gz, bx, by, bz, shared), stream, params, nullptr,
                DefaultStream::kLegacy);
}

FASTGPU_SIM_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy,
                                                           unsigned int gz, unsigned int bx, unsigned int by,
                                                           unsigned int bz, unsigned int shared, CUstream stream,
                                                           void** params) {
  return launch(__func__, f, geometryOf(gx, gy, gz, bx, by, bz, shared), stream, params, nullptr,
                DefaultStream::kPerThread);
}

FASTGPU_SIM_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
  return launchEx(__func__, config, f, params, extra, DefaultStream::kLegacy);
}

FASTGPU_SIM_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f, void** params,
                                                  void** extra) {
  return launchEx(__func__, config, f, params, extra, DefaultStream::kPerThread);
}
