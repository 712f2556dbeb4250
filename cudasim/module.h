// Code loaded into a context (Module, Function) and context-independent libraries (Library,
// Kernel), as in the CUDA 12 library API. A Library instantiates one Module per context on
// first use; a Kernel resolves to that module's Function.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "cudaabi/kernel_image.h"
#include "cudasim/handle_table.h"
#include "fastgpu/sim_twin.h"

namespace fastgpu::sim {

class Context;
class Module;

class Function : public HandleObject {
 public:
  Function(Module& module, const cudaabi::KernelInfo& info, fastgpu_sim_twin_fn twin)
      : module_(module), info_(info), twin_(twin) {}

  Module& module() const { return module_; }
  const cudaabi::KernelInfo& info() const { return info_; }
  fastgpu_sim_twin_fn twin() const { return twin_; }  // null: no twin registered
  int maxDynamicSharedBytes() const { return maxDynamicShared_.load(std::memory_order_relaxed); }
  void setMaxDynamicSharedBytes(int bytes) { maxDynamicShared_.store(bytes, std::memory_order_relaxed); }

 private:
  Module& module_;
  const cudaabi::KernelInfo& info_;
  const fastgpu_sim_twin_fn twin_;
  std::atomic<int> maxDynamicShared_{48 * 1024};
};

class Module : public HandleObject {
 public:
  struct Global {
    std::uint64_t address;
    std::uint64_t size;
  };

  Module(std::shared_ptr<const cudaabi::KernelImage> image, std::uint64_t contextHandle)
      : image_(std::move(image)), contextHandle_(contextHandle) {}

  const cudaabi::KernelImage& image() const { return *image_; }
  std::uint64_t contextHandle() const { return contextHandle_; }

  std::map<std::string, Global>& globals() { return globals_; }
  const Global* findGlobal(const std::string& name) const {
    auto it = globals_.find(name);
    return it == globals_.end() ? nullptr : &it->second;
  }
  // Functions, made once per name; guarded by functionsMutex().
  std::map<std::string, std::shared_ptr<Function>>& functions() { return functions_; }
  std::mutex& functionsMutex() { return functionsMutex_; }

 private:
  std::shared_ptr<const cudaabi::KernelImage> image_;
  const std::uint64_t contextHandle_;
  std::map<std::string, Global> globals_;  // fixed after load
  std::mutex functionsMutex_;
  std::map<std::string, std::shared_ptr<Function>> functions_;
};

class Library;

class Kernel : public HandleObject {
 public:
  Kernel(Library& library, const cudaabi::KernelInfo& info) : library_(library), info_(info) {}
  Library& library() const { return library_; }
  const cudaabi::KernelInfo& info() const { return info_; }

 private:
  Library& library_;
  const cudaabi::KernelInfo& info_;
};

class Library : public HandleObject {
 public:
  explicit Library(std::shared_ptr<const cudaabi::KernelImage> image) : image_(std::move(image)) {}

  const std::shared_ptr<const cudaabi::KernelImage>& image() const { return image_; }
  // Guarded by mutex(): the module of each context, and the kernels by name.
  std::mutex& mutex() { return mutex_; }
  std::map<std::uint64_t, std::shared_ptr<Module>>& modulesByContext() { return modules_; }
  std::map<std::string, std::shared_ptr<Kernel>>& kernels() { return kernels_; }

 private:
  std::shared_ptr<const cudaabi::KernelImage> image_;
  std::mutex mutex_;
  std::map<std::uint64_t, std::shared_ptr<Module>> modules_;
  std::map<std::string, std::shared_ptr<Kernel>> kernels_;
};

}  // namespace fastgpu::sim
