// Calls on code: modules, libraries, functions, launches. A load answers with every kernel's id
// and parameter layout (DESIGN.md, decision 6), so the client packs launches without asking.
#include <array>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "cudaabi/checked_math.h"
#include "cudaabi/kernel_image.h"
#include "protocol/code_digest.h"
#include "server/launch_attributes.h"
#include "server/session.h"

namespace fastgpu::server {
namespace {

constexpr std::size_t kMaxLaunchAttributes = 16;

template <typename ParamInfo, typename Handle>
std::vector<std::pair<std::uint32_t, std::uint32_t>> layoutOf(ParamInfo paramInfo, Handle handle) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> layout;
  std::size_t offset = 0, size = 0;
  while (layout.size() < 4096 && paramInfo(handle, layout.size(), &offset, &size) == CUDA_SUCCESS) {
    layout.emplace_back(static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(size));
  }
  return layout;
}

}  // namespace

Result<CUfunction> Session::function(std::uint64_t id) {
  HandleKind kind = SessionState::kindOf(id) == HandleKind::kKernel ? HandleKind::kKernel : HandleKind::kFunction;
  auto found = state_->find(kind, id);
  if (!found) return found.status();
  return static_cast<CUfunction>(*found);  // a CUkernel is launched as a CUfunction
}

Status Session::loadCode(std::span<const std::uint8_t> image, bool library, bool fromCache, Answer& answer) {
  if (Status room = state_->roomFor(library ? HandleKind::kLibrary : HandleKind::kModule); !room) return room;
  if (Status room = state_->roomForCode(image.size()); !room) return room;
  auto parsed = cudaabi::parseKernelImage(image);
  if (!parsed) return parsed.status();
  // Module globals are device memory too: they count against the quota (charged to the handle).
  std::uint64_t globalBytes = 0;
  for (const auto& global : parsed->globals) globalBytes += global.size;
  if (library) {
    CUlibrary loaded = nullptr;
    CUresult result = driver_.cuLibraryLoadData(&loaded, image.data(), nullptr, nullptr, 0, nullptr, nullptr, 0);
    if (result != CUDA_SUCCESS) return driverResult(result, "cuLibraryLoadData");
    answer.handle = state_->add(HandleKind::kLibrary, loaded);
    if (Status charged = state_->charge(answer.handle, globalBytes); !charged) {
      state_->remove(answer.handle);
      driver_.cuLibraryUnload(loaded);
      return charged;
    }
  } else {
    CUmodule loaded = nullptr;
    CUresult result = driver_.cuModuleLoadData(&loaded, image.data());
    if (result != CUDA_SUCCESS) return driverResult(result, "cuModuleLoadData");
    answer.handle = state_->add(HandleKind::kModule, loaded, state_->current());
    if (Status charged = state_->charge(answer.handle, globalBytes); !charged) {
      state_->remove(answer.handle);
      driver_.cuModuleUnload(loaded);
      return charged;
    }
  }
  state_->chargeCode(answer.handle, image.size());
  if (moduleCache_ != nullptr && !fromCache && image.size() >= protocol::kCachedImageMinBytes) moduleCache_->keep(image);
  answer.kind = Answer::Kind::kModule;
  void* owner = *state_->find(library ? HandleKind::kLibrary : HandleKind::kModule, answer.handle);
  for (const auto& kernel : parsed->kernels) {
    Answer::Kernel entry{kernel.name, 0, {}, kernel.paramBytes};
    if (library) {
      CUkernel found = nullptr;
      if (driver_.cuLibraryGetKernel(&found, static_cast<CUlibrary>(owner), kernel.name.c_str()) != CUDA_SUCCESS) continue;
      entry.handle = state_->add(HandleKind::kKernel, found, answer.handle);
      entry.params = layoutOf(driver_.cuKernelGetParamInfo, found);
    } else {
      CUfunction found = nullptr;
      if (driver_.cuModuleGetFunction(&found, static_cast<CUmodule>(owner), kernel.name.c_str()) != CUDA_SUCCESS) continue;
      entry.handle = state_->add(HandleKind::kFunction, found, answer.handle);
      entry.params = layoutOf(driver_.cuFuncGetParamInfo, found);
    }
    if (!entry.params.empty()) {
      entry.paramBytes = std::max(entry.paramBytes, entry.params.back().first + entry.params.back().second);
    }
    answer.kernels.push_back(std::move(entry));
  }
  return Status::ok();
}

