// Completion of queued work, and waiting for it.
//
// Every operation queued on a stream owns a Completion. Streams, events and host threads wait
// for completions through the driver-wide Progress object: one condition variable for the whole
// simulated machine keeps cross-stream and cross-device waits simple (this is a simulator; the
// cost is spurious wake-ups, not correctness).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace fastgpu::sim {

using Clock = std::chrono::steady_clock;

struct Completion {
  bool done = false;       // guarded by Progress's mutex
  // When the work finished on the simulated device's timeline (what event timing reports);
  // valid once done.
  Clock::time_point when;
};

class Progress {
 public:
  void complete(Completion& completion, Clock::time_point when) {
    {
      std::lock_guard lock(mutex_);
      completion.when = when;
      completion.done = true;
    }
    changed_.notify_all();
  }

  // When a completion finished; it must be done.
  Clock::time_point whenDone(const Completion& completion) const {
    std::lock_guard lock(mutex_);
    return completion.when;
  }

  bool isDone(const Completion& completion) const {
    std::lock_guard lock(mutex_);
    return completion.done;
  }

  // Blocks until `completion` is done.
  void wait(const Completion& completion) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return completion.done; });
  }

  // Blocks until `ready()` holds; `ready` runs under the progress lock and must only read
  // completions.
  template <typename Ready>
  void waitUntil(Ready&& ready) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, ready);
  }

  // Wakes every waiter (a stream shutting down).
  void poke() { changed_.notify_all(); }

  std::mutex& mutex() const { return mutex_; }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
};

}  // namespace fastgpu::sim
