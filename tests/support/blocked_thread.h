// Tells, from /proc, that a thread of this process is blocked in a system call: a test can
// then know the call it wants to wake (or that must not have returned) is really waiting,
// instead of sleeping and hoping.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <initializer_list>
#include <string>
#include <thread>

namespace fastgpu::testing {

// The calling thread's id, for the thread that will block to publish.
inline pid_t currentThreadId() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

// Waits (at most 10 s) until thread `tid` (0 until it has published its id) is in one of
// `syscalls`; false when it never was.
inline bool waitUntilBlockedIn(const std::atomic<pid_t>& tid, std::initializer_list<long> syscalls) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (tid != 0) {
      std::ifstream file("/proc/self/task/" + std::to_string(tid.load()) + "/syscall");
      long number = -1;
      if (file >> number) {
        for (long wanted : syscalls) {
          if (number == wanted) return true;
        }
      }
    }
    std::this_thread::yield();
  }
  return false;
}

}  // namespace fastgpu::testing
