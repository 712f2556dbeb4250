#include "cudasim/stream.h"

#include <atomic>

#include "cudaabi/log.h"
#include "cudasim/device.h"
#include "cudasim/work_clock.h"

namespace fastgpu::sim {

std::uint64_t Stream::nextId() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}

Stream::Stream(Kind kind, unsigned flags, int priority, Context& context, Device& device, Progress& progress,
               std::shared_ptr<AsyncErrorSink> errors)
    : kind_(kind),
      flags_(flags),
      priority_(priority),
      context_(context),
      device_(device),
      progress_(progress),
      errors_(std::move(errors)),
      tail_(std::make_shared<Completion>()) {
  tail_->done = true;
  tail_->when = lastDone_ = Clock::now();
  worker_ = std::thread([this] { runWorker(); });
}

Stream::~Stream() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  worker_.join();
}

std::shared_ptr<Completion> Stream::enqueue(Operation operation) {
  auto completion = std::make_shared<Completion>();
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Queued{std::move(operation), completion, Clock::now()});
    tail_ = completion;
  }
  // Always: skipping it while the worker is busy (it finds the operation when it next looks)
  // saved little and, on two cores, left the worker (the simulated GPU) idle more often under a
  // gated load (scheduling_test's work-conservation checks).
  queued_.notify_one();
  return completion;
}

std::shared_ptr<Completion> Stream::tail() const {
  std::lock_guard lock(mutex_);
  return tail_;
}

bool Stream::idle() const { return progress_.isDone(*tail()); }

void Stream::synchronize() { progress_.wait(*tail()); }

void Stream::runWorker() {
  std::deque<Queued> batch;
  for (;;) {
    {
      // Everything queued at once, in order: the enqueuing thread and this one meet on the mutex
      // once per batch, not once per operation.
      std::unique_lock lock(mutex_);
      queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has run
      batch.swap(queue_);
    }
    for (Queued& next : batch) {
      run(next);
      next = Queued{};  // what the operation holds goes as soon as it ran, as before batching
    }
    batch.clear();
  }
}

void Stream::run(Queued& next) {
  auto& [operation, completion, enqueued] = next;
  Clock::time_point start = std::max(enqueued, lastDone_);
  for (const auto& dependency : operation.waitFor) {
    progress_.wait(*dependency);
    start = std::max(start, progress_.whenDone(*dependency));
  }
  Clock::time_point done = start;  // a marker takes no time
  if (operation.work) {
    CUresult result = CUDA_SUCCESS;
    try {
      if (operation.kind == Operation::Kind::kDeviceWork) {
        std::lock_guard device(device_.executionMutex());
        SimulatedWorkStart starting(std::max(start, device_.lastWorkEnd()));
        result = operation.work();
        done = Clock::now();
        device_.setLastWorkEnd(done);
      } else {
        result = operation.work();
        done = Clock::now();
      }
    } catch (const std::exception& e) {
      cudaabi::driverLogger().error("work on stream {:#x} failed: {}", handle(), e.what());
      result = CUDA_ERROR_LAUNCH_FAILED;
      done = Clock::now();
    }
    if (result != CUDA_SUCCESS) errors_->recordAsyncError(result);
  }
  lastDone_ = done;
  progress_.complete(*completion, done);
}

}  // namespace fastgpu::sim
