#include "cudasim/stream_work.h"

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "cudaabi/checked_math.h"
#include "cudaabi/copy_shape.h"
#include "cudaabi/launch_params.h"
#include "cudasim/entry.h"
#include "cudasim/functions.h"

namespace fastgpu::sim {

// ---- kernels ----

namespace {

Status checkGeometry(fastgpu_dim3 grid, fastgpu_dim3 block, unsigned sharedBytes, const Function& function) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x == 0 || block.y == 0 || block.z == 0) {
    return Status(CUDA_ERROR_INVALID_VALUE, "a launch dimension is zero");
  }
  if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    return Status(CUDA_ERROR_INVALID_VALUE, "grid dimensions exceed the device's limits");
  }
  if (block.x > 1024 || block.y > 1024 || block.z > 64 ||
      static_cast<std::uint64_t>(block.x) * block.y * block.z > 1024) {
    return Status(CUDA_ERROR_INVALID_VALUE, "block dimensions exceed the device's limits");
  }
  if (sharedBytes > static_cast<unsigned>(function.maxDynamicSharedBytes())) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{} bytes of dynamic shared memory exceed the function's "
                                                        "maximum of {}",
                                                        sharedBytes, function.maxDynamicSharedBytes()));
  }
  return Status::ok();
}

void* globalAddress(const fastgpu_sim_launch* launch, const char* name, size_t* size) {
  const auto* function = static_cast<const Function*>(launch->host_private);
  const Module::Global* global = name != nullptr ? function->module().findGlobal(name) : nullptr;
  if (global == nullptr) return nullptr;
  if (size != nullptr) *size = global->size;
  return reinterpret_cast<void*>(global->address);
}

// ABI 2: what a twin prints, a failed assert's message (as a GPU words it), device attributes.
int devicePrintf(const fastgpu_sim_launch*, const char* format, ...) {
  if (format == nullptr) return -1;
  std::va_list arguments;
  va_start(arguments, format);
  std::va_list again;
  va_copy(again, arguments);
  int length = std::vsnprintf(nullptr, 0, format, arguments);
  va_end(arguments);
  if (length < 0) {
    va_end(again);
    return -1;
  }
  std::string text(static_cast<std::size_t>(length) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, again);
  va_end(again);
  text.resize(static_cast<std::size_t>(length));
  if (Driver* driver = Driver::instance()) driver->deviceOutput().print(text);
  return length;
}

void assertFailed(const fastgpu_sim_launch* launch, const char* expression, const char* file, int line,
                  fastgpu_dim3 block, fastgpu_dim3 thread) {
  Driver* driver = Driver::instance();
  if (driver == nullptr) return;
  driver->deviceOutput().assertFailed(fmt::format(
      "{}:{}: {}: block: [{},{},{}], thread: [{},{},{}] Assertion `{}` failed.\n", file != nullptr ? file : "?", line,
      launch->kernel_name, block.x, block.y, block.z, thread.x, thread.y, thread.z,
      expression != nullptr ? expression : "?"));
}

int deviceAttribute(const fastgpu_sim_launch* launch, int attribute, int* value) {
  Driver* driver = Driver::instance();
  Device* device = driver != nullptr ? driver->device(launch->device_ordinal) : nullptr;
  if (device == nullptr || value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto read = device->attribute(static_cast<CUdevice_attribute>(attribute));
  if (!read) return read.status().code();
  *value = *read;
  return CUDA_SUCCESS;
}

Status missingTwin(const std::string& kernel) {
  static std::mutex mutex;
  static std::set<std::string> reported;
  std::lock_guard lock(mutex);
  if (reported.insert(kernel).second) {
    cudaabi::driverLogger().error(
        "cannot launch kernel {}: no host twin is registered for it (write one and list its plugin in "
        "FASTGPU_SIM_KERNELS; see docs/cudasim.md)",
        kernel);
  }
  return Status(CUDA_ERROR_NOT_FOUND, "");
}

}  // namespace

Result<KernelLaunch> prepareKernelLaunch(Driver& driver, const void* handle, fastgpu_dim3 grid, fastgpu_dim3 block,
                                         unsigned sharedBytes, void** params, void** extra) {
  driver.deviceOutput().flush();  // a launch is one of the driver's printf flush points
  auto function = resolveFunction(driver, handle);
  if (!function) return function.status();
  if (Status status = checkGeometry(grid, block, sharedBytes, **function); !status) return status;
  std::vector<std::uint8_t> parameters((*function)->info().paramBytes);
  if (Status status = cudaabi::packLaunchParameters((*function)->info(), params, extra, parameters); !status) {
    return status;
  }
  if ((*function)->twin() == nullptr) return missingTwin((*function)->info().name);
  auto context = driver.findContext(toHandle<CUcontext>((*function)->module().contextHandle()));
  int ordinal = context ? context->device().ordinal() : 0;
  return KernelLaunch{*function, grid, block, sharedBytes, std::move(parameters), ordinal};
}

