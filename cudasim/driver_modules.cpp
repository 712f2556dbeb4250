// Loading code into contexts: modules, their functions and globals, and library instances.
#include <fmt/format.h>

#include "cudaabi/log.h"
#include "cudasim/driver.h"

namespace fastgpu::sim {

Result<std::shared_ptr<Module>> Driver::loadModule(const Context& context,
                                                   std::shared_ptr<const cudaabi::KernelImage> image) {
  auto module = std::make_shared<Module>(std::move(image), context.handle());
  // __device__ variables live in the context's device memory, initialized from the image.
  for (const auto& global : module->image().globals) {
    auto address = context.device().memory().allocate(std::max<std::uint64_t>(global.size, 1), context.handle());
    if (!address) {
      for (const auto& [name, placed] : module->globals()) (void)context.device().memory().free(placed.address);
      return address.status();
    }
    auto* bytes = reinterpret_cast<std::uint8_t*>(*address);
    std::memset(bytes, 0, global.size);
    std::memcpy(bytes, global.initialBytes.data(), global.initialBytes.size());
    module->globals()[global.name] = Module::Global{*address, global.size};
  }
  handles_.add(HandleKind::kModule, module);
  own(context, module->handle());
  return module;
}

void Driver::unloadModule(const std::shared_ptr<Module>& module) {
  handles_.remove(module->handle());
  {
    std::lock_guard lock(module->functionsMutex());
    for (const auto& [name, function] : module->functions()) handles_.remove(function->handle());
  }
  auto context = findContext(toHandle<CUcontext>(module->contextHandle()));
  if (!context) return;  // the context is gone, and its memory with it
  context->synchronize();  // running kernels may still use the module's globals
  for (const auto& [name, global] : module->globals()) (void)context->device().memory().free(global.address);
}

Result<std::shared_ptr<Function>> Driver::moduleFunction(Module& module, const std::string& name) {
  const cudaabi::KernelInfo* info = module.image().findKernel(name);
  if (info == nullptr) return Status(CUDA_ERROR_NOT_FOUND, fmt::format("no kernel named {} in the module", name));
  std::lock_guard lock(module.functionsMutex());
  auto& function = module.functions()[name];
  if (!function) {
    function = std::make_shared<Function>(module, *info, twins_.find(name));
    handles_.add(HandleKind::kFunction, function);
    if (auto context = findContext(toHandle<CUcontext>(module.contextHandle()))) own(*context, function->handle());
  }
  return function;
}

Result<std::shared_ptr<Module>> Driver::libraryModule(Library& library) {
  auto context = requireCurrentContext();
  if (!context) return context.status();
  std::lock_guard lock(library.mutex());
  auto& module = library.modulesByContext()[(*context)->handle()];
  if (module && handles_.find<Module>(HandleKind::kModule, toHandle<CUmodule>(module->handle()))) return module;
  auto loaded = loadModule(**context, library.image());
  if (!loaded) return loaded.status();
  module = *loaded;
  return module;
}

CUresult Driver::loadModuleForRuntime(CUmodule* module, const void* fatbinOrWrapper) {
  auto context = requireCurrentContext();
  if (!context) return context.code();
  auto bytes = cudaabi::imageBytesFromPointer(fatbinOrWrapper);
  if (!bytes) return bytes.code();
  auto image = cudaabi::parseKernelImage(*bytes);
  if (!image) return image.code();
  auto loaded = loadModule(**context, std::make_shared<const cudaabi::KernelImage>(std::move(*image)));
  if (!loaded) return loaded.code();
  *module = toHandle<CUmodule>((*loaded)->handle());
  return CUDA_SUCCESS;
}

}  // namespace fastgpu::sim
