#include "interposer/runtime.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "cudaabi/log.h"
#include "cudaabi/kernel_image.h"
#include "interposer/remote.h"

namespace fastgpu::interposer {

Runtime& runtime() {
  static Runtime* instance = new Runtime;  // never destroyed: see the header
  return *instance;
}

CUresult Runtime::initialize() {
  std::lock_guard lock(connectMutex_);
  if (client_ && pid_ == getpid()) return CUDA_SUCCESS;
  if (client_) {
    // A forked child: the parent's connection and state are not ours (CUDA's rule too).
    (void)client_.release();  // the parent's object; its thread does not exist here
  }
  auto connected = Client::connect(ClientConfig::fromEnvironment(), CUDA_VERSION);
  if (!connected) {
    std::fprintf(stderr, "cuInit failed: %s\n", connected.status().message().c_str());
    initError_ = connected.code();
    return initError_;
  }
  bool first = pid_ == 0;
  client_ = std::move(*connected);
  pid_ = getpid();
  initError_ = CUDA_SUCCESS;
  if (first) {
    cudaabi::installDriverServices(this);
    std::atexit([] { runtime().printStatsAtExit(); });
  }
  return CUDA_SUCCESS;
}

Client* Runtime::client() {
  if (pid_ != 0 && pid_ != getpid()) {
    if (initialize() != CUDA_SUCCESS) return nullptr;
  }
  return client_.get();
}

void Runtime::printStatsAtExit() {
  std::lock_guard lock(connectMutex_);
  if (!client_ || pid_ != getpid()) return;
  client_->quiesce();
  if (ClientConfig::fromEnvironment().printStats) {
    ClientStats stats = client_->stats();
    std::fprintf(stderr, "fastgpu: round trips=%llu posted calls=%llu batches=%llu bytes sent=%llu\n",
                 static_cast<unsigned long long>(stats.roundTrips), static_cast<unsigned long long>(stats.postedCalls),
                 static_cast<unsigned long long>(stats.flushes), static_cast<unsigned long long>(stats.bytesSent));
  }
}

int Runtime::deviceCount() { return client_ ? static_cast<int>(client_->devices().size()) : 0; }

const RemoteDevice& Runtime::device(int ordinal) { return client_->devices()[static_cast<std::size_t>(ordinal)]; }

std::vector<std::uint64_t>& Runtime::contextStack() {
  thread_local std::vector<std::uint64_t> stack;
  return stack;
}

std::uint64_t Runtime::currentContextId() {
  auto& stack = contextStack();
  return stack.empty() ? 0 : stack.back();
}

void Runtime::addContext(std::uint64_t id, int device) {
  std::lock_guard lock(mutex_);
  contexts_[id] = device;
}

std::optional<int> Runtime::contextDevice(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = contexts_.find(id);
  return it == contexts_.end() ? std::nullopt : std::optional<int>(it->second);
}

void Runtime::removeContext(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  contexts_.erase(id);
}

void Runtime::addKernels(std::uint64_t owner, wire::LoadedModule::Reader module) {
  std::lock_guard lock(mutex_);
  for (auto kernel : module.getKernels()) {
    KernelLayout layout{kernel.getName().cStr(), {}, kernel.getParamBytes()};
    for (auto param : kernel.getParams()) layout.params.push_back({param.getOffset(), param.getSize()});
    layouts_[kernel.getHandle()] = std::move(layout);
    kernelsByName_[{owner, kernel.getName().cStr()}] = kernel.getHandle();
    codeOwned_[owner].push_back(kernel.getHandle());
  }
}

std::optional<std::uint64_t> Runtime::kernelByName(std::uint64_t owner, const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = kernelsByName_.find({owner, name});
  return it == kernelsByName_.end() ? std::nullopt : std::optional<std::uint64_t>(it->second);
}

const KernelLayout* Runtime::layout(std::uint64_t function) {
  std::lock_guard lock(mutex_);
  auto it = layouts_.find(function);
  return it == layouts_.end() ? nullptr : &it->second;  // entries are stable (node-based map)
}

void Runtime::aliasLayout(std::uint64_t function, std::uint64_t kernel) {
  std::lock_guard lock(mutex_);
  auto it = layouts_.find(kernel);
  if (it != layouts_.end()) layouts_[function] = it->second;
}

void Runtime::removeCode(std::uint64_t owner) {
  std::lock_guard lock(mutex_);
  for (std::uint64_t handle : codeOwned_[owner]) layouts_.erase(handle);
  codeOwned_.erase(owner);
  std::erase_if(kernelsByName_, [&](const auto& entry) { return entry.first.first == owner; });
}

std::optional<std::uint64_t> Runtime::ownerOf(std::uint64_t kernel) {
  std::lock_guard lock(mutex_);
  for (const auto& [owner, kernels] : codeOwned_) {
    if (std::find(kernels.begin(), kernels.end(), kernel) != kernels.end()) return owner;
  }
  return std::nullopt;
}

std::size_t Runtime::kernelCount(std::uint64_t owner) {
  std::lock_guard lock(mutex_);
  auto it = codeOwned_.find(owner);
  return it == codeOwned_.end() ? 0 : it->second.size();
}

void Runtime::addStream(std::uint64_t id, StreamInfo info) {
  std::lock_guard lock(mutex_);
  streams_[id] = info;
}

std::optional<StreamInfo> Runtime::stream(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(id);
  return it == streams_.end() ? std::nullopt : std::optional<StreamInfo>(it->second);
}

void Runtime::removeStream(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  streams_.erase(id);
}

void Runtime::reserve(std::uint64_t base, std::uint64_t bytes) {
  // Reserve the pages of [base, base + bytes) not reserved yet; keep the ranges merged.
  const std::uint64_t page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  std::uint64_t start = base / page * page;
  std::uint64_t end = (base + bytes + page - 1) / page * page;
  std::uint64_t cursor = start;
  auto it = reserved_.upper_bound(start);
  if (it != reserved_.begin() && std::prev(it)->second > start) cursor = std::prev(it)->second;
  while (cursor < end) {
    auto next = reserved_.lower_bound(cursor);
    std::uint64_t gapEnd = next == reserved_.end() ? end : std::min(end, next->first);
    if (gapEnd > cursor) {
      void* want = reinterpret_cast<void*>(cursor);
      void* got = mmap(want, gapEnd - cursor, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                       -1, 0);
      if (got != want) {
        if (got != MAP_FAILED) munmap(got, gapEnd - cursor);
        cudaabi::driverLogger().warn("cannot reserve device range {:#x}+{} in this process: a host pointer may alias it",
                                     cursor, gapEnd - cursor);
      } else {
        reserved_[cursor] = gapEnd;
      }
    }
    if (next == reserved_.end() || next->first >= end) break;
    cursor = next->second;
  }
  // Merge neighbours so lookups stay short.
  for (auto merge = reserved_.begin(); merge != reserved_.end();) {
    auto following = std::next(merge);
    if (following != reserved_.end() && merge->second == following->first) {
      merge->second = following->second;
      reserved_.erase(following);
    } else {
      merge = following;
    }
  }
}

void Runtime::addAllocation(std::uint64_t base, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  allocations_[base] = bytes;
  reserve(base, bytes);
}

void Runtime::reserveDeviceAddresses(std::uint64_t base, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  reserve(base, bytes);
}

void Runtime::removeAllocation(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  allocations_.erase(base);  // the reservation stays: the server may hand the range out again
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> Runtime::allocation(std::uint64_t address) {
  std::lock_guard lock(mutex_);
  auto it = allocations_.upper_bound(address);
  if (it == allocations_.begin()) return std::nullopt;
  --it;
  if (address - it->first >= std::max<std::uint64_t>(it->second, 1)) return std::nullopt;
  return *it;
}

bool Runtime::addHostRange(std::uint64_t base, HostRange range) {
  std::lock_guard lock(mutex_);
  if (range.bytes == 0 || range.bytes - 1 > ~base) return false;  // empty, or past the address space
  // The first range at or after base must start past the new one's end, and the one before it
  // must end at or before base.
  auto next = hostRanges_.lower_bound(base);
  if (next != hostRanges_.end() && next->first - base < range.bytes) return false;
  if (next != hostRanges_.begin()) {
    auto previous = std::prev(next);
    if (base - previous->first < previous->second.bytes) return false;
  }
  hostRanges_[base] = range;
  return true;
}

std::optional<HostRange> Runtime::hostRange(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  auto it = hostRanges_.find(base);
  return it == hostRanges_.end() ? std::nullopt : std::optional<HostRange>(it->second);
}

std::optional<std::pair<std::uint64_t, HostRange>> Runtime::hostRangeContaining(std::uint64_t address) {
  std::lock_guard lock(mutex_);
  auto it = hostRanges_.upper_bound(address);
  if (it == hostRanges_.begin()) return std::nullopt;
  --it;
  if (address - it->first >= it->second.bytes) return std::nullopt;
  return *it;
}

void Runtime::forgetHostRangesOverlapping(std::uint64_t base, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  std::erase_if(hostRanges_, [&](const auto& entry) {
    return entry.first - base < bytes || base - entry.first < entry.second.bytes;
  });
}

void Runtime::removeHostRange(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  hostRanges_.erase(base);
}

std::vector<cudaabi::IntegrityDeviceRecord> Runtime::integrityDevices() {
  std::vector<cudaabi::IntegrityDeviceRecord> records;
  if (!client_) return records;
  for (int ordinal = 0; ordinal < deviceCount(); ++ordinal) {
    const RemoteDevice& info = device(ordinal);
    cudaabi::IntegrityDeviceRecord record{};
    if (info.hasUuid) std::memcpy(record.uuid, info.uuid.data(), info.uuid.size());
    record.pciDomain = info.attribute(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID);
    record.pciBus = info.attribute(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID);
    record.pciDevice = info.attribute(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID);
    records.push_back(record);
  }
  return records;
}

CUcontext Runtime::currentContext() { return reinterpret_cast<CUcontext>(currentContextId()); }

CUresult Runtime::retainPrimaryContextForRuntime(CUcontext* context, CUdevice device) {
  return retainPrimaryContext(context, device);
}

CUresult Runtime::loadModuleForRuntime(CUmodule* module, const void* fatbinOrWrapper) {
  return loadModule(module, fatbinOrWrapper);
}

void Runtime::addGraphObject(std::uint64_t id, std::shared_ptr<const CapturedGraph> record) {
  std::lock_guard lock(mutex_);
  graphObjects_[id] = std::move(record);
}

std::optional<std::shared_ptr<const CapturedGraph>> Runtime::graphRecord(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = graphObjects_.find(id);
  if (it == graphObjects_.end()) return std::nullopt;
  return it->second;
}

bool Runtime::hasGraphObject(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  return graphObjects_.count(id) > 0;
}

void Runtime::addBorrowedGraph(std::uint64_t id, std::uint64_t holder) {
  std::lock_guard lock(mutex_);
  borrowedGraphs_[id] = holder;
}

bool Runtime::isBorrowedGraph(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  return borrowedGraphs_.count(id) > 0;
}

bool Runtime::removeGraphObject(std::uint64_t id) {
  std::shared_ptr<const CapturedGraph> record;
  {
    std::lock_guard lock(mutex_);
    auto it = graphObjects_.find(id);
    if (it == graphObjects_.end()) return false;
    record = std::move(it->second);
    graphObjects_.erase(it);
    execFlags_.erase(id);
    userObjects_.dropOwner(id);  // the user-object references it owned go with it
    // Child graphs borrowed from its nodes, and from theirs, go with it.
    std::vector<std::uint64_t> gone{id};
    while (!gone.empty()) {
      std::uint64_t holder = gone.back();
      gone.pop_back();
      std::erase_if(borrowedGraphs_, [&](const auto& entry) {
        if (entry.second != holder) return false;
        gone.push_back(entry.first);
        return true;
      });
    }
  }
  if (!record) return true;
  for (std::uint64_t base : record->allocations) {
    {
      std::lock_guard lock(mutex_);
      bool held = std::any_of(graphObjects_.begin(), graphObjects_.end(), [&](const auto& entry) {
        return entry.second && std::find(entry.second->allocations.begin(), entry.second->allocations.end(), base) !=
                                   entry.second->allocations.end();
      });
      if (held) continue;  // another graph or executable still holds it
      graphMemory_.erase(base);
    }
    removeAllocation(base);
  }
  return true;
}

std::uint64_t Runtime::graphHoldingNode(std::uint64_t node) {
  std::lock_guard lock(mutex_);
  for (const auto& [id, record] : graphObjects_) {
    if (!record || execFlags_.count(id) > 0) continue;
    if (record->kernels.count(node) > 0 || record->copies.count(node) > 0) return id;
    for (const HostEffect& effect : record->effects) {
      if (effect.node == node) return id;
    }
  }
  return 0;
}

std::optional<HostEffect> Runtime::stagedEffect(std::uint64_t staging) {
  std::lock_guard lock(mutex_);
  for (const auto& [id, record] : graphObjects_) {
    if (!record || execFlags_.count(id) > 0) continue;
    for (const HostEffect& effect : record->effects) {
      if (effect.staging == staging && effect.kind != HostEffect::Kind::kHostFunction) return effect;
    }
  }
  return std::nullopt;
}

bool Runtime::amendGraphRecord(std::uint64_t id, const std::function<void(CapturedGraph&)>& change) {
  std::lock_guard lock(mutex_);
  auto it = graphObjects_.find(id);
  if (it == graphObjects_.end()) return false;
  auto amended = it->second ? std::make_shared<CapturedGraph>(*it->second) : std::make_shared<CapturedGraph>();
  change(*amended);
  it->second = std::move(amended);
  return true;
}

void Runtime::setIpcOpened(std::uint64_t base, bool opened) {
  std::lock_guard lock(mutex_);
  if (opened) {
    ipcOpened_.insert(base);
  } else {
    ipcOpened_.erase(base);
  }
}

bool Runtime::isIpcOpened(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  return ipcOpened_.count(base) > 0;
}

void Runtime::addGraphMemory(std::uint64_t base, std::uint64_t bytes) {
  addAllocation(base, bytes);
  std::lock_guard lock(mutex_);
  graphMemory_.insert(base);
  graphReservedHigh_ = std::max(graphReservedHigh_, graphBytesLocked(graphMemory_));
}

template <typename Bases>
std::uint64_t Runtime::graphBytesLocked(const Bases& bases) const {
  std::uint64_t total = 0;
  for (std::uint64_t base : bases) {
    if (auto it = allocations_.find(base); it != allocations_.end()) total += it->second;
  }
  return total;
}

Runtime::GraphMemoryUsage Runtime::graphMemoryUsage() {
  std::lock_guard lock(mutex_);
  GraphMemoryUsage usage;
  usage.used = graphBytesLocked(liveGraphMemory_);
  usage.reserved = graphBytesLocked(graphMemory_);
  graphUsedHigh_ = std::max(graphUsedHigh_, usage.used);
  graphReservedHigh_ = std::max(graphReservedHigh_, usage.reserved);
  usage.usedHigh = graphUsedHigh_;
  usage.reservedHigh = graphReservedHigh_;
  return usage;
}

void Runtime::resetGraphMemoryHigh(bool used) {
  std::lock_guard lock(mutex_);
  if (used) {
    graphUsedHigh_ = graphBytesLocked(liveGraphMemory_);
  } else {
    graphReservedHigh_ = graphBytesLocked(graphMemory_);
  }
}

bool Runtime::isGraphMemory(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  return graphMemory_.count(base) > 0;
}

bool Runtime::launchGraphMemory(std::uint64_t exec, const CapturedGraph& record) {
  std::lock_guard lock(mutex_);
  auto flags = execFlags_.find(exec);
  if (flags == execFlags_.end() || (flags->second & CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH) == 0) {
    for (std::uint64_t base : record.leftLive) {
      if (liveGraphMemory_.count(base) > 0) return false;
    }
  }
  // During the replay every allocation of the graph may be live at once.
  std::set<std::uint64_t> during = liveGraphMemory_;
  during.insert(record.allocations.begin(), record.allocations.end());
  graphUsedHigh_ = std::max(graphUsedHigh_, graphBytesLocked(during));
  liveGraphMemory_.insert(record.leftLive.begin(), record.leftLive.end());
  return true;
}

void Runtime::graphMemoryFreed(std::uint64_t base) {
  std::lock_guard lock(mutex_);
  liveGraphMemory_.erase(base);
}

void Runtime::setExecFlags(std::uint64_t exec, std::uint64_t flags) {
  std::lock_guard lock(mutex_);
  execFlags_[exec] = flags;
}

std::optional<std::uint64_t> Runtime::execFlags(std::uint64_t exec) {
  std::lock_guard lock(mutex_);
  auto it = execFlags_.find(exec);
  if (it == execFlags_.end()) return std::nullopt;
  return it->second;
}

}  // namespace fastgpu::interposer
