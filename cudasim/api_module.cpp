// Modules, libraries, functions and kernels: loading code images, looking up kernels and
// globals, parameter layouts, attributes and occupancy.

#include <fmt/format.h>

#include "cudaabi/jit_inputs.h"
#include "cudasim/entry.h"
#include "cudasim/functions.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace fastgpu::sim {

Result<std::shared_ptr<Function>> resolveFunction(Driver& driver, const void* handle) {
  if (HandleTable::kindOf(handle) == HandleKind::kKernel) {
    auto kernel = driver.handles().find<Kernel>(HandleKind::kKernel, handle);
    if (!kernel) return Status(CUDA_ERROR_INVALID_HANDLE, "unknown or unloaded kernel");
    auto module = driver.libraryModule(kernel->library());
    if (!module) return module.status();
    return driver.moduleFunction(**module, kernel->info().name);
  }
  auto function = driver.handles().find<Function>(HandleKind::kFunction, handle);
  if (!function) return Status(CUDA_ERROR_INVALID_HANDLE, "unknown or unloaded function");
  return function;
}

}  // namespace fastgpu::sim

namespace {

// An H100 SM's limits on resident blocks (device_attributes.cpp reports the same numbers).
constexpr int kThreadsPerSm = 2048;
constexpr int kBlocksPerSm = 32;
constexpr std::size_t kSharedPerSm = 233472;          // 228 KiB
constexpr std::size_t kSharedReservedPerBlock = 1024;
constexpr std::size_t kSharedPerBlockOptIn = 232448;  // 227 KiB

Result<std::shared_ptr<const cudaabi::KernelImage>> parseImage(const void* image) {
  auto bytes = cudaabi::imageBytesFromPointer(image);
  if (!bytes) return bytes.status();
  auto parsed = cudaabi::parseKernelImage(*bytes);
  if (!parsed) return parsed.status();
  return std::make_shared<const cudaabi::KernelImage>(std::move(*parsed));
}

CUresult loadModule(CUmodule* handle, const void* image) {
  return driverEntry("cuModuleLoadData", [&](Driver& driver) {
    driver.deviceOutput().flush();
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    if (handle == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto parsed = parseImage(image);
    if (!parsed) return fail(parsed);
    auto module = driver.loadModule(**context, std::move(*parsed));
    if (!module) return fail(module);
    *handle = toHandle<CUmodule>((*module)->handle());
    return CUDA_SUCCESS;
  });
}

CUresult loadLibrary(CUlibrary* handle, const void* code) {
  return driverEntry("cuLibraryLoadData", [&](Driver& driver) {
    if (handle == nullptr || code == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto parsed = parseImage(code);
    if (!parsed) return fail(parsed);
    auto library = std::make_shared<Library>(std::move(*parsed));
    driver.handles().add(HandleKind::kLibrary, library);
    *handle = toHandle<CUlibrary>(library->handle());
    return CUDA_SUCCESS;
  });
}

template <typename Body>
CUresult withFunction(const char* name, const void* handle, Body&& body) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    auto function = resolveFunction(driver, handle);
    if (!function) return fail(function);
    return body(driver, **function);
  });
}

