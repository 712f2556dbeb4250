// Launches: parameters are packed here with the layout the load reply brought, and the launch is
// posted: no round trip (decision 5).
#include <cstring>

#include "cudaabi/launch_params.h"
#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

struct Geometry {
  unsigned grid[3];
  unsigned block[3];
  unsigned sharedBytes;
};

// The checks the driver makes at the call, against the device's limits, so that a bad
// configuration fails here and now rather than as a deferred error.
CUresult checkGeometry(Runtime& rt, const Geometry& g) {
  auto device = rt.contextDevice(rt.currentContextId());
  if (!device) return CUDA_ERROR_INVALID_CONTEXT;
  const RemoteDevice& limits = rt.device(*device);
  auto limit = [&](CUdevice_attribute which) { return static_cast<unsigned>(limits.attribute(which)); };
  const CUdevice_attribute gridLimits[] = {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y,
                                           CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z};
  const CUdevice_attribute blockLimits[] = {CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y,
                                            CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z};
  std::uint64_t threads = 1;
  for (int i = 0; i < 3; ++i) {
    if (g.grid[i] == 0 || g.block[i] == 0 || g.grid[i] > limit(gridLimits[i]) || g.block[i] > limit(blockLimits[i])) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    threads *= g.block[i];
  }
  if (threads > limit(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)) return CUDA_ERROR_INVALID_VALUE;
  if (g.sharedBytes > limit(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

// The function, geometry and launch attributes of a launch or an occupancy query. Attributes go
// as the driver's raw values: the server translates the handles in them (launch_attributes.h).
void describeLaunch(wire::Launch::Builder message, CUfunction function, const Geometry& geometry,
                    const CUlaunchConfig* config) {
  message.setFunction(idOf(function));
  auto grid = message.initGrid(3);
  auto block = message.initBlock(3);
  for (unsigned i = 0; i < 3; ++i) {
    grid.set(i, geometry.grid[i]);
    block.set(i, geometry.block[i]);
  }
  message.setSharedBytes(geometry.sharedBytes);
  if (config != nullptr && config->numAttrs > 0) {
    auto attributes = message.initAttributes(config->numAttrs);
    for (unsigned i = 0; i < config->numAttrs; ++i) {
      attributes[i].setId(config->attrs[i].id);
      attributes[i].setValue(
          kj::arrayPtr(reinterpret_cast<const capnp::byte*>(&config->attrs[i].value), sizeof(config->attrs[i].value)));
    }
  }
}

CUresult launch(const char* name, CUfunction function, const Geometry& geometry, CUstream stream, void** params,
                void** extra, bool perThread, const CUlaunchConfig* config, bool cooperative) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    if (rt.layout(idOf(function)) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    if (CUresult result = checkGeometry(rt, geometry); result != CUDA_SUCCESS) return result;
    if (CUresult refused = captureCheck(rt, stream, perThread, true, true); refused != CUDA_SUCCESS) return refused;
    CallMessage call(rt.currentContextId());
    auto message = call->initLaunch();
    describeLaunch(message, function, geometry, config);
    message.setStream(idOf(stream));
    message.setPerThread(perThread);
    message.setCooperative(cooperative);
    if (CUresult packed = packParameters(rt, message, function, params, extra); packed != CUDA_SUCCESS) return packed;
    post(client, call);
    return CUDA_SUCCESS;
  });
}

Geometry geometryOf(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared) {
  return Geometry{{gx, gy, gz}, {bx, by, bz}, shared};
}

Geometry geometryOf(const CUlaunchConfig& config) {
  return geometryOf(config.gridDimX, config.gridDimY, config.gridDimZ, config.blockDimX, config.blockDimY,
                    config.blockDimZ, config.sharedMemBytes);
}

bool validConfig(const CUlaunchConfig* config) {
  return config != nullptr && (config->numAttrs == 0 || config->attrs != nullptr);
}

CUresult launchEx(const char* name, const CUlaunchConfig* config, CUfunction f, void** params, void** extra,
                  bool perThread) {
  if (!validConfig(config)) return CUDA_ERROR_INVALID_VALUE;
  return launch(name, f, geometryOf(*config), config->hStream, params, extra, perThread, config, false);
}

// Cluster occupancy (cuBLAS asks it for its Hopper kernels while it creates a handle): the answer
// depends on the GPU's layout, so the server's driver gives it. One value back.
using OccupancyCall = wire::Launch::Builder (wire::Call::Builder::*)();
CUresult clusterOccupancy(const char* name, int* answer, CUfunction f, const CUlaunchConfig* config,
                          OccupancyCall which) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    if (answer == nullptr || !validConfig(config)) return CUDA_ERROR_INVALID_VALUE;
    if (rt.layout(idOf(f)) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    CallMessage call(rt.currentContextId());
    auto builder = call.call();
    describeLaunch((builder.*which)(), f, geometryOf(*config), config);
    return askValue(client, call, answer);
  });
}

}  // namespace