Operation kernelOperation(const KernelLaunch& launch) {
  // The work owns a copy of the parameters: a twin may write into its arguments.
  auto work = [launch = launch]() mutable -> CUresult {
    const auto& info = launch.function->info();
    std::vector<void*> pointers(info.params.size());
    for (std::size_t i = 0; i < pointers.size(); ++i) pointers[i] = launch.parameters.data() + info.params[i].offset;
    fastgpu_sim_launch description{FASTGPU_SIM_TWIN_ABI_VERSION,
                                   info.name.c_str(),
                                   launch.grid,
                                   launch.block,
                                   launch.sharedBytes,
                                   static_cast<std::uint32_t>(pointers.size()),
                                   pointers.data(),
                                   launch.parameters.data(),
                                   static_cast<std::uint32_t>(launch.parameters.size()),
                                   launch.ordinal,
                                   globalAddress,
                                   launch.function.get(),
                                   devicePrintf,
                                   assertFailed,
                                   deviceAttribute};
    return static_cast<CUresult>(launch.function->twin()(&description));
  };
  return Operation{Operation::Kind::kDeviceWork, std::move(work), {}};
}

// ---- copies and memsets ----

Result<MemoryKind> classify(Driver& driver, std::uint64_t address, std::uint64_t bytes, bool mustBeDevice) {
  if (!cudaabi::checkedAdd(address, bytes)) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("range {:#x}+{} wraps around the address space", address, bytes));
  }
  if (Device* device = driver.deviceOfAddress(address)) {
    if (!device->memory().find(address, bytes)) {
      return Status(CUDA_ERROR_INVALID_VALUE,
                    fmt::format("device range {:#x}+{} is not inside a live allocation", address, bytes));
    }
    return MemoryKind::kDevice;
  }
  if (driver.virtualMemory().inWindow(address)) {
    auto mapped = driver.virtualMemory().find(address, bytes);
    if (!mapped || mapped->access != CU_MEM_ACCESS_FLAGS_PROT_READWRITE) {
      return Status(CUDA_ERROR_INVALID_VALUE,
                    fmt::format("range {:#x}+{} is not mapped with read-write access", address, bytes));
    }
    return MemoryKind::kDevice;
  }
  if (driver.hostMemory().find(address, bytes)) return MemoryKind::kPinnedHost;  // also a valid device pointer
  if (mustBeDevice) return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{:#x} is not a device pointer", address));
  if (address == 0 && bytes > 0) return Status(CUDA_ERROR_INVALID_VALUE, "NULL host pointer");
  return MemoryKind::kPageableHost;
}

namespace {

struct CopySide {
  std::uint64_t first = 0;  // the first byte copied
  std::uint64_t pitch = 0;
  std::uint64_t slice = 0;
  MemoryKind kind = MemoryKind::kDevice;
};

// One side of a 3-D copy: Depth slices of `sliceRows` rows of `pitch` bytes, of which Height rows
// of Width bytes are copied, starting at (x, y, z). Every offset and extent in checked arithmetic.
Result<CopySide> sideOf(Driver& driver, CUmemorytype type, const void* host, CUdeviceptr device, std::size_t x,
                        std::size_t y, std::size_t z, std::size_t pitch, std::size_t sliceRows,
                        const CUDA_MEMCPY3D& p) {
  std::uint64_t base = 0;
  bool mustBeDevice = false;
  switch (type) {
    case CU_MEMORYTYPE_HOST: base = reinterpret_cast<std::uint64_t>(host); break;
    case CU_MEMORYTYPE_DEVICE: base = device; mustBeDevice = true; break;
    case CU_MEMORYTYPE_UNIFIED: base = device; break;
    case CU_MEMORYTYPE_ARRAY: return Status(CUDA_ERROR_NOT_SUPPORTED, "cudasim does not simulate CUDA arrays");
    default: return Status(CUDA_ERROR_INVALID_VALUE, "bad memory type");
  }
  if (pitch == 0) pitch = p.WidthInBytes;
  if (p.Height > 0 && pitch < p.WidthInBytes) return Status(CUDA_ERROR_INVALID_VALUE, "pitch smaller than the width");
  if (p.Depth > 1 && sliceRows < p.Height) return Status(CUDA_ERROR_INVALID_VALUE, "slice height smaller than the height");
  auto region = cudaabi::volumeSide(base, x, y, z, pitch, sliceRows, p);
  if (!region) return Status(CUDA_ERROR_INVALID_VALUE, "copy region: its offset or size overflows");
  auto kind = classify(driver, region->first, region->extent, mustBeDevice);
  if (!kind) return kind.status();
  return CopySide{region->first, region->pitch, region->slice, *kind};
}

}  // namespace