CUresult paramInfo(const cudaabi::KernelInfo& info, size_t index, size_t* offset, size_t* size) {
  if (offset == nullptr && size == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (index >= info.params.size()) return CUDA_ERROR_INVALID_VALUE;  // how callers find the count
  if (offset != nullptr) *offset = info.params[index].offset;
  if (size != nullptr) *size = info.params[index].size;
  return CUDA_SUCCESS;
}

CUresult functionAttribute(const Function& function, CUfunction_attribute attribute, int* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (attribute) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = 1024; break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *value = 0; break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *value = 0; break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *value = 0; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *value = 32; break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: *value = 90; break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *value = 90; break;
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA: *value = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *value = function.maxDynamicSharedBytes(); break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *value = -1; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET: *value = 0; break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH: *value = 0; break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED: *value = 1; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE: *value = 0; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

CUresult setFunctionAttribute(Function& function, CUfunction_attribute attribute, int value) {
  switch (attribute) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
      if (value < 0 || static_cast<std::size_t>(value) > kSharedPerBlockOptIn) return CUDA_ERROR_INVALID_VALUE;
      function.setMaxDynamicSharedBytes(value);
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
      return CUDA_SUCCESS;  // performance hints; nothing to simulate
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult globalOf(Module& module, const char* name, CUdeviceptr* pointer, size_t* bytes) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const Module::Global* global = module.findGlobal(name);
  if (global == nullptr) return CUDA_ERROR_NOT_FOUND;
  if (pointer != nullptr) *pointer = global->address;
  if (bytes != nullptr) *bytes = global->size;
  return CUDA_SUCCESS;
}

// Blocks per SM an H100 can hold for a block size: limited by threads, blocks and shared memory.
int blocksPerSm(int blockSize, std::size_t dynamicShared) {
  if (blockSize <= 0) return 0;
  int byThreads = kThreadsPerSm / blockSize;
  int byShared = static_cast<int>(kSharedPerSm / (dynamicShared + kSharedReservedPerBlock));
  return std::max(0, std::min({byThreads, kBlocksPerSm, byShared}));
}

// The dynamic shared memory each of `blocks` blocks may have with all of them resident on one
// SM; 0 when that many cannot be resident at all.
std::size_t availableDynamicShared(int blocks, int blockSize) {
  if (blocks > kBlocksPerSm || blocks * blockSize > kThreadsPerSm) return 0;
  std::size_t perBlock = kSharedPerSm / static_cast<std::size_t>(blocks);
  return perBlock <= kSharedReservedPerBlock ? 0 : std::min(kSharedPerBlockOptIn, perBlock - kSharedReservedPerBlock);
}

}  // namespace

// ---- modules ----

FASTGPU_SIM_EXPORT CUresult cuModuleLoadData(CUmodule* module, const void* image) { return loadModule(module, image); }

FASTGPU_SIM_EXPORT CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int, CUjit_option*,
                                               void**) {
  return loadModule(module, image);  // JIT options do not apply: nothing is compiled
}

FASTGPU_SIM_EXPORT CUresult cuModuleLoadFatBinary(CUmodule* module, const void* fatbin) {
  return loadModule(module, fatbin);
}

FASTGPU_SIM_EXPORT CUresult cuModuleLoad(CUmodule* module, const char* path) {
  auto bytes = cudaabi::readFileWithNul(path);
  if (!bytes) return fail(bytes);
  return loadModule(module, bytes->data());
}

FASTGPU_SIM_EXPORT CUresult cuModuleUnload(CUmodule handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto module = driver.handles().find<Module>(HandleKind::kModule, handle);
    if (!module) return CUDA_ERROR_INVALID_HANDLE;
    driver.unloadModule(module);
    driver.deviceOutput().flush();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuModuleGetFunction(CUfunction* function, CUmodule handle, const char* name) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (function == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto module = driver.handles().find<Module>(HandleKind::kModule, handle);
    if (!module) return CUDA_ERROR_INVALID_HANDLE;
    auto found = driver.moduleFunction(*module, name);
    if (!found) return fail(found);
    *function = toHandle<CUfunction>((*found)->handle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuModuleGetGlobal_v2(CUdeviceptr* pointer, size_t* bytes, CUmodule handle,
                                                 const char* name) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto module = driver.handles().find<Module>(HandleKind::kModule, handle);
    if (!module) return CUDA_ERROR_INVALID_HANDLE;
    return globalOf(*module, name, pointer, bytes);
  });
}

FASTGPU_SIM_EXPORT CUresult cuModuleGetFunctionCount(unsigned int* count, CUmodule handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto module = driver.handles().find<Module>(HandleKind::kModule, handle);
    if (!module) return CUDA_ERROR_INVALID_HANDLE;
    *count = static_cast<unsigned>(module->image().kernels.size());
    return CUDA_SUCCESS;
  });
}

// ---- libraries and kernels ----

