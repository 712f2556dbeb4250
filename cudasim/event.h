// A simulated CUDA event: the completion of its latest record, and its flags. An interprocess
// event also has the state it shares with other processes (ipc_event.h), which its records,
// queries and waits go by.
#pragma once

#include <mutex>

#include "cudasim/completion.h"
#include "cudasim/handle_table.h"
#include "cudasim/ipc_event.h"

namespace fastgpu::sim {

class Event : public HandleObject {
 public:
  Event(unsigned flags, std::uint64_t contextHandle, std::shared_ptr<SharedEventState> shared = nullptr)
      : flags_(flags), contextHandle_(contextHandle), shared_(std::move(shared)) {}

  unsigned flags() const { return flags_; }
  bool timingDisabled() const { return (flags_ & 0x2 /* CU_EVENT_DISABLE_TIMING */) != 0; }
  std::uint64_t contextHandle() const { return contextHandle_; }
  // Null unless the event is an interprocess one.
  const std::shared_ptr<SharedEventState>& shared() const { return shared_; }

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
  const std::shared_ptr<SharedEventState> shared_;
  mutable std::mutex mutex_;
  std::shared_ptr<Completion> record_;
};

}  // namespace fastgpu::sim
