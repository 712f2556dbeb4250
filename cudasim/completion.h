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
  Clock::time_point when;  // when the work finished; valid once done
};

class Progress {
 public:
  void complete(Completion& completion) {
    {
      std::lock_guard lock(mutex_);
      completion.when = Clock::now();
      completion.done = true;
    }
    changed_.notify_all();
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
