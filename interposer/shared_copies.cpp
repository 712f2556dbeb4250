// See shared_copies.h.
#include "interposer/shared_copies.h"

#include <cstring>

#include "interposer/remote.h"
#include "interposer/shared_pinned.h"

namespace fastgpu::interposer {

CUresult copyShared(Runtime& rt, Client& client, std::uint64_t device, std::uint64_t offset, std::uint64_t bytes,
                    bool toHost, StreamArg stream) {
  CallMessage call(rt.currentContextId());
  auto copy = call->initCopyShared();
  copy.setDevice(device);
  copy.setOffset(offset);
  copy.setBytes(bytes);
  copy.setToHost(toHost);
  copy.setStream(stream.id);
  copy.setPerThread(stream.perThread);
  copy.setAsync(stream.async);
  return sendInStreamOrder(client, call);
}

namespace {

// A copy through the staging area: the bytes are copied into or out of it here and by the
// server's driver there. The area's two halves take turns: while this side fills (or empties)
// one, the server's driver copies the other, posted asynchronously; a wait on the stream between
// turns says that the server is done with it.
class StagedCopy {
 public:
  StagedCopy(Runtime& rt, Client& client, StagingLease& lease, std::uint64_t device, std::uint8_t* host,
             std::uint64_t bytes, StreamArg stream)
      : rt_(rt), client_(client), lease_(lease), device_(device), host_(host), bytes_(bytes), stream_(stream) {}

  CUresult toDevice() {
    unsigned half = 0;
    for (std::uint64_t offset = 0; offset < bytes_; half ^= 1) {
      std::uint64_t chunk = std::min(halfBytes(), bytes_ - offset);
      std::memcpy(halfMemory(half), host_ + offset, chunk);
      // The other half's copy ran meanwhile; this one may be refilled only once it is done.
      if (offset > 0) {
        if (CUresult result = awaitStream(); result != CUDA_SUCCESS) return result;
      }
      offset += chunk;
      // The last copy of a synchronous one waits; of an asynchronous one, it leaves the area busy.
      bool last = offset == bytes_;
      if (CUresult result = copy(offset - chunk, half, chunk, false, last && !stream_.async); result != CUDA_SUCCESS) {
        return result;
      }
      if (last && stream_.async) lease_.leaveBusy(rt_.currentContextId(), stream_.id, stream_.perThread);
    }
    return CUDA_SUCCESS;
  }

  CUresult toHost() {
    unsigned half = 0;
    std::uint64_t chunk = std::min(halfBytes(), bytes_);
    if (CUresult result = copy(0, half, chunk, true, false); result != CUDA_SUCCESS) return result;
    for (std::uint64_t offset = 0; offset < bytes_; half ^= 1) {
      if (CUresult result = awaitStream(); result != CUDA_SUCCESS) return result;
      std::uint64_t next = offset + chunk;
      std::uint64_t nextChunk = std::min(halfBytes(), bytes_ - next);
      if (next < bytes_) {
        if (CUresult result = copy(next, half ^ 1, nextChunk, true, false); result != CUDA_SUCCESS) return result;
      }
      std::memcpy(host_ + offset, halfMemory(half), chunk);
      offset = next;
      chunk = nextChunk;
    }
    return CUDA_SUCCESS;
  }

 private:
  std::uint64_t halfBytes() const { return lease_.bytes / 2; }
  std::uint8_t* halfMemory(unsigned half) const {
    return static_cast<std::uint8_t*>(lease_.pages.memory) + half * halfBytes();
  }
  // Posted copies are flushed at once, so that the server starts on them.
  CUresult copy(std::uint64_t offset, unsigned half, std::uint64_t chunk, bool toHost, bool waits) {
    StreamArg order = stream_;
    order.async = !waits;
    CUresult result = copyShared(rt_, client_, device_ + offset, lease_.pages.offset + half * halfBytes(), chunk,
                                 toHost, order);
    if (!waits) (void)client_.flush();
    return result;
  }
  // Waits for the stream's work: the copy posted last (and reports an error of it).
  CUresult awaitStream() {
    return synchronizeStream(client_, rt_.currentContextId(), stream_.id, stream_.perThread, true);
  }

  Runtime& rt_;
  Client& client_;
  StagingLease& lease_;
  std::uint64_t device_;
  std::uint8_t* host_;
  std::uint64_t bytes_;
  StreamArg stream_;
};

}  // namespace

std::optional<CUresult> copyThroughStaging(Runtime& rt, Client& client, std::uint64_t device, std::uint8_t* host,
                                           std::uint64_t bytes, bool toHost, StreamArg stream) {
  auto lease = leaseStaging(rt, client);
  if (!lease) return std::nullopt;
  StagedCopy copy(rt, client, *lease, device, host, bytes, stream);
  return toHost ? copy.toHost() : copy.toDevice();
}

}  // namespace fastgpu::interposer
