// The work of stream operations that both a direct call and a graph node perform: a kernel launch,
// a (pitched, 3-D) copy, a memset. Each is checked once, when the call is made or the node is
// added, into a plain description; an Operation built from the description can run any number of
// times (a graph replays it at every launch).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cudaabi/result.h"
#include "fastgpu/sim_twin.h"
#include "cudasim/stream.h"

namespace fastgpu::sim {

class Driver;
class Function;

struct KernelLaunch {
  std::shared_ptr<Function> function;
  fastgpu_dim3 grid{};
  fastgpu_dim3 block{};
  unsigned sharedBytes = 0;
  std::vector<std::uint8_t> parameters;  // laid out as on the GPU
  int ordinal = 0;                       // the device it runs on
};

// Checks a launch of `handle` (a CUfunction, or a CUkernel in the current context) and copies its
// parameters, as the driver does at the call.
Result<KernelLaunch> prepareKernelLaunch(Driver& driver, const void* handle, fastgpu_dim3 grid, fastgpu_dim3 block,
                                         unsigned sharedBytes, void** params, void** extra);
Operation kernelOperation(const KernelLaunch& launch);

// What a range of memory is, for a copy. `mustBeDevice`: the API names it a device pointer; a range
// in a device's address window must lie inside one live allocation (or mapping).
enum class MemoryKind { kDevice, kPinnedHost, kPageableHost };
Result<MemoryKind> classify(Driver& driver, std::uint64_t address, std::uint64_t bytes, bool mustBeDevice);

// A copy of Depth slices of Height rows of Width bytes, each side with its own pitch and slice
// pitch (bytes). Both sides were checked against live memory when it was made.
struct StridedCopy {
  std::uint64_t src = 0, dst = 0;
  std::uint64_t srcPitch = 0, dstPitch = 0, srcSlice = 0, dstSlice = 0;
  std::uint64_t width = 0, height = 0, depth = 0;
  bool pageable = false;  // one side is pageable host memory
  std::uint32_t hostDelayMicros = 0;  // FASTGPU_SIM_HOST_COPY_DELAY_US, when one side is host memory
};

Result<StridedCopy> checkCopy3D(Driver& driver, const CUDA_MEMCPY3D& params);
Operation copyOperation(const StridedCopy& copy);

// A memset of elements of 1, 2 or 4 bytes over Height rows of Width elements.
Result<CUDA_MEMSET_NODE_PARAMS> checkMemset(Driver& driver, const CUDA_MEMSET_NODE_PARAMS& params);
Operation memsetOperation(const CUDA_MEMSET_NODE_PARAMS& params);

// A host function call (cuLaunchHostFunc, a host node).
Operation hostOperation(CUhostFn function, void* userData);

}  // namespace fastgpu::sim