Status Session::loadCachedCode(wire::CachedCode::Reader cached, Answer& answer) {
  protocol::CodeDigest digest;
  if (cached.getDigest().size() != digest.size()) {
    return Status(CUDA_ERROR_INVALID_VALUE, "a code digest is 32 bytes (SHA-256)");
  }
  std::memcpy(digest.data(), cached.getDigest().begin(), digest.size());
  std::optional<std::vector<std::uint8_t>> image = moduleCache_ ? moduleCache_->find(digest) : std::nullopt;
  if (!image) return Status(CUDA_ERROR_NOT_FOUND, "the server does not hold this image: send it");
  return loadCode(*image, cached.getLibrary(), true, answer);
}

// A part's failure is kept for the load that follows (a posted call's error would otherwise
// surface at some later, unrelated synchronizing call), and what arrived is dropped.
Status Session::uploadCode(wire::CodeUpload::Reader part, std::span<const std::uint8_t> bytes) {
  if (part.getOffset() == 0) {
    // A new image: room for it is checked before anything is kept (the claimed total bounds what
    // the parts may add, so a client that never finishes holds at most its module limit).
    upload_ = {};
    upload_.total = part.getTotal();
    if (Status room = state_->roomForCode(part.getTotal()); !room) upload_.failure = room;
  }
  if (!upload_.failure) {
    std::optional<std::uint64_t> end = cudaabi::checkedAdd(part.getOffset(), bytes.size());
    bool fits = part.getOffset() == upload_.bytes.size() && part.getTotal() == upload_.total && end &&
                *end <= upload_.total && !bytes.empty();
    if (fits) {
      upload_.bytes.insert(upload_.bytes.end(), bytes.begin(), bytes.end());
    } else {
      upload_.failure = Status(CUDA_ERROR_INVALID_VALUE, "a code upload's parts must arrive in order, within its size");
    }
  }
  if (upload_.failure) upload_.bytes = {};
  return Status::ok();
}

Status Session::loadUploadedCode(bool library, Answer& answer) {
  CodeUploadInProgress upload = std::exchange(upload_, {});
  if (upload.failure) return *upload.failure;
  if (upload.total == 0 || upload.bytes.size() != upload.total) {
    return Status(CUDA_ERROR_INVALID_VALUE, "no whole code image was uploaded");
  }
  return loadCode(upload.bytes, library, false, answer);
}