Result<StridedCopy> checkCopy3D(Driver& driver, const CUDA_MEMCPY3D& p) {
  if (p.srcLOD != 0 || p.dstLOD != 0 || p.reserved0 != nullptr || p.reserved1 != nullptr) {
    return Status(CUDA_ERROR_INVALID_VALUE, "reserved copy fields must be zero");
  }
  auto src = sideOf(driver, p.srcMemoryType, p.srcHost, p.srcDevice, p.srcXInBytes, p.srcY, p.srcZ, p.srcPitch,
                    p.srcHeight, p);
  if (!src) return src.status();
  auto dst = sideOf(driver, p.dstMemoryType, p.dstHost, p.dstDevice, p.dstXInBytes, p.dstY, p.dstZ, p.dstPitch,
                    p.dstHeight, p);
  if (!dst) return dst.status();
  StridedCopy copy{src->first, dst->first, src->pitch, dst->pitch, src->slice, dst->slice,
                   p.WidthInBytes, p.Height, p.Depth, false};
  copy.pageable = src->kind == MemoryKind::kPageableHost || dst->kind == MemoryKind::kPageableHost;
  if (src->kind != MemoryKind::kDevice || dst->kind != MemoryKind::kDevice) {
    copy.hostDelayMicros = driver.config().hostCopyDelayMicros;
  }
  return copy;
}

Operation copyOperation(const StridedCopy& c) {
  auto work = [c] {
    if (c.hostDelayMicros > 0) std::this_thread::sleep_for(std::chrono::microseconds(c.hostDelayMicros));
    for (std::uint64_t z = 0; z < c.depth; ++z) {
      for (std::uint64_t row = 0; row < c.height; ++row) {
        std::memmove(reinterpret_cast<void*>(c.dst + z * c.dstSlice + row * c.dstPitch),
                     reinterpret_cast<const void*>(c.src + z * c.srcSlice + row * c.srcPitch), c.width);
      }
    }
    return CUDA_SUCCESS;
  };
  return Operation{Operation::Kind::kDeviceWork, std::move(work), {}};
}

Result<CUDA_MEMSET_NODE_PARAMS> checkMemset(Driver& driver, const CUDA_MEMSET_NODE_PARAMS& p) {
  unsigned size = p.elementSize;
  if (size != 1 && size != 2 && size != 4) return Status(CUDA_ERROR_INVALID_VALUE, "memset elements are 1, 2 or 4 bytes");
  CUDA_MEMSET_NODE_PARAMS checked = p;
  auto rowBytes = cudaabi::checkedMul(p.width, size);
  if (rowBytes && p.height <= 1) checked.pitch = *rowBytes;  // unused for one row
  auto extent = rowBytes ? cudaabi::pitchedExtent(checked.pitch, *rowBytes, p.height) : std::nullopt;
  if (p.dst % size != 0 || !extent || !cudaabi::checkedAdd(p.dst, *extent)) {
    return Status(CUDA_ERROR_INVALID_VALUE, "memset range misaligned or overflowing");
  }
  auto kind = classify(driver, p.dst, *extent, true);
  if (!kind) return kind.status();
  return checked;
}

namespace {

template <typename T>
void fillRows(const CUDA_MEMSET_NODE_PARAMS& p) {
  for (std::size_t row = 0; row < p.height; ++row) {
    T* begin = reinterpret_cast<T*>(p.dst + row * p.pitch);
    std::fill(begin, begin + p.width, static_cast<T>(p.value));
  }
}

}  // namespace

Operation memsetOperation(const CUDA_MEMSET_NODE_PARAMS& p) {
  auto work = [p] {
    switch (p.elementSize) {
      case 1: fillRows<std::uint8_t>(p); break;
      case 2: fillRows<std::uint16_t>(p); break;
      default: fillRows<std::uint32_t>(p); break;
    }
    return CUDA_SUCCESS;
  };
  return Operation{Operation::Kind::kDeviceWork, std::move(work), {}};
}

Operation hostOperation(CUhostFn function, void* userData) {
  return Operation{Operation::Kind::kHostWork, [function, userData] {
                     function(userData);
                     return CUDA_SUCCESS;
                   }, {}};
}

}  // namespace fastgpu::sim
