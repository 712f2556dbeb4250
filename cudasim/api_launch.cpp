// Kernel launches: cuLaunchKernel (with a CUfunction or a CUkernel, kernelParams or the
// `extra` buffer), cuLaunchKernelEx and cuLaunchCooperativeKernel. A launch is checked and its
// parameters copied at the call, as CUDA does; the kernel's host twin then runs in stream order.
#include "cudasim/entry.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

struct Geometry {
  fastgpu_dim3 grid;
  fastgpu_dim3 block;
  unsigned sharedBytes;
};

// The node attributes a kernel launched on `stream` inherits when captured: the stream's
// priority and those of its attributes a kernel node carries, where they are not the defaults.
cudaabi::KernelNodeAttributes inheritedFrom(const Stream& stream) {
  cudaabi::KernelNodeAttributes inherited;
  cudaabi::StreamAttributes attributes = stream.attributes();
  CUlaunchAttributeValue value{};
  if (stream.priority() != 0) {
    value.priority = stream.priority();
    inherited.set(CU_LAUNCH_ATTRIBUTE_PRIORITY, value);
  }
  if (attributes.window.num_bytes != 0) {
    value = {};
    value.accessPolicyWindow = attributes.window;
    inherited.set(CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW, value);
  }
  if (attributes.domain != CU_LAUNCH_MEM_SYNC_DOMAIN_DEFAULT) {
    value = {};
    value.memSyncDomain = attributes.domain;
    inherited.set(CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN, value);
  }
  if (attributes.domainMap.default_ != 0 || attributes.domainMap.remote != 1) {
    value = {};
    value.memSyncDomainMap = attributes.domainMap;
    inherited.set(CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP, value);
  }
  return inherited;
}

// `attributes`: a captured launch's node carries them (cuLaunchKernelEx's node attributes), over
// what it inherits from its stream.
CUresult launch(const char* name, CUfunction handle, const Geometry& geometry, CUstream streamHandle, void** params,
                void** extra, DefaultStream nullMeans, const cudaabi::KernelNodeAttributes& attributes = {}) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    auto prepared = prepareKernelLaunch(driver, handle, geometry.grid, geometry.block, geometry.sharedBytes, params,
                                        extra);
    if (!prepared) return fail(prepared);
    auto stream = resolveStream(driver, streamHandle, nullMeans);
    if (!stream) return fail(stream);
    prepared->ordinal = (*stream)->context().device().ordinal();
    auto route = driver.captures().route(**stream, CU_GRAPH_NODE_TYPE_KERNEL, [&] {
      cudaabi::KernelNodeAttributes carried = inheritedFrom(**stream);
      carried.overrideWith(attributes);
      return KernelNode{*prepared, {}, carried};
    });
    if (!route) return fail(route);
    if (*route == Captures::Route::kCaptured) return CUDA_SUCCESS;
    (*stream)->context().enqueue(**stream, kernelOperation(*prepared));
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
  cudaabi::KernelNodeAttributes nodeAttributes;
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
    if (cudaabi::isKernelNodeAttribute(config->attrs[i].id)) nodeAttributes.set(config->attrs[i].id, config->attrs[i].value);
  }
  Geometry geometry = geometryOf(config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX,
                                 config->blockDimY, config->blockDimZ, config->sharedMemBytes);
  CUresult launched = launch(name, function, geometry, config->hStream, params, extra, nullMeans, nodeAttributes);
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
