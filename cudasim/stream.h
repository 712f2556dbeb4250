// A simulated stream: an ordered queue of operations run by the stream's own worker thread.
//
// Each operation may wait for other completions first (events, the legacy default stream's
// implicit synchronization); device work (kernels, copies, memsets) then takes its device's
// execution lock, so a simulated device runs one piece of work at a time and simulated GPU
// time is meaningful. Host functions run on the worker without the device.
//
// Simulated time: an operation starts, on the device's timeline, when it was queued, its
// stream and what it waits for were done, and (device work) the device was free — not when
// the worker thread got round to it. So the worker's wake-up latency (tens of microseconds on a
// busy host, where a GPU takes a few) is neither in event timings nor in a spin kernel's length.
//
// Threading: enqueue() from any thread; the worker is started by the constructor and joined by
// the destructor after the queue drains.
#pragma once

#include <algorithm>

#include <atomic>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "cudasim/completion.h"
#include "cudasim/handle_table.h"
#include "cudaabi/cuda_api.h"
#include "cudaabi/stream_attributes.h"

namespace fastgpu::sim {

// Stream priorities, as on an H100 (cuCtxGetStreamPriorityRange): 0 the lowest, -5 the highest.
// A priority outside the range is clamped to it, as CUDA does (streams and kernel nodes alike).
inline constexpr int kLeastStreamPriority = 0;
inline constexpr int kGreatestStreamPriority = -5;
inline int clampPriority(int priority) { return std::clamp(priority, kGreatestStreamPriority, kLeastStreamPriority); }

class Context;
class Device;

// Where the errors of asynchronous work go: the owning context's error state.
class AsyncErrorSink {
 public:
  virtual ~AsyncErrorSink() = default;
  virtual void recordAsyncError(CUresult error) = 0;
};

struct Operation {
  enum class Kind { kDeviceWork, kHostWork };
  Kind kind = Kind::kDeviceWork;
  std::function<CUresult()> work;  // empty: a marker (event records, waits)
  std::vector<std::shared_ptr<Completion>> waitFor;
};

class Stream : public HandleObject {
 public:
  enum class Kind { kLegacy, kPerThread, kCreated };

  // `context` owns the stream and outlives it.
  Stream(Kind kind, unsigned flags, int priority, Context& context, Device& device, Progress& progress,
         std::shared_ptr<AsyncErrorSink> errors);
  ~Stream() override;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  Kind kind() const { return kind_; }
  // Unique among this process's streams, never reused (cuStreamGetId).
  std::uint64_t id() const { return id_; }
  Context& context() const { return context_; }
  unsigned flags() const { return flags_; }
  int priority() const { return priority_.load(std::memory_order_relaxed); }
  // CU_STREAM_ATTRIBUTE_PRIORITY (already clamped to the device's range).
  void setPriority(int priority) { priority_.store(priority, std::memory_order_relaxed); }
  // The other attributes it carries (cuStreamSetAttribute); they change no timing here.
  cudaabi::StreamAttributes attributes() const {
    std::lock_guard lock(mutex_);
    return attributes_;
  }
  void setAttributes(const cudaabi::StreamAttributes& attributes) {
    std::lock_guard lock(mutex_);
    attributes_ = attributes;
  }
  // Created with CU_STREAM_NON_BLOCKING: does not synchronize with the legacy stream.
  bool nonBlocking() const { return (flags_ & CU_STREAM_NON_BLOCKING) != 0; }

  // Queues `operation`; returns its completion.
  std::shared_ptr<Completion> enqueue(Operation operation);
  // The completion of the last queued operation (already done when nothing was queued).
  std::shared_ptr<Completion> tail() const;
  bool idle() const;
  void synchronize();

 private:
  void runWorker();
  static std::uint64_t nextId();

  const Kind kind_;
  const std::uint64_t id_ = nextId();
  const unsigned flags_;
  std::atomic<int> priority_;
  Context& context_;
  Device& device_;
  Progress& progress_;
  std::shared_ptr<AsyncErrorSink> errors_;

  mutable std::mutex mutex_;
  std::condition_variable queued_;
  struct Queued {
    Operation operation;
    std::shared_ptr<Completion> completion;
    Clock::time_point enqueued;
  };
  std::deque<Queued> queue_;
  // Runs one operation taken from the queue, after what it waits for, and completes it.
  void run(Queued& next);
  Clock::time_point lastDone_;  // the simulated end of the latest operation; worker only
  std::shared_ptr<Completion> tail_;
  bool stopping_ = false;
  cudaabi::StreamAttributes attributes_;  // under mutex_
  std::thread worker_;
};

}  // namespace fastgpu::sim
