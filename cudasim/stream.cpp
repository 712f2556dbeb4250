#include "cudasim/stream.h"

#include "cudaabi/log.h"
#include "cudasim/device.h"

namespace fastgpu::sim {

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
  tail_->when = Clock::now();
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
    queue_.emplace_back(std::move(operation), completion);
    tail_ = completion;
  }
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
  for (;;) {
    std::pair<Operation, std::shared_ptr<Completion>> next;
    {
      std::unique_lock lock(mutex_);
      queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has run
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    auto& [operation, completion] = next;
    for (const auto& dependency : operation.waitFor) progress_.wait(*dependency);
    if (operation.work) {
      CUresult result = CUDA_SUCCESS;
      try {
        if (operation.kind == Operation::Kind::kDeviceWork) {
          std::lock_guard device(device_.executionMutex());
          result = operation.work();
        } else {
          result = operation.work();
        }
      } catch (const std::exception& e) {
        cudaabi::driverLogger().error("work on stream {:#x} failed: {}", handle(), e.what());
        result = CUDA_ERROR_LAUNCH_FAILED;
      }
      if (result != CUDA_SUCCESS) errors_->recordAsyncError(result);
    }
    progress_.complete(*completion);
  }
}

}  // namespace fastgpu::sim
