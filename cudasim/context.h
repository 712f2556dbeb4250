// A simulated CUDA context: its device, its streams (legacy default, per-thread default and
// created ones), the errors of its asynchronous work, and its limits.
//
// Legacy default stream semantics live in enqueue(): work on the legacy stream waits for all
// prior work of the context's blocking streams, and work on a blocking stream waits for prior
// legacy work.
//
// Threading: every method may be called from any thread.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "cudaabi/result.h"
#include "cudasim/stream.h"

namespace fastgpu::sim {

// Errors of asynchronous work, reported at the next synchronizing call. Sticky errors (an
// illegal address, a failed launch, ...) stay until the context is destroyed.
class ContextErrors : public AsyncErrorSink {
 public:
  void recordAsyncError(CUresult error) override;
  // The pending error: a sticky one forever, another once.
  CUresult take();
  // The sticky error, or CUDA_SUCCESS; does not clear anything.
  CUresult sticky() const;
  static bool isSticky(CUresult error);

 private:
  mutable std::mutex mutex_;
  CUresult pending_ = CUDA_SUCCESS;
  CUresult sticky_ = CUDA_SUCCESS;
};

class Context : public HandleObject {
 public:
  Context(Device& device, unsigned flags, bool primary, Progress& progress);
  ~Context() override;

  Device& device() const { return device_; }
  unsigned flags() const { return flags_; }
  bool isPrimary() const { return primary_; }
  ContextErrors& errors() { return *errors_; }

  // Streams. The legacy stream always exists; per-thread streams are made on first use.
  std::shared_ptr<Stream> legacyStream() const { return legacy_; }
  std::shared_ptr<Stream> perThreadStream();
  std::shared_ptr<Stream> createStream(unsigned flags, int priority);
  void forgetStream(const Stream& stream);

  // Queues `operation` on `stream` (a stream of this context) with the implicit
  // synchronization of the legacy default stream.
  std::shared_ptr<Completion> enqueue(Stream& stream, Operation operation);
  // Waits for all work queued so far on every stream of the context.
  void synchronize();

  Result<std::size_t> limit(CUlimit limit) const;
  Status setLimit(CUlimit limit, std::size_t value);

  // Peer access from this context to the memory of context `peer` (its handle) on another device:
  // PEER_ACCESS_ALREADY_ENABLED / PEER_ACCESS_NOT_ENABLED as the driver reports them.
  Status enablePeer(std::uint64_t peer);
  Status disablePeer(std::uint64_t peer);

 private:
  Device& device_;
  const unsigned flags_;
  const bool primary_;
  Progress& progress_;
  std::shared_ptr<ContextErrors> errors_;
  std::shared_ptr<Stream> legacy_;

  mutable std::mutex mutex_;  // guards the fields below and orders enqueue()
  std::vector<std::shared_ptr<Stream>> created_;
  std::map<std::thread::id, std::shared_ptr<Stream>> perThread_;
  std::map<CUlimit, std::size_t> limits_;
  std::set<std::uint64_t> peers_;
};

}  // namespace fastgpu::sim