Status Session::executeCodeCall(wire::Call::Reader call, Answer& answer) {
  SessionState& state = *state_;
  auto bytesOf = [](capnp::Data::Reader data) { return std::span<const std::uint8_t>(data.begin(), data.size()); };
  auto global = [&](CUresult result, CUdeviceptr address, std::size_t bytes, std::uint64_t owner) {
    if (result != CUDA_SUCCESS) return driverResult(result, "get global");
    state.addGlobalRange(address, bytes, owner);
    answer.setValues({static_cast<std::int64_t>(address), static_cast<std::int64_t>(bytes)});
    return Status::ok();
  };
  switch (call.which()) {
    case wire::Call::MODULE_LOAD:
      return loadCode(bytesOf(call.getModuleLoad()), false, false, answer);
    case wire::Call::LIBRARY_LOAD:
      return loadCode(bytesOf(call.getLibraryLoad()), true, false, answer);
    case wire::Call::CODE_LOAD_CACHED:
      return loadCachedCode(call.getCodeLoadCached(), answer);
    case wire::Call::CODE_LOAD_UPLOADED:
      return loadUploadedCode(call.getCodeLoadUploaded(), answer);
    case wire::Call::MODULE_UNLOAD: {
      auto found = state.find(HandleKind::kModule, call.getModuleUnload());
      if (!found) return found.status();
      state.remove(call.getModuleUnload());
      return driverResult(driver_.cuModuleUnload(static_cast<CUmodule>(*found)), "cuModuleUnload");
    }
    case wire::Call::LIBRARY_UNLOAD: {
      auto found = state.find(HandleKind::kLibrary, call.getLibraryUnload());
      if (!found) return found.status();
      state.remove(call.getLibraryUnload());
      return driverResult(driver_.cuLibraryUnload(static_cast<CUlibrary>(*found)), "cuLibraryUnload");
    }
    case wire::Call::MODULE_GET_GLOBAL: {
      auto found = state.find(HandleKind::kModule, call.getModuleGetGlobal().getOwner());
      if (!found) return found.status();
      CUdeviceptr address = 0;
      std::size_t bytes = 0;
      CUresult result = driver_.cuModuleGetGlobal_v2(&address, &bytes, static_cast<CUmodule>(*found),
                                                     call.getModuleGetGlobal().getName().cStr());
      return global(result, address, bytes, call.getModuleGetGlobal().getOwner());
    }
    case wire::Call::LIBRARY_GET_GLOBAL: {
      auto found = state.find(HandleKind::kLibrary, call.getLibraryGetGlobal().getOwner());
      if (!found) return found.status();
      CUdeviceptr address = 0;
      std::size_t bytes = 0;
      CUresult result = driver_.cuLibraryGetGlobal(&address, &bytes, static_cast<CUlibrary>(*found),
                                                   call.getLibraryGetGlobal().getName().cStr());
      return global(result, address, bytes, call.getLibraryGetGlobal().getOwner());
    }
    case wire::Call::LIBRARY_GET_MODULE: {
      auto found = state.find(HandleKind::kLibrary, call.getLibraryGetModule());
      if (!found) return found.status();
      CUmodule module = nullptr;
      CUresult result = driver_.cuLibraryGetModule(&module, static_cast<CUlibrary>(*found));
      if (result != CUDA_SUCCESS) return driverResult(result, "cuLibraryGetModule");
      answer.setHandle(state.add(HandleKind::kModule, module, call.getLibraryGetModule()));
      return Status::ok();
    }
    case wire::Call::KERNEL_GET_FUNCTION: {
      auto found = state.find(HandleKind::kKernel, call.getKernelGetFunction());
      if (!found) return found.status();
      CUfunction resolved = nullptr;
      CUresult result = driver_.cuKernelGetFunction(&resolved, static_cast<CUkernel>(*found));
      if (result != CUDA_SUCCESS) return driverResult(result, "cuKernelGetFunction");
      answer.setHandle(state.add(HandleKind::kFunction, resolved, call.getKernelGetFunction()));
      return Status::ok();
    }
    case wire::Call::FUNC_GET_ATTRIBUTE: {
      auto found = function(call.getFuncGetAttribute().getFunction());
      if (!found) return found.status();
      int value = 0;
      CUresult result = driver_.cuFuncGetAttribute(
          &value, static_cast<CUfunction_attribute>(call.getFuncGetAttribute().getAttribute()), *found);
      answer.setValues({value});
      return driverResult(result, "cuFuncGetAttribute");
    }
    case wire::Call::FUNC_SET_ATTRIBUTE: {
      auto set = call.getFuncSetAttribute();
      auto found = function(set.getFunction());
      if (!found) return found.status();
      return driverResult(
          driver_.cuFuncSetAttribute(*found, static_cast<CUfunction_attribute>(set.getAttribute()), set.getValue()),
          "cuFuncSetAttribute");
    }
    case wire::Call::OCCUPANCY_BLOCKS_PER_SM: {
      auto query = call.getOccupancyBlocksPerSm();
      auto found = function(query.getFunction());
      if (!found) return found.status();
      int blocks = 0;
      CUresult result = driver_.cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
          &blocks, *found, query.getBlockSize(), query.getSharedBytes(), query.getFlags());
      answer.setValues({blocks});
      return driverResult(result, "cuOccupancyMaxActiveBlocksPerMultiprocessor");
    }
    case wire::Call::OCCUPANCY_DYNAMIC_SHARED: {
      auto query = call.getOccupancyDynamicShared();
      auto found = function(query.getFunction());
      if (!found) return found.status();
      std::size_t bytes = 0;
      CUresult result =
          driver_.cuOccupancyAvailableDynamicSMemPerBlock(&bytes, *found, query.getBlocks(), query.getBlockSize());
      answer.setValues({static_cast<std::int64_t>(bytes)});
      return driverResult(result, "cuOccupancyAvailableDynamicSMemPerBlock");
    }
    case wire::Call::OCCUPANCY_MAX_CLUSTERS:
    case wire::Call::OCCUPANCY_MAX_CLUSTER_SIZE: {
      bool sizeQuery = call.which() == wire::Call::OCCUPANCY_MAX_CLUSTER_SIZE;
      auto query = sizeQuery ? call.getOccupancyMaxClusterSize() : call.getOccupancyMaxClusters();
      auto found = function(query.getFunction());
      if (!found) return found.status();
      std::array<CUlaunchAttribute, kMaxLaunchAttributes> converted;  // set as far as used
      auto config = launchConfig(query, converted, [this](std::uint64_t id) { return event(id); });
      if (!config) return config.status();
      int value = 0;
      CUresult result = sizeQuery ? driver_.cuOccupancyMaxPotentialClusterSize(&value, *found, &*config)
                                  : driver_.cuOccupancyMaxActiveClusters(&value, *found, &*config);
      answer.setValues({value});
      return driverResult(result, sizeQuery ? "cuOccupancyMaxPotentialClusterSize" : "cuOccupancyMaxActiveClusters");
    }
    case wire::Call::LAUNCH: {
      auto launch = call.getLaunch();
      auto found = function(launch.getFunction());
      if (!found) return found.status();
      auto where = stream(launch.getStream(), launch.getPerThread());
      if (!where) return where.status();
      PackedParameters parameters(launch);
      // One place left after them for the cooperative flag.
      std::array<CUlaunchAttribute, kMaxLaunchAttributes> converted;  // set as far as used
      auto described = launchConfig(launch, std::span(converted).first(kMaxLaunchAttributes - 1),
                                    [this](std::uint64_t id) { return event(id); });
      if (!described) return described.status();
      CUlaunchConfig config = *described;
      config.hStream = *where;
      if (launch.getCooperative()) {
        converted[config.numAttrs].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
        converted[config.numAttrs].value.cooperative = 1;
        ++config.numAttrs;
      }
      auto gate = gateFor(*where);
      if (!gate) return gate.status();
      scheduler::GatedWork gated(*gate, state.lease().tenant(), *where, gpuTime());
      CUresult result = config.numAttrs == 0
                            ? driver_.cuLaunchKernel(*found, config.gridDimX, config.gridDimY, config.gridDimZ,
                                                     config.blockDimX, config.blockDimY, config.blockDimZ,
                                                     config.sharedMemBytes, *where, nullptr, parameters.extra())
                            : driver_.cuLaunchKernelEx(&config, *found, nullptr, parameters.extra());
      if (result == CUDA_SUCCESS) gated.submitted();
      return driverResult(result, "cuLaunchKernel");
    }
    default:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "not a code call");
  }
}

}  // namespace fastgpu::server
