// Tensor maps this process had the server encode, by their exact arguments. Encoding is a pure
// function of the arguments, and Triton and CUTLASS encode the same descriptors again and again
// (often once per launch): a repeat costs no round trip. Bounded: when full it starts over.
// Thread-safe.
#pragma once

#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "cudaabi/cuda_api.h"

namespace fastgpu::interposer {

class TensorMapCache {
 public:
  static constexpr std::size_t kMaxEntries = 4096;

  std::optional<CUtensorMap> find(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = maps_.find(key);
    if (it == maps_.end()) return std::nullopt;
    return it->second;
  }

  void remember(const std::string& key, const CUtensorMap& map) {
    std::lock_guard lock(mutex_);
    if (maps_.size() >= kMaxEntries) maps_.clear();
    maps_[key] = map;
  }

  // Appends a value's bytes to a key under construction.
  template <typename T>
  static void append(std::string& key, const T& value) {
    key.append(reinterpret_cast<const char*>(&value), sizeof(value));
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, CUtensorMap> maps_;
};

}  // namespace fastgpu::interposer
