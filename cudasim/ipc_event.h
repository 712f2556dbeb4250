// Interprocess events (CU_EVENT_INTERPROCESS, cuIpcGetEventHandle / cuIpcOpenEventHandle): what
// every process holding the event shares lives in one page of a memfd: how many records were made
// and the newest one its stream has reached. A record takes the next generation and marks it
// reached when its stream gets there; a query, a synchronize or a stream's wait asks whether the
// generation newest at the call is reached. Another process of the same user opens the memfd
// through /proc/<pid>/fd/<fd>, checking the serial in its name (ipc.h does the same for memory).
//
// Threading: any thread of any process.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "cudaabi/cuda_api.h"
#include "cudaabi/result.h"

namespace fastgpu::sim {

// What cudasim writes into a CUipcEventHandle's 64 bytes.
struct IpcEventHandleContents {
  static constexpr std::uint32_t kMagic = 0x45495346;  // "FSIE"
  std::uint32_t magic = kMagic;
  std::uint32_t pid = 0;
  std::int32_t fd = -1;
  std::uint32_t reserved = 0;
  std::uint64_t serial = 0;
};
static_assert(sizeof(IpcEventHandleContents) <= sizeof(CUipcEventHandle));

class SharedEventState {
 public:
  // A new shared state (an interprocess event is created).
  static Result<std::shared_ptr<SharedEventState>> create();
  // The state of another process's event; CUDA_ERROR_INVALID_CONTEXT in the process that made it.
  static Result<std::shared_ptr<SharedEventState>> open(const IpcEventHandleContents& handle);
  ~SharedEventState();
  SharedEventState(const SharedEventState&) = delete;
  SharedEventState& operator=(const SharedEventState&) = delete;

  IpcEventHandleContents handle() const;
  // A record is made: its generation.
  std::uint64_t recordMade();
  // The record of `generation` was reached by its stream.
  void reached(std::uint64_t generation);
  // The newest record's generation (0: never recorded), and whether it was reached.
  std::uint64_t newest() const;
  bool isReached(std::uint64_t generation) const;
  // Blocks until `generation` is reached.
  void waitFor(std::uint64_t generation) const;

 private:
  struct Page {
    std::atomic<std::uint64_t> made;
    std::atomic<std::uint64_t> reached;
  };
  SharedEventState(int fd, std::uint64_t serial, Page* page) : fd_(fd), serial_(serial), page_(page) {}
  const int fd_;  // kept open: other processes open the event through it
  const std::uint64_t serial_;
  Page* const page_;
};

}  // namespace fastgpu::sim
