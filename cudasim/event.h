// A simulated CUDA event: the completion of its latest record, and its flags.
#pragma once

#include <mutex>

#include "cudasim/completion.h"
#include "cudasim/handle_table.h"

namespace fastgpu::sim {

class Event : public HandleObject {
 public:
  Event(unsigned flags, std::uint64_t contextHandle) : flags_(flags), contextHandle_(contextHandle) {}

  unsigned flags() const { return flags_; }
  bool timingDisabled() const { return (flags_ & 0x2 /* CU_EVENT_DISABLE_TIMING */) != 0; }
  std::uint64_t contextHandle() const { return contextHandle_; }

  // The completion of the latest record; null when never recorded.
  std::shared_ptr<Completion> lastRecord() const {
    std::lock_guard lock(mutex_);
    return record_;
  }
  void setRecord(std::shared_ptr<Completion> record) {
    std::lock_guard lock(mutex_);
    record_ = std::move(record);
  }

 private:
  const unsigned flags_;
  const std::uint64_t contextHandle_;
  mutable std::mutex mutex_;
  std::shared_ptr<Completion> record_;
};

}  // namespace fastgpu::sim
