// Modules, libraries and functions. A load sends the image and gets back every kernel's id and
// parameter layout (decision 6): looking up kernels and packing launches need no round trip. Of a
// fat binary only what the session's GPUs can use is sent (cudaabi/fatbin_selection.h), and a
// large image the server keeps in its module cache only by digest (protocol/code_digest.h).
#include "cudaabi/fatbin_selection.h"
#include "cudaabi/kernel_image.h"
#include "interposer/remote.h"
#include "protocol/call_kinds.h"
#include "protocol/code_digest.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

// The SM versions (10 * major + minor) of the session's devices.
std::vector<std::uint32_t> sessionSmVersions(Runtime& rt) {
  std::vector<std::uint32_t> versions;
  for (int ordinal = 0; ordinal < rt.deviceCount(); ++ordinal) {
    int major = rt.device(ordinal).attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    int minor = rt.device(ordinal).attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    if (major > 0 && minor >= 0) versions.push_back(static_cast<std::uint32_t>(10 * major + minor));
  }
  return versions;
}

// Asks the server to load the image named by `image`'s digest, if it holds it (the module cache);
// none when it does not, or keeps no cache.
std::optional<Result<std::unique_ptr<ReplyMessage>>> loadByDigest(Client& client, std::uint64_t context,
                                                                   std::span<const std::uint8_t> image, bool library) {
  if (image.size() < protocol::kCachedImageMinBytes || !client.serverCachesModules()) return std::nullopt;
  protocol::CodeDigest digest = protocol::codeDigest(image);
  CallMessage call(context);
  auto cached = call->initCodeLoadCached();
  cached.setDigest(kj::arrayPtr(digest.data(), digest.size()));
  cached.setLibrary(library);
  auto reply = ask(client, call);
  if (!reply && reply.code() == CUDA_ERROR_NOT_FOUND) return std::nullopt;
  return reply;
}

// Sends an image too large for one frame in parts, then asks the server to load it.
Result<std::unique_ptr<ReplyMessage>> uploadImage(Client& client, std::uint64_t context,
                                                  std::span<const std::uint8_t> image, bool library) {
  for (std::size_t offset = 0; offset < image.size(); offset += protocol::kMaxCopyChunkBytes) {
    CallMessage part(context);
    auto upload = part->initCodeUpload();
    upload.setOffset(offset);
    upload.setTotal(image.size());
    auto bytes = image.subspan(offset, std::min<std::size_t>(protocol::kMaxCopyChunkBytes, image.size() - offset));
    upload.setBytes(bytes.size());
    post(client, part, bytes);
  }
  CallMessage load(context);
  load->setCodeLoadUploaded(library);
  return ask(client, load);
}

// Loads `image` on the server: by digest when it holds it, else with its bytes.
Result<std::unique_ptr<ReplyMessage>> sendImage(Client& client, std::uint64_t context,
                                                std::span<const std::uint8_t> image, bool library) {
  if (auto reply = loadByDigest(client, context, image, library)) return std::move(*reply);
  if (image.size() > protocol::kMaxInlineImageBytes) return uploadImage(client, context, image, library);
  CallMessage call(context);
  auto data = kj::arrayPtr(image.data(), image.size());
  if (library) call->setLibraryLoad(data);
  else call->setModuleLoad(data);
  return ask(client, call);
}

