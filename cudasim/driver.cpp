#include "cudasim/driver.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>

#include "cudaabi/log.h"

namespace fastgpu::sim {
namespace {

std::atomic<Driver*> gDriver{nullptr};

}  // namespace

std::vector<std::uint64_t>& currentContextStack() {
  thread_local std::vector<std::uint64_t> stack;
  return stack;
}

CUresult Driver::initialize() {
  static std::once_flag once;
  static CUresult result = CUDA_SUCCESS;
  std::call_once(once, [] {
    std::unique_ptr<Driver> driver(new Driver);
    if (Status status = driver->start(); !status) {
      cudaabi::driverLogger().error("cuInit failed: {}", status.message());
      result = status.code();
      return;
    }
    // Released on purpose, never destroyed: see the class comment.
    Driver* running = driver.release();
    cudaabi::installDriverServices(running);
    gDriver.store(running, std::memory_order_release);
  });
  return result;
}

Driver* Driver::instance() { return gDriver.load(std::memory_order_acquire); }

Status Driver::start() {
  auto config = loadSimConfig();
  if (!config) return config.status();
  config_ = std::move(*config);
  auto shares = DeviceShares::open();
  if (!shares) return shares.status();
  shares_ = std::move(*shares);
  for (int ordinal = 0; ordinal < config_.deviceCount; ++ordinal) {
    auto device = Device::create(ordinal, config_.memoryBytes, shares_->device(ordinal));
    if (!device) return device.status();
    devices_.push_back(std::move(*device));
  }
  if (Status loaded = twins_.loadPlugins(config_.twinPlugins); !loaded) return loaded;
  if (!config_.faultKernel.empty()) twins_.injectFault(config_.faultKernel, config_.faultSignal);
  return Status::ok();
}

Device* Driver::device(CUdevice ordinal) {
  if (ordinal < 0 || ordinal >= deviceCount()) return nullptr;
  return devices_[static_cast<std::size_t>(ordinal)].get();
}

Device* Driver::deviceOfAddress(std::uint64_t address) {
  for (auto& device : devices_) {
    if (address >= device->memory().rangeBegin() && address < device->memory().rangeEnd()) return device.get();
  }
  return nullptr;
}

std::shared_ptr<Context> Driver::createContext(Device& device, unsigned flags, bool primary) {
  auto context = std::make_shared<Context>(device, flags, primary, progress_);
  handles_.add(HandleKind::kContext, context);
  return context;
}

void Driver::own(const Context& context, std::uint64_t handle) {
  std::lock_guard lock(ownedMutex_);
  owned_[context.handle()].push_back(handle);
}

void Driver::destroyContext(const std::shared_ptr<Context>& context) {
  handles_.remove(context->handle());
  context->synchronize();
  std::vector<std::uint64_t> owned;
  {
    std::lock_guard lock(ownedMutex_);
    owned = std::move(owned_[context->handle()]);
    owned_.erase(context->handle());
  }
  for (std::uint64_t handle : owned) handles_.remove(handle);
  cudaabi::destroyContextLocalStorage(toHandle<CUcontext>(context->handle()));
  context->device().memory().freeAllOf(context->handle());
}

std::shared_ptr<Context> Driver::activeContext() {
  auto& stack = currentContextStack();
  if (stack.empty()) return nullptr;
  return findContext(toHandle<CUcontext>(stack.back()));
}

Result<std::shared_ptr<Context>> Driver::requireCurrentContext() {
  auto context = activeContext();
  if (!context) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context (or it was destroyed)");
  // A context that met a sticky error (an illegal address, a failed assert) stays failed, as on a
  // GPU: work that needs it fails with that error until it is destroyed or reset.
  if (CUresult sticky = context->errors().sticky(); sticky != CUDA_SUCCESS) {
    return Status(sticky, "the context failed earlier with a sticky error");
  }
  return context;
}

Result<std::shared_ptr<Context>> Driver::retainPrimary(Device& device) {
  std::lock_guard lock(device.primaryMutex());
  auto& primary = device.primary();
  if (!primary.context) primary.context = createContext(device, primary.flags, true);
  ++primary.retainCount;
  return primary.context;
}

Status Driver::releasePrimary(Device& device) {
  std::shared_ptr<Context> doomed;
  {
    std::lock_guard lock(device.primaryMutex());
    auto& primary = device.primary();
    if (primary.retainCount == 0) return Status(CUDA_ERROR_INVALID_CONTEXT, "primary context is not retained");
    if (--primary.retainCount == 0) doomed = std::move(primary.context);
  }
  if (doomed) destroyContext(doomed);
  return Status::ok();
}

void Driver::resetPrimary(Device& device) {
  std::shared_ptr<Context> doomed;
  {
    std::lock_guard lock(device.primaryMutex());
    doomed = std::move(device.primary().context);
    device.primary().retainCount = 0;
  }
  if (doomed) destroyContext(doomed);
}

std::vector<cudaabi::IntegrityDeviceRecord> Driver::integrityDevices() {
  std::vector<cudaabi::IntegrityDeviceRecord> records;
  for (const auto& device : devices_) {
    cudaabi::IntegrityDeviceRecord record{};
    std::memcpy(record.uuid, device->uuid().bytes, sizeof(record.uuid));
    record.pciDomain = 0;
    record.pciBus = device->pciBus();
    record.pciDevice = 0;
    records.push_back(record);
  }
  return records;
}

// cudasim has no vGPU: a device's memory is this process's, and its GPU time is not metered.
CUresult Driver::vgpuStatus(int ordinal, cudaabi::VgpuStatus& status) {
  Device* target = device(ordinal);
  if (target == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  status.totalBytes = target->memory().capacity();
  status.usedBytes = target->memory().used();
  status.atNanos = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                  std::chrono::steady_clock::now().time_since_epoch())
                                                  .count());
  status.processCount = 1;
  status.processes[0] = {static_cast<std::uint32_t>(getpid()), status.usedBytes};
  return CUDA_SUCCESS;
}

CUresult Driver::retainPrimaryContextForRuntime(CUcontext* context, CUdevice ordinal) {
  Device* target = device(ordinal);
  if (target == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  auto primary = retainPrimary(*target);
  if (!primary) return primary.code();
  *context = toHandle<CUcontext>((*primary)->handle());
  return CUDA_SUCCESS;
}

CUcontext Driver::currentContext() {
  auto& stack = currentContextStack();
  return stack.empty() ? nullptr : toHandle<CUcontext>(stack.back());
}

}  // namespace fastgpu::sim
