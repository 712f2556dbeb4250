// Building blocks for state shared by processes — the server's main process and its session
// workers (DESIGN.md, decision 3), cudasim's devices shared by every process that uses them
// (decision 11): a region of memory both map, a mutex that survives the death of the process
// holding it, and a change signal that wakes waiters in every process.
//
// Everything placed in a SharedRegion must hold no pointer and no heap memory (every process
// maps the region at its own address), and must be lock-free or guarded by a ProcessMutex.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "cudaabi/result.h"

namespace fastgpu {

// Memory shared with child processes through a descriptor (a memfd). Owns the mapping and the
// descriptor. Not copyable.
class SharedRegion {
 public:
  // A new zero-filled region of `bytes`, to be handed to children by descriptor().
  static Result<SharedRegion> create(const char* name, std::size_t bytes);
  // Maps the region behind `fd` (taken over), which must be at least `bytes` long.
  static Result<SharedRegion> adopt(int fd, std::size_t bytes);

  SharedRegion(SharedRegion&& other) noexcept;
  SharedRegion& operator=(SharedRegion&& other) noexcept;
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  ~SharedRegion();

  void* data() const { return data_; }
  std::size_t size() const { return bytes_; }
  // The descriptor children inherit (close-on-exec is set; a spawner dups it to a known number).
  int descriptor() const { return fd_; }

 private:
  SharedRegion(int fd, void* data, std::size_t bytes) : fd_(fd), data_(data), bytes_(bytes) {}
  int fd_ = -1;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// A mutex in shared memory. Robust: when its holder dies (a worker killed in the middle of a
// decision), the next locker takes it over and goes on; the guarded fields are kept simple
// enough (counters updated together in short sections) that this is safe.
class ProcessMutex {
 public:
  ProcessMutex();
  ~ProcessMutex();
  ProcessMutex(const ProcessMutex&) = delete;
  ProcessMutex& operator=(const ProcessMutex&) = delete;

  void lock();
  void unlock();

 private:
  pthread_mutex_t mutex_;
};

// Wakes every waiter, in any process, when shared state changed. Change the state with the
// mutex held and call notify() before unlocking; a waiter reads generation() with the mutex held,
// unlocks, and waits for a newer one, so no change is missed.
class ChangeSignal {
 public:
  std::uint32_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Call with the guarding mutex held.
  void notify();
  // Returns when the generation differs from `seen`, at `deadline` (steady clock), or
  // spuriously; callers re-check their condition.
  void wait(std::uint32_t seen, std::optional<std::chrono::steady_clock::time_point> deadline) const;

 private:
  mutable std::atomic<std::uint32_t> generation_{0};
};

}  // namespace fastgpu
