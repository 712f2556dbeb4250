// Linking at run time through the server's driver (server/dispatch_link.cpp), which knows the GPU
// the code will run on: inputs go to the server as they are added (a file is read here, where the
// program named it), the linked image comes back at cuLinkComplete and stays here until
// cuLinkDestroy, for the program to load as any module. The program's error log buffer gets the
// driver's log (from the failed call's message); its info log is left empty.
#include <map>
#include <mutex>

#include "cudaabi/jit_inputs.h"
#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

// What a link keeps in this process: the program's error log buffer and the linked image.
struct ClientLink {
  cudaabi::JitErrorLog errorLog;
  std::vector<std::uint8_t> image;
};

class ClientLinks {
 public:
  void add(std::uint64_t id, ClientLink link) {
    std::lock_guard lock(mutex_);
    links_[id] = std::move(link);
  }
  // Runs `use` on link `id` under the lock; false when there is no such link.
  template <typename Use>
  bool with(std::uint64_t id, Use&& use) {
    std::lock_guard lock(mutex_);
    auto it = links_.find(id);
    if (it == links_.end()) return false;
    use(it->second);
    return true;
  }
  void remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    links_.erase(id);
  }

 private:
  std::mutex mutex_;
  std::map<std::uint64_t, ClientLink> links_;
};

ClientLinks& links() {
  static ClientLinks* all = new ClientLinks();  // never destroyed: programs link from exit handlers too
  return *all;
}

// The result of a link call; a failure's message goes to the program's error log.
CUresult answered(Client& client, CUlinkState state, const Result<std::unique_ptr<ReplyMessage>>& reply) {
  if (!reply) {
    links().with(idOf(state), [&](ClientLink& link) { link.errorLog.write(reply.status().message()); });
  }
  return resultOf(client, reply, false);
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuLinkCreate_v2(unsigned int count, CUjit_option* options, void** values,
                                               CUlinkState* out) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (out == nullptr || (count > 0 && (options == nullptr || values == nullptr))) return CUDA_ERROR_INVALID_VALUE;
    ClientLink link{.errorLog = cudaabi::jitErrorLog(count, options, values)};
    CallMessage call(rt.currentContextId());
    call->setLinkCreate();
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    std::uint64_t id = (*reply)->get().getHandle();
    links().add(id, std::move(link));
    *out = handleOf<CUlinkState>(id);
    return CUDA_SUCCESS;
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuLinkCreate(unsigned int count, CUjit_option* options, void** values, CUlinkState* out) {
  return cuLinkCreate_v2(count, options, values, out);
}

FASTGPU_REMOTE_EXPORT CUresult cuLinkAddData_v2(CUlinkState state, CUjitInputType type, void* data, size_t size,
                                                const char* name, unsigned int, CUjit_option*, void**) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (data == nullptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
    if (!links().with(idOf(state), [](ClientLink&) {})) return CUDA_ERROR_INVALID_HANDLE;
    CallMessage call(rt.currentContextId());
    auto input = call->initLinkAddData();
    input.setLink(idOf(state));
    input.setType(static_cast<std::uint32_t>(type));
    input.setName(name != nullptr ? name : "");
    input.setData(kj::arrayPtr(static_cast<const std::uint8_t*>(data), size));
    return answered(client, state, ask(client, call));
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuLinkAddData(CUlinkState state, CUjitInputType type, void* data, size_t size,
                                             const char* name, unsigned int count, CUjit_option* options, void** values) {
  return cuLinkAddData_v2(state, type, data, size, name, count, options, values);
}

FASTGPU_REMOTE_EXPORT CUresult cuLinkAddFile_v2(CUlinkState state, CUjitInputType type, const char* path,
                                                unsigned int count, CUjit_option* options, void** values) {
  auto bytes = cudaabi::readJitInputFile(path, type);
  if (!bytes) return bytes.code();
  return cuLinkAddData_v2(state, type, bytes->data(), bytes->size(), path, count, options, values);
}
FASTGPU_REMOTE_EXPORT CUresult cuLinkAddFile(CUlinkState state, CUjitInputType type, const char* path,
                                             unsigned int count, CUjit_option* options, void** values) {
  return cuLinkAddFile_v2(state, type, path, count, options, values);
}

FASTGPU_REMOTE_EXPORT CUresult cuLinkComplete(CUlinkState state, void** image, size_t* size) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (image == nullptr || size == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (!links().with(idOf(state), [](ClientLink&) {})) return CUDA_ERROR_INVALID_HANDLE;
    CallMessage call(rt.currentContextId());
    call->setLinkComplete(idOf(state));
    auto reply = ask(client, call);
    if (!reply) return answered(client, state, reply);
    auto data = (*reply)->get().getData();
    links().with(idOf(state), [&](ClientLink& link) {
      link.image.assign(data.begin(), data.end());
      *image = link.image.data();
      *size = link.image.size();
    });
    return CUDA_SUCCESS;
  });
}

FASTGPU_REMOTE_EXPORT CUresult cuLinkDestroy(CUlinkState state) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (!links().with(idOf(state), [](ClientLink&) {})) return CUDA_ERROR_INVALID_HANDLE;
    CallMessage call(rt.currentContextId());
    call->setLinkDestroy(idOf(state));
    CUresult result = askResult(client, call);
    links().remove(idOf(state));
    return result;
  });
}