CUresult interposer::packParameters(Runtime& rt, wire::Launch::Builder message, CUfunction function, void** params,
                                    void** extra) {
  const KernelLayout* layout = rt.layout(idOf(function));
  if (layout == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  auto buffer = message.initParams(layout->paramBytes);
  if (Status status = cudaabi::packLaunchParameters(*layout, params, extra, {buffer.begin(), buffer.size()}); !status) {
    return status.code();
  }
  return CUDA_SUCCESS;
}

CUresult interposer::describeKernelNode(Runtime& rt, wire::Launch::Builder message, CUfunction function,
                                        const unsigned (&grid)[3], const unsigned (&block)[3], unsigned sharedBytes,
                                        void** params, void** extra) {
  if (rt.layout(idOf(function)) == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Geometry geometry{{grid[0], grid[1], grid[2]}, {block[0], block[1], block[2]}, sharedBytes};
  if (CUresult result = checkGeometry(rt, geometry); result != CUDA_SUCCESS) return result;
  describeLaunch(message, function, geometry, nullptr);
  return packParameters(rt, message, function, params, extra);
}

FASTGPU_REMOTE_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                              unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                                              CUstream stream, void** params, void** extra) {
  return launch(__func__, f, geometryOf(gx, gy, gz, bx, by, bz, shared), stream, params, extra, false, nullptr, false);
}

FASTGPU_REMOTE_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                                   unsigned int bx, unsigned int by, unsigned int bz,
                                                   unsigned int shared, CUstream stream, void** params, void** extra) {
  return launch(__func__, f, geometryOf(gx, gy, gz, bx, by, bz, shared), stream, params, extra, true, nullptr, false);
}

FASTGPU_REMOTE_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gx, unsigned int gy,
                                                         unsigned int gz, unsigned int bx, unsigned int by,
                                                         unsigned int bz, unsigned int shared, CUstream stream,
                                                         void** params) {
  return launch(__func__, f, geometryOf(gx, gy, gz, bx, by, bz, shared), stream, params, nullptr, false, nullptr, true);
}

FASTGPU_REMOTE_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** params, void** extra) {
  return launchEx(__func__, config, f, params, extra, false);
}

FASTGPU_REMOTE_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* config, CUfunction f, void** params,
                                                     void** extra) {
  return launchEx(__func__, config, f, params, extra, true);
}

FASTGPU_REMOTE_EXPORT CUresult cuOccupancyMaxActiveClusters(int* clusters, CUfunction f, const CUlaunchConfig* config) {
  return clusterOccupancy(__func__, clusters, f, config, &wire::Call::Builder::initOccupancyMaxClusters);
}

FASTGPU_REMOTE_EXPORT CUresult cuOccupancyMaxPotentialClusterSize(int* clusterSize, CUfunction f,
                                                                  const CUlaunchConfig* config) {
  return clusterOccupancy(__func__, clusterSize, f, config, &wire::Call::Builder::initOccupancyMaxClusterSize);
}