FASTGPU_SIM_EXPORT CUresult cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option*, void**,
                                              unsigned int, CUlibraryOption*, void**, unsigned int) {
  return loadLibrary(library, code);
}

FASTGPU_SIM_EXPORT CUresult cuLibraryLoadFromFile(CUlibrary* library, const char* path, CUjit_option*, void**,
                                                  unsigned int, CUlibraryOption*, void**, unsigned int) {
  auto bytes = cudaabi::readFileWithNul(path);
  if (!bytes) return fail(bytes);
  return loadLibrary(library, bytes->data());
}

FASTGPU_SIM_EXPORT CUresult cuLibraryUnload(CUlibrary handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto library = driver.handles().find<Library>(HandleKind::kLibrary, handle);
    if (!library) return CUDA_ERROR_INVALID_HANDLE;
    driver.handles().remove(library->handle());
    std::lock_guard lock(library->mutex());
    for (const auto& [name, kernel] : library->kernels()) driver.handles().remove(kernel->handle());
    for (const auto& [context, module] : library->modulesByContext()) driver.unloadModule(module);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuLibraryGetKernel(CUkernel* kernel, CUlibrary handle, const char* name) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (kernel == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto library = driver.handles().find<Library>(HandleKind::kLibrary, handle);
    if (!library) return CUDA_ERROR_INVALID_HANDLE;
    const cudaabi::KernelInfo* info = library->image()->findKernel(name);
    if (info == nullptr) return CUDA_ERROR_NOT_FOUND;
    std::lock_guard lock(library->mutex());
    auto& entry = library->kernels()[name];
    if (!entry) {
      entry = std::make_shared<Kernel>(*library, *info);
      driver.handles().add(HandleKind::kKernel, entry);
    }
    *kernel = toHandle<CUkernel>(entry->handle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuLibraryGetKernelCount(unsigned int* count, CUlibrary handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto library = driver.handles().find<Library>(HandleKind::kLibrary, handle);
    if (!library) return CUDA_ERROR_INVALID_HANDLE;
    *count = static_cast<unsigned>(library->image()->kernels.size());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuLibraryGetModule(CUmodule* module, CUlibrary handle) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (module == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto library = driver.handles().find<Library>(HandleKind::kLibrary, handle);
    if (!library) return CUDA_ERROR_INVALID_HANDLE;
    auto loaded = driver.libraryModule(*library);
    if (!loaded) return fail(loaded);
    *module = toHandle<CUmodule>((*loaded)->handle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuLibraryGetGlobal(CUdeviceptr* pointer, size_t* bytes, CUlibrary handle, const char* name) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto library = driver.handles().find<Library>(HandleKind::kLibrary, handle);
    if (!library) return CUDA_ERROR_INVALID_HANDLE;
    auto module = driver.libraryModule(*library);
    if (!module) return fail(module);
    return globalOf(**module, name, pointer, bytes);
  });
}

FASTGPU_SIM_EXPORT CUresult cuKernelGetFunction(CUfunction* function, CUkernel kernel) {
  return withFunction(__func__, kernel, [&](Driver&, Function& found) {
    if (function == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *function = toHandle<CUfunction>(found.handle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuKernelGetName(const char** name, CUkernel kernel) {
  return driverEntry(__func__, [&](Driver& driver) {
    if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto found = driver.handles().find<Kernel>(HandleKind::kKernel, kernel);
    if (!found) return CUDA_ERROR_INVALID_HANDLE;
    *name = found->info().name.c_str();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuFuncGetName(const char** name, CUfunction function) {
  return withFunction(__func__, function, [&](Driver&, Function& found) {
    if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *name = found.info().name.c_str();
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuFuncGetModule(CUmodule* module, CUfunction function) {
  return withFunction(__func__, function, [&](Driver&, Function& found) {
    if (module == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *module = toHandle<CUmodule>(found.module().handle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuFuncGetParamInfo(CUfunction function, size_t index, size_t* offset, size_t* size) {
  return withFunction(__func__, function,
                      [&](Driver&, Function& found) { return paramInfo(found.info(), index, offset, size); });
}

FASTGPU_SIM_EXPORT CUresult cuKernelGetParamInfo(CUkernel kernel, size_t index, size_t* offset, size_t* size) {
  return driverEntry(__func__, [&](Driver& driver) {
    auto found = driver.handles().find<Kernel>(HandleKind::kKernel, kernel);
    if (!found) return CUDA_ERROR_INVALID_HANDLE;
    return paramInfo(found->info(), index, offset, size);
  });
}

FASTGPU_SIM_EXPORT CUresult cuFuncGetAttribute(int* value, CUfunction_attribute attribute, CUfunction function) {
  return withFunction(__func__, function,
                      [&](Driver&, Function& found) { return functionAttribute(found, attribute, value); });
}

FASTGPU_SIM_EXPORT CUresult cuFuncSetAttribute(CUfunction function, CUfunction_attribute attribute, int value) {
  return withFunction(__func__, function,
                      [&](Driver&, Function& found) { return setFunctionAttribute(found, attribute, value); });
}

FASTGPU_SIM_EXPORT CUresult cuKernelGetAttribute(int* value, CUfunction_attribute attribute, CUkernel kernel,
                                                 CUdevice device) {
  return withFunction(__func__, kernel, [&](Driver& driver, Function& found) {
    if (driver.device(device) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    return functionAttribute(found, attribute, value);
  });
}

FASTGPU_SIM_EXPORT CUresult cuKernelSetAttribute(CUfunction_attribute attribute, int value, CUkernel kernel,
                                                 CUdevice device) {
  return withFunction(__func__, kernel, [&](Driver& driver, Function& found) {
    if (driver.device(device) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
    return setFunctionAttribute(found, attribute, value);
  });
}

FASTGPU_SIM_EXPORT CUresult cuFuncSetCacheConfig(CUfunction function, CUfunc_cache) {
  return withFunction(__func__, function, [](Driver&, Function&) { return CUDA_SUCCESS; });
}

FASTGPU_SIM_EXPORT CUresult cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache, CUdevice) {
  return withFunction(__func__, kernel, [](Driver&, Function&) { return CUDA_SUCCESS; });
}

FASTGPU_SIM_EXPORT CUresult cuFuncIsLoaded(CUfunctionLoadingState* state, CUfunction function) {
  return withFunction(__func__, function, [&](Driver&, Function&) {
    if (state == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *state = CU_FUNCTION_LOADING_STATE_LOADED;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuFuncLoad(CUfunction function) {
  return withFunction(__func__, function, [](Driver&, Function&) { return CUDA_SUCCESS; });
}

// ---- occupancy ----

FASTGPU_SIM_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* blocks, CUfunction function,
                                                                                 int blockSize, size_t dynamicShared,
                                                                                 unsigned int) {
  return withFunction(__func__, function, [&](Driver&, Function&) {
    if (blocks == nullptr || blockSize <= 0 || blockSize > 1024) return CUDA_ERROR_INVALID_VALUE;
    *blocks = blocksPerSm(blockSize, dynamicShared);
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, CUfunction function, int blockSize,
                                                                        size_t dynamicShared) {
  return cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(blocks, function, blockSize, dynamicShared, 0);
}

FASTGPU_SIM_EXPORT CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(int* minGridSize, int* blockSize,
                                                                      CUfunction function,
                                                                      CUoccupancyB2DSize sharedForBlock,
                                                                      size_t dynamicShared, int blockSizeLimit,
                                                                      unsigned int) {
  return withFunction(__func__, function, [&](Driver&, Function&) {
    if (minGridSize == nullptr || blockSize == nullptr) return CUDA_ERROR_INVALID_VALUE;
    int limit = blockSizeLimit > 0 ? std::min(blockSizeLimit, 1024) : 1024;
    int best = 32;
    int bestThreads = 0;
    for (int size = 32; size <= limit; size += 32) {
      std::size_t shared = sharedForBlock != nullptr ? sharedForBlock(size) : dynamicShared;
      int threads = blocksPerSm(size, shared) * size;
      if (threads >= bestThreads) {
        bestThreads = threads;
        best = size;
      }
    }
    *blockSize = best;
    std::size_t shared = sharedForBlock != nullptr ? sharedForBlock(best) : dynamicShared;
    *minGridSize = blocksPerSm(best, shared) * 132;
    return CUDA_SUCCESS;
  });
}

FASTGPU_SIM_EXPORT CUresult cuOccupancyMaxPotentialBlockSize(int* minGridSize, int* blockSize, CUfunction function,
                                                             CUoccupancyB2DSize sharedForBlock, size_t dynamicShared,
                                                             int blockSizeLimit) {
  return cuOccupancyMaxPotentialBlockSizeWithFlags(minGridSize, blockSize, function, sharedForBlock, dynamicShared,
                                                   blockSizeLimit, 0);
}

FASTGPU_SIM_EXPORT CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t* shared, CUfunction function, int blocks,
                                                                    int blockSize) {
  return withFunction(__func__, function, [&](Driver&, Function&) {
    if (shared == nullptr || blocks <= 0 || blockSize <= 0 || blockSize > 1024) return CUDA_ERROR_INVALID_VALUE;
    *shared = availableDynamicShared(blocks, blockSize);
    return CUDA_SUCCESS;
  });
}

namespace {

// The cluster a configuration asks for (its CLUSTER_DIMENSION attribute; one block without one),
// in blocks.
unsigned clusterBlocks(const CUlaunchConfig& config) {
  for (unsigned i = 0; i < config.numAttrs; ++i) {
    if (config.attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) {
      const auto& dim = config.attrs[i].value.clusterDim;
      return dim.x * dim.y * dim.z;
    }
  }
  return 1;
}

// An H100's cluster limits (8 blocks portable, 16 with the non-portable attribute) and SM count.
constexpr unsigned kMaxPortableClusterBlocks = 8;
constexpr unsigned kMaxClusterBlocks = 16;
constexpr int kMultiprocessors = 132;

// A cluster larger than the hardware's can never be resident: no clusters, as the real driver
// answers cuBLAS when it probes every size from 1 to 32 while creating a handle.
CUresult clusterQuery(const char* name, int* answer, CUfunction function, const CUlaunchConfig* config,
                      int (*compute)(const CUlaunchConfig&, int blocksPerSm)) {
  return withFunction(name, function, [&](Driver&, Function&) {
    if (answer == nullptr || config == nullptr || (config->numAttrs > 0 && config->attrs == nullptr)) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    std::uint64_t threads = std::uint64_t{config->blockDimX} * config->blockDimY * config->blockDimZ;
    if (threads == 0 || threads > 1024) return CUDA_ERROR_INVALID_VALUE;
    unsigned cluster = clusterBlocks(*config);
    if (cluster == 0) return fail(Status(CUDA_ERROR_INVALID_CLUSTER_SIZE, fmt::format("{}: an empty cluster", name)));
    int resident = cluster > kMaxClusterBlocks ? 0 : blocksPerSm(static_cast<int>(threads), config->sharedMemBytes);
    *answer = compute(*config, resident);
    return CUDA_SUCCESS;
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuOccupancyMaxActiveClusters(int* clusters, CUfunction function,
                                                         const CUlaunchConfig* config) {
  return clusterQuery(__func__, clusters, function, config, [](const CUlaunchConfig& c, int blocksPerSm) {
    return blocksPerSm * kMultiprocessors / static_cast<int>(clusterBlocks(c));
  });
}

FASTGPU_SIM_EXPORT CUresult cuOccupancyMaxPotentialClusterSize(int* clusterSize, CUfunction function,
                                                               const CUlaunchConfig* config) {
  return clusterQuery(__func__, clusterSize, function, config, [](const CUlaunchConfig&, int blocksPerSm) {
    return blocksPerSm > 0 ? static_cast<int>(kMaxPortableClusterBlocks) : 0;
  });
}
