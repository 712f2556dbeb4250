#include "cudasim/device_output.h"

namespace fastgpu::sim {

void DeviceOutput::append(std::string& to, const std::string& text) {
  std::lock_guard lock(mutex_);
  if (to.size() >= kCapacity) return;
  to.append(text, 0, kCapacity - to.size());
  pending_.store(true, std::memory_order_release);
}

void DeviceOutput::flush() {
  if (!pending_.load(std::memory_order_acquire)) return;  // the common case
  std::string printed, asserts;
  {
    std::lock_guard lock(mutex_);
    pending_.store(false, std::memory_order_relaxed);
    printed.swap(printed_);
    asserts.swap(asserts_);
  }
  if (!printed.empty()) {
    std::fwrite(printed.data(), 1, printed.size(), stdout);
    std::fflush(stdout);
  }
  if (!asserts.empty()) {
    std::fwrite(asserts.data(), 1, asserts.size(), stderr);
    std::fflush(stderr);
  }
}

}  // namespace fastgpu::sim