CUresult load(const void* image, bool library, std::uint64_t* handle) {
  return remoteEntry(library ? "cuLibraryLoadData" : "cuModuleLoadData", [&](Runtime& rt, Client& client) {
    if (handle == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto bytes = cudaabi::imageBytesFromPointer(image);
    if (!bytes) return bytes.code();
    // FASTGPU_SEND_WHOLE_IMAGES=1 sends every entry (for comparisons: bench/ modules).
    static const bool whole = [] {
      const char* value = std::getenv("FASTGPU_SEND_WHOLE_IMAGES");
      return value != nullptr && std::string_view(value) == "1";
    }();
    auto selected = whole ? std::nullopt : cudaabi::fatbinForDevices(*bytes, sessionSmVersions(rt));
    std::span<const std::uint8_t> sent = selected ? std::span<const std::uint8_t>(*selected) : *bytes;
    auto reply = sendImage(client, rt.currentContextId(), sent, library);
    if (!reply) return resultOf(client, reply, false);
    auto module = (*reply)->get().getModule();
    rt.addKernels(module.getHandle(), module);
    *handle = module.getHandle();
    return CUDA_SUCCESS;
  });
}

CUresult unload(std::uint64_t handle, bool library) {
  return remoteEntry(library ? "cuLibraryUnload" : "cuModuleUnload", [&](Runtime& rt, Client& client) {
    CallMessage call(rt.currentContextId());
    if (library) call->setLibraryUnload(handle);
    else call->setModuleUnload(handle);
    CUresult result = askResult(client, call);
    if (result == CUDA_SUCCESS) rt.removeCode(handle);
    return result;
  });
}

CUresult kernelNamed(std::uint64_t owner, const char* name, std::uint64_t* kernel) {
  return remoteEntry("cuModuleGetFunction", [&](Runtime& rt, Client&) {
    if (kernel == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    auto found = rt.kernelByName(owner, name);
    if (!found) return CUDA_ERROR_NOT_FOUND;
    *kernel = *found;
    return CUDA_SUCCESS;
  });
}

CUresult globalOf(std::uint64_t owner, const char* name, bool library, CUdeviceptr* address, size_t* bytes) {
  return remoteEntry("cuModuleGetGlobal", [&](Runtime& rt, Client& client) {
    if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto symbol = library ? call->initLibraryGetGlobal() : call->initModuleGetGlobal();
    symbol.setOwner(owner);
    symbol.setName(name);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    if (values.size() != 2) return CUDA_ERROR_UNKNOWN;
    if (address != nullptr) *address = static_cast<CUdeviceptr>(values[0]);
    if (bytes != nullptr) *bytes = static_cast<std::size_t>(values[1]);
    // A global is device memory the program may copy to and from.
    rt.addAllocation(static_cast<std::uint64_t>(values[0]), static_cast<std::uint64_t>(values[1]));
    return CUDA_SUCCESS;
  });
}

CUresult paramInfo(std::uint64_t function, size_t index, size_t* offset, size_t* size) {
  return remoteEntry("cuFuncGetParamInfo", [&](Runtime& rt, Client&) {
    const KernelLayout* layout = rt.layout(function);
    if (layout == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    if ((offset == nullptr && size == nullptr) || index >= layout->params.size()) return CUDA_ERROR_INVALID_VALUE;
    if (offset != nullptr) *offset = layout->params[index].offset;
    if (size != nullptr) *size = layout->params[index].size;
    return CUDA_SUCCESS;
  });
}

CUresult nameOf(std::uint64_t function, const char** name) {
  return remoteEntry("cuFuncGetName", [&](Runtime& rt, Client&) {
    const KernelLayout* layout = rt.layout(function);
    if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (layout == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    *name = layout->name.c_str();
    return CUDA_SUCCESS;
  });
}

CUresult getAttribute(int* value, CUfunction_attribute attribute, std::uint64_t function) {
  return remoteEntry("cuFuncGetAttribute", [&](Runtime& rt, Client& client) {
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto get = call->initFuncGetAttribute();
    get.setFunction(function);
    get.setAttribute(attribute);
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    *value = values.empty() ? 0 : static_cast<int>(values[0]);
    return CUDA_SUCCESS;
  });
}

CUresult setAttribute(std::uint64_t function, CUfunction_attribute attribute, int value) {
  return remoteEntry("cuFuncSetAttribute", [&](Runtime& rt, Client& client) {
    if (rt.layout(function) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    CallMessage call(rt.currentContextId());
    auto set = call->initFuncSetAttribute();
    set.setFunction(function);
    set.setAttribute(attribute);
    set.setValue(value);
    post(client, call);
    return CUDA_SUCCESS;
  });
}

}  // namespace

namespace fastgpu::interposer {

CUresult loadModule(CUmodule* module, const void* image) {
  std::uint64_t handle = 0;
  CUresult result = load(image, false, &handle);
  if (result == CUDA_SUCCESS && module != nullptr) *module = handleOf<CUmodule>(handle);
  return result;
}

}  // namespace fastgpu::interposer

FASTGPU_REMOTE_EXPORT CUresult cuModuleLoadData(CUmodule* module, const void* image) { return loadModule(module, image); }
FASTGPU_REMOTE_EXPORT CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int, CUjit_option*,
                                                  void**) {
  return loadModule(module, image);
}
FASTGPU_REMOTE_EXPORT CUresult cuModuleLoadFatBinary(CUmodule* module, const void* fatbin) {
  return loadModule(module, fatbin);
}
FASTGPU_REMOTE_EXPORT CUresult cuModuleUnload(CUmodule module) { return unload(idOf(module), false); }

FASTGPU_REMOTE_EXPORT CUresult cuModuleGetFunction(CUfunction* function, CUmodule module, const char* name) {
  std::uint64_t found = 0;
  CUresult result = kernelNamed(idOf(module), name, &found);
  if (result == CUDA_SUCCESS) *function = handleOf<CUfunction>(found);
  return result;
}

FASTGPU_REMOTE_EXPORT CUresult cuModuleGetGlobal_v2(CUdeviceptr* address, size_t* bytes, CUmodule module,
                                                    const char* name) {
  return globalOf(idOf(module), name, false, address, bytes);
}

FASTGPU_REMOTE_EXPORT CUresult cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option*, void**,
                                                 unsigned int, CUlibraryOption*, void**, unsigned int) {
  std::uint64_t handle = 0;
  CUresult result = load(code, true, &handle);
  if (result == CUDA_SUCCESS && library != nullptr) *library = handleOf<CUlibrary>(handle);
  return result;
}

FASTGPU_REMOTE_EXPORT CUresult cuLibraryUnload(CUlibrary library) { return unload(idOf(library), true); }

FASTGPU_REMOTE_EXPORT CUresult cuLibraryGetKernel(CUkernel* kernel, CUlibrary library, const char* name) {
  std::uint64_t found = 0;
  CUresult result = kernelNamed(idOf(library), name, &found);
  if (result == CUDA_SUCCESS) *kernel = handleOf<CUkernel>(found);
  return result;
}

FASTGPU_REMOTE_EXPORT CUresult cuLibraryGetGlobal(CUdeviceptr* address, size_t* bytes, CUlibrary library,
                                                  const char* name) {
  return globalOf(idOf(library), name, true, address, bytes);
}

FASTGPU_REMOTE_EXPORT CUresult cuLibraryGetModule(CUmodule* module, CUlibrary library) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (module == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setLibraryGetModule(idOf(library));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    *module = handleOf<CUmodule>((*reply)->get().getHandle());
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuKernelGetFunction(CUfunction* function, CUkernel kernel) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (function == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setKernelGetFunction(idOf(kernel));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    std::uint64_t id = (*reply)->get().getHandle();
    rt.aliasLayout(id, idOf(kernel));
    *function = handleOf<CUfunction>(id);
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuFuncGetParamInfo(CUfunction f, size_t index, size_t* offset, size_t* size) {
  return paramInfo(idOf(f), index, offset, size);
}
FASTGPU_REMOTE_EXPORT CUresult cuKernelGetParamInfo(CUkernel k, size_t index, size_t* offset, size_t* size) {
  return paramInfo(idOf(k), index, offset, size);
}
FASTGPU_REMOTE_EXPORT CUresult cuFuncGetName(const char** name, CUfunction f) { return nameOf(idOf(f), name); }
FASTGPU_REMOTE_EXPORT CUresult cuKernelGetName(const char** name, CUkernel k) { return nameOf(idOf(k), name); }
FASTGPU_REMOTE_EXPORT CUresult cuFuncGetAttribute(int* value, CUfunction_attribute attribute, CUfunction f) {
  return getAttribute(value, attribute, idOf(f));
}
FASTGPU_REMOTE_EXPORT CUresult cuKernelGetAttribute(int* value, CUfunction_attribute attribute, CUkernel k, CUdevice) {
  return getAttribute(value, attribute, idOf(k));
}
FASTGPU_REMOTE_EXPORT CUresult cuFuncSetAttribute(CUfunction f, CUfunction_attribute attribute, int value) {
  return setAttribute(idOf(f), attribute, value);
}
FASTGPU_REMOTE_EXPORT CUresult cuKernelSetAttribute(CUfunction_attribute attribute, int value, CUkernel k, CUdevice) {
  return setAttribute(idOf(k), attribute, value);
}
FASTGPU_REMOTE_EXPORT CUresult cuFuncSetCacheConfig(CUfunction, CUfunc_cache) { return CUDA_SUCCESS; }
FASTGPU_REMOTE_EXPORT CUresult cuKernelSetCacheConfig(CUkernel, CUfunc_cache, CUdevice) { return CUDA_SUCCESS; }

FASTGPU_REMOTE_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* blocks, CUfunction f,
                                                                                    int blockSize, size_t shared,
                                                                                    unsigned int flags) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (blocks == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto query = call->initOccupancyBlocksPerSm();
    query.setFunction(idOf(f));
    query.setBlockSize(blockSize);
    query.setSharedBytes(shared);
    query.setFlags(flags);
    return askValue(client, call, blocks);
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, CUfunction f, int blockSize,
                                                                           size_t shared) {
  return cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(blocks, f, blockSize, shared, 0);
}

// cuBLAS and cuDNN ask this while they create their handles; the answer depends on the kernel's
// static shared memory and the GPU, so the server's driver gives it.
FASTGPU_REMOTE_EXPORT CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t* shared, CUfunction f, int blocks,
                                                                       int blockSize) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) {
    if (shared == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    auto query = call->initOccupancyDynamicShared();
    query.setFunction(idOf(f));
    query.setBlocks(blocks);
    query.setBlockSize(blockSize);
    return askValue(client, call, shared);
  });
}
