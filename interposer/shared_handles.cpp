#include "interposer/shared_handles.h"

#include <cstring>

#include "cudaabi/sealed_descriptor.h"

namespace fastgpu::interposer {

Result<SharedHandle> askSharedHandle(Client& client, CallMessage& call) {
  auto reply = ask(client, call);
  if (!reply) return Status(resultOf(client, reply, false), "the server refused to share");
  auto root = (*reply)->get();
  if (!root.isData() || root.getData().size() != kSharedHandleBytes) {
    return Status(CUDA_ERROR_UNKNOWN, "the server's shared handle is not 64 bytes");
  }
  SharedHandle handle{};
  std::memcpy(handle.data(), root.getData().begin(), handle.size());
  return handle;
}

Result<int> askSharedDescriptor(Client& client, CallMessage& call) {
  auto handle = askSharedHandle(client, call);
  if (!handle) return handle.status();
  return cudaabi::sealedDescriptor("fastgpu-shareable-handle", *handle);
}

std::optional<SharedHandle> handleInDescriptor(int fd) {
  SharedHandle handle{};
  if (!cudaabi::readSealedDescriptor(fd, handle)) return std::nullopt;
  return handle;
}

}  // namespace fastgpu::interposer
