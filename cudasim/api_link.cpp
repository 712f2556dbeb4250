// Linking at run time (cuLinkCreate, AddData, AddFile, Complete, Destroy). cudasim runs kernels
// through their twins, so there is no code to relocate: linking gathers the inputs' images
// (cubins, PTX, fat binaries, the fat binaries of host objects and of the objects in a static
// library) into one fat binary, whose kernels and globals are every input's. Each input is parsed
// when it is added, so a bad one fails there, as with the driver's linker. JIT options are accepted
// are accepted and ignored (docs/cudasim.md), but for the error log buffer, which gets the reason
// a call failed.
#include <mutex>

#include <fmt/format.h>

#include "cudaabi/jit_inputs.h"
#include "cudaabi/kernel_image.h"
#include "cudasim/entry.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

struct Link : HandleObject {
  std::mutex mutex;
  cudaabi::JitErrorLog errorLog;  // the program's
  std::vector<cudaabi::FatbinEntry> entries;
  std::vector<std::uint8_t> image;  // once completed; valid until the link is destroyed
};

// Hopper's SM version, for images that do not say theirs (cudasim runs twins on any).
constexpr std::uint32_t kSmVersion = 90;

// The fat binary a host object carries (nvcc puts it in .nv_fatbin).
Status addObject(std::span<const std::uint8_t> object, std::vector<cudaabi::FatbinEntry>& into) {
  auto section = cudaabi::elfSection(object, ".nv_fatbin");
  if (!section) return Status(CUDA_ERROR_INVALID_IMAGE, "a host object without device code (.nv_fatbin)");
  auto entries = cudaabi::parseFatbin(*section);
  if (!entries) return entries.status();
  for (auto& entry : *entries) into.push_back(std::move(entry));
  return Status::ok();
}

Status addInput(CUjitInputType type, std::span<const std::uint8_t> bytes, std::vector<cudaabi::FatbinEntry>& into) {
  switch (type) {
    case CU_JIT_INPUT_CUBIN:
    case CU_JIT_INPUT_PTX: {
      bool cubin = type == CU_JIT_INPUT_CUBIN;
      if (!cubin && !bytes.empty() && bytes.back() == '\0') bytes = bytes.first(bytes.size() - 1);
      auto parsed = cubin ? cudaabi::parseCubin(bytes)
                          : cudaabi::parsePtx({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
      if (!parsed) return parsed.status();
      cudaabi::FatbinEntry entry{static_cast<std::uint16_t>(cubin ? 2 : 1), kSmVersion, false, {}};
      entry.payload.assign(bytes.begin(), bytes.end());
      into.push_back(std::move(entry));
      return Status::ok();
    }
    case CU_JIT_INPUT_FATBINARY: {
      auto entries = cudaabi::parseFatbin(bytes);
      if (!entries) return entries.status();
      for (auto& entry : *entries) into.push_back(std::move(entry));
      return Status::ok();
    }
    case CU_JIT_INPUT_OBJECT:
      return addObject(bytes, into);
    case CU_JIT_INPUT_LIBRARY: {
      auto members = cudaabi::archiveMembers(bytes);
      if (!members) return members.status();
      for (auto member : *members) {
        // Objects of a library without device code are host code only: nothing to link.
        if (cudaabi::elfSection(member, ".nv_fatbin")) {
          if (Status added = addObject(member, into); !added) return added;
        }
      }
      return Status::ok();
    }
    case CU_JIT_INPUT_NVVM:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "cudasim does not link NVVM IR (link-time optimization)");
    default:
      return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("unknown link input type {}", static_cast<int>(type)));
  }
}

template <typename Body>
CUresult withLink(const char* name, CUlinkState state, Body&& body) {
  return driverEntry(name, [&](Driver& driver) -> CUresult {
    auto link = driver.handles().find<Link>(HandleKind::kLink, state);
    if (!link) return CUDA_ERROR_INVALID_HANDLE;
    std::lock_guard lock(link->mutex);
    Status status = body(driver, *link);
    if (!status) link->errorLog.write(status.message());
    return fail(status);
  });
}

}  // namespace

FASTGPU_SIM_EXPORT CUresult cuLinkCreate_v2(unsigned int count, CUjit_option* options, void** values,
                                            CUlinkState* out) {
  return driverEntry(__func__, [&](Driver& driver) -> CUresult {
    if (out == nullptr || (count > 0 && (options == nullptr || values == nullptr))) return CUDA_ERROR_INVALID_VALUE;
    auto context = driver.requireCurrentContext();
    if (!context) return fail(context);
    auto link = std::make_shared<Link>();
    link->errorLog = cudaabi::jitErrorLog(count, options, values);
    *out = toHandle<CUlinkState>(driver.handles().add(HandleKind::kLink, std::move(link)));
    return CUDA_SUCCESS;
  });
}
FASTGPU_SIM_EXPORT CUresult cuLinkCreate(unsigned int count, CUjit_option* options, void** values, CUlinkState* out) {
  return cuLinkCreate_v2(count, options, values, out);
}

FASTGPU_SIM_EXPORT CUresult cuLinkAddData_v2(CUlinkState state, CUjitInputType type, void* data, size_t size,
                                             const char*, unsigned int, CUjit_option*, void**) {
  return withLink(__func__, state, [&](Driver&, Link& link) -> Status {
    if (data == nullptr || size == 0) return Status(CUDA_ERROR_INVALID_VALUE, "no input");
    if (!link.image.empty()) return Status(CUDA_ERROR_INVALID_VALUE, "the link is complete");
    return addInput(type, {static_cast<const std::uint8_t*>(data), size}, link.entries);
  });
}
FASTGPU_SIM_EXPORT CUresult cuLinkAddData(CUlinkState state, CUjitInputType type, void* data, size_t size,
                                          const char* name, unsigned int count, CUjit_option* options, void** values) {
  return cuLinkAddData_v2(state, type, data, size, name, count, options, values);
}

FASTGPU_SIM_EXPORT CUresult cuLinkAddFile_v2(CUlinkState state, CUjitInputType type, const char* path, unsigned int count,
                                             CUjit_option* options, void** values) {
  auto bytes = cudaabi::readJitInputFile(path, type);
  if (!bytes) return bytes.code();
  return cuLinkAddData_v2(state, type, bytes->data(), bytes->size(), path, count, options, values);
}
FASTGPU_SIM_EXPORT CUresult cuLinkAddFile(CUlinkState state, CUjitInputType type, const char* path, unsigned int count,
                                          CUjit_option* options, void** values) {
  return cuLinkAddFile_v2(state, type, path, count, options, values);
}

FASTGPU_SIM_EXPORT CUresult cuLinkComplete(CUlinkState state, void** image, size_t* size) {
  return withLink(__func__, state, [&](Driver&, Link& link) -> Status {
    if (image == nullptr || size == nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "nowhere to put the image");
    if (link.entries.empty() && link.image.empty()) return Status(CUDA_ERROR_INVALID_IMAGE, "nothing to link");
    if (link.image.empty()) {
      link.image = cudaabi::writeFatbin(link.entries);
      link.entries.clear();
    }
    *image = link.image.data();
    *size = link.image.size();
    return Status::ok();
  });
}

FASTGPU_SIM_EXPORT CUresult cuLinkDestroy(CUlinkState state) {
  return driverEntry(__func__, [&](Driver& driver) -> CUresult {
    if (!driver.handles().find<Link>(HandleKind::kLink, state)) return CUDA_ERROR_INVALID_HANDLE;
    driver.handles().remove(reinterpret_cast<std::uint64_t>(state));
    return CUDA_SUCCESS;
  });
}
