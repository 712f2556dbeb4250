// What kernels print: their printf output and the messages of failed device asserts, held until
// the driver's flush points (synchronizations, blocking copies, launches, module loads, context
// destruction) and then written to the process's stdout and stderr, as a GPU's driver writes them.
// Between two flushes at most kCapacity bytes of each are kept; the rest is dropped, as a full
// printf FIFO drops output on a GPU.
//
// Threading: any thread (twins print from stream workers, flushes come from API calls).
#pragma once

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace fastgpu::sim {

class DeviceOutput {
 public:
  static constexpr std::size_t kCapacity = 1 << 20;  // a GPU's default printf FIFO size

  void print(const std::string& text) { append(printed_, text); }
  void assertFailed(const std::string& message) { append(asserts_, message); }
  // Writes what was held to stdout and stderr (through stdio, after what the program itself
  // wrote there, as the driver does).
  void flush();

 private:
  void append(std::string& to, const std::string& text);

  std::atomic<bool> pending_{false};  // something to flush: flush() checks it without the lock
  std::mutex mutex_;
  std::string printed_;
  std::string asserts_;
};

}  // namespace fastgpu::sim
