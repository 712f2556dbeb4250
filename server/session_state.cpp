#include "server/session_state.h"

#include <vector>

#include <fmt/format.h>

#include "cudaabi/checked_math.h"

namespace fastgpu::server {

SessionState::~SessionState() {
  // Libraries, graphs and links are not tied to a context; contexts take everything else with them.
  for (const auto& [id, link] : links_) driver_.cuLinkDestroy(link->state);
  for (const auto& [id, entry] : handles_) {
    if (kindOf(id) == HandleKind::kGraphExec) driver_.cuGraphExecDestroy(static_cast<CUgraphExec>(entry.real));
  }
  for (const auto& [id, resource] : graphResources_) {
    if (resource.host != nullptr) driver_.cuMemFreeHost(resource.host);
    if (resource.address != 0) lease_->release(resource.bytes);  // the driver frees graph memory with its graphs
  }
  for (const auto& [id, entry] : handles_) {
    if (kindOf(id) == HandleKind::kLibrary) driver_.cuLibraryUnload(static_cast<CUlibrary>(entry.real));
    if (kindOf(id) == HandleKind::kGraph) driver_.cuGraphDestroy(static_cast<CUgraph>(entry.real));
  }
  driver_.cuCtxSetCurrent(nullptr);
  for (const auto& [id, context] : contexts_) driver_.cuCtxDestroy_v2(context.real);
  // Everything this session held goes back to its vGPU's quota.
  for (const auto& [base, range] : ranges_) {
    if (range.freeable) lease_->release(range.bytes);
  }
  for (const auto& [owner, bytes] : charges_) lease_->release(bytes);
  for (auto& [id, physical] : physical_) {
    if (physical.charged) lease_->release(physical.bytes);
    forgetExport(physical);
  }
  for (const auto& [id, charged] : poolCharges_) lease_->release(charged);
  while (!sharedPools_.empty()) forgetSharedPool(sharedPools_.begin()->first);
  while (!pointerExports_.empty()) forgetPointerExport(pointerExports_.begin()->first);
}

std::uint64_t SessionState::add(HandleKind kind, void* real, std::uint64_t owner) {
  std::uint64_t id = (static_cast<std::uint64_t>(kind) << 40) | (++serial_ << 4);
  handles_[id] = Entry{real, owner};
  ++counts_[kind];
  return id;
}

std::vector<CUstream> SessionState::streamsOf(std::uint64_t context) const {
  std::vector<CUstream> streams;
  for (const auto& [id, entry] : handles_) {
    if (kindOf(id) == HandleKind::kStream && entry.owner == context) streams.push_back(static_cast<CUstream>(entry.real));
  }
  return streams;
}

Status SessionState::roomFor(HandleKind kind) const {
  auto count = [&](HandleKind of) {
    auto it = counts_.find(of);
    return it == counts_.end() ? 0 : it->second;
  };
  auto refuse = [](int limit, const char* what, const char* key) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY,
                  fmt::format("the session holds {} {}, its limit ([limits] {})", limit, what, key));
  };
  switch (kind) {
    case HandleKind::kStream:
      if (count(kind) >= limits_.streams) return refuse(limits_.streams, "streams", "session_streams");
      break;
    case HandleKind::kEvent:
      if (count(kind) >= limits_.events) return refuse(limits_.events, "events", "session_events");
      break;
    case HandleKind::kContext:
      if (count(kind) >= limits_.contexts) return refuse(limits_.contexts, "contexts", "session_contexts");
      break;
    case HandleKind::kModule:
    case HandleKind::kLibrary:
      if (count(HandleKind::kModule) + count(HandleKind::kLibrary) >= limits_.modules) {
        return refuse(limits_.modules, "modules and libraries", "session_modules");
      }
      break;
    case HandleKind::kGraph:
    case HandleKind::kChildGraph:
      if (count(kind) >= kMaxGraphs) return refuse(kMaxGraphs, "graphs", "a constant, kMaxGraphs");
      break;
    case HandleKind::kLink:
      if (count(kind) >= kMaxLinks) return refuse(kMaxLinks, "links in progress", "a constant, kMaxLinks");
      break;
    case HandleKind::kGraphExec:
      if (count(kind) >= kMaxGraphExecs) return refuse(kMaxGraphExecs, "executable graphs", "a constant, kMaxGraphExecs");
      break;
    default:
      break;  // functions and kernels: bounded by their modules
  }
  return Status::ok();
}

Status SessionState::roomForCode(std::uint64_t bytes) const {
  if (bytes > limits_.moduleBytes || totalCodeBytes_ > limits_.moduleBytes - bytes) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY,
                  fmt::format("the session's loaded code would take {} + {} bytes, over its limit of {} ([limits] "
                              "session_module_bytes)",
                              totalCodeBytes_, bytes, limits_.moduleBytes));
  }
  return Status::ok();
}

void SessionState::chargeCode(std::uint64_t owner, std::uint64_t bytes) {
  codeBytes_[owner] += bytes;
  totalCodeBytes_ += bytes;
}

std::optional<std::uint64_t> SessionState::idOf(HandleKind kind, const void* real) const {
  for (const auto& [id, entry] : handles_) {
    if (kindOf(id) == kind && entry.real == real) return id;
  }
  return std::nullopt;
}

Result<void*> SessionState::find(HandleKind kind, std::uint64_t id) const {
  auto it = handles_.find(id);
  if (it != handles_.end() && kind == HandleKind::kGraph && kindOf(id) == HandleKind::kChildGraph) {
    return Status(CUDA_ERROR_NOT_SUPPORTED,
                  "a child graph's handle (cuGraphChildGraphNodeGetGraph) is for queries only: change, clone or "
                  "instantiate the graph that holds it");
  }
  if (it == handles_.end() || kindOf(id) != kind) {
    CUresult code = kind == HandleKind::kContext ? CUDA_ERROR_INVALID_CONTEXT : CUDA_ERROR_INVALID_HANDLE;
    return Status(code, fmt::format("unknown handle {:#x}", id));
  }
  return it->second.real;
}

Result<void*> SessionState::findReadableGraph(std::uint64_t id) const {
  return kindOf(id) == HandleKind::kChildGraph ? find(HandleKind::kChildGraph, id) : find(HandleKind::kGraph, id);
}

void SessionState::remove(std::uint64_t id) {
  releaseCharge(id);
  if (kindOf(id) == HandleKind::kChildGraph) nodeIds_.forgetGraph(id);  // the ids its queries gave
  // Only code owns globals; streams and events, removed far more often, skip the scan of ranges.
  if (HandleKind kind = kindOf(id); kind == HandleKind::kModule || kind == HandleKind::kLibrary) forgetGlobals(id);
  std::vector<std::uint64_t> owned;
  for (const auto& [handle, entry] : handles_) {
    if (entry.owner == id) owned.push_back(handle);
  }
  for (std::uint64_t handle : owned) remove(handle);
  if (handles_.erase(id) > 0) --counts_[kindOf(id)];
  if (auto code = codeBytes_.find(id); code != codeBytes_.end()) {
    totalCodeBytes_ -= code->second;
    codeBytes_.erase(code);
  }
}

std::uint64_t SessionState::addLink(std::unique_ptr<LinkInProgress> link) {
  std::uint64_t id = add(HandleKind::kLink, link.get());
  links_[id] = std::move(link);
  return id;
}

LinkInProgress* SessionState::link(std::uint64_t id) {
  auto it = links_.find(id);
  return it == links_.end() ? nullptr : it->second.get();
}

void SessionState::destroyLink(std::uint64_t id) {
  auto it = links_.find(id);
  if (it == links_.end()) return;
  driver_.cuLinkDestroy(it->second->state);
  links_.erase(it);
  remove(id);  // gives back the code bytes its inputs were charged
}

Result<std::uint64_t> SessionState::createContext(int device, unsigned flags, bool primary) {
  int physical = lease_->physicalDevice(device);
  if (physical < 0) return Status(CUDA_ERROR_INVALID_DEVICE, fmt::format("device {} is not in this session's view", device));
  if (Status room = roomFor(HandleKind::kContext); !room) return room;
  CUcontext real = nullptr;
  if (CUresult result = driver_.cuCtxCreate_v2(&real, flags, physical); result != CUDA_SUCCESS) {
    return Status(result, fmt::format("cannot create a context on device {}", device));
  }
  driver_.cuCtxPopCurrent_v2(nullptr);  // makeCurrent() decides what is current
  current_ = 0;
  std::uint64_t id = add(HandleKind::kContext, real);
  contexts_[id] = SessionContext{real, device, primary, primary ? 1 : 0};
  return id;
}

SessionContext* SessionState::context(std::uint64_t id) {
  auto it = contexts_.find(id);
  return it == contexts_.end() ? nullptr : &it->second;
}

std::optional<std::uint64_t> SessionState::primaryOf(int device) const {
  for (const auto& [id, context] : contexts_) {
    if (context.primary && context.device == device) return id;
  }
  return std::nullopt;
}

void SessionState::forgetContext(std::uint64_t id) {
  remove(id);  // its limits' charges go with it
  std::erase_if(limitCharges_, [&](const auto& entry) { return entry.first.first == id; });
  persistingL2_.erase(id);
  for (auto it = ranges_.begin(); it != ranges_.end();) {
    if (it->second.context != id) {
      ++it;
      continue;
    }
    if (it->second.freeable) lease_->release(it->second.bytes);
    it = ranges_.erase(it);
  }
  contexts_.erase(id);
  if (current_ == id) current_ = 0;
}

Status SessionState::destroyContext(std::uint64_t id) {
  SessionContext* found = context(id);
  if (found == nullptr) return Status(CUDA_ERROR_INVALID_CONTEXT, fmt::format("unknown context {:#x}", id));
  driver_.cuCtxSetCurrent(nullptr);
  current_ = 0;
  CUresult result = driver_.cuCtxDestroy_v2(found->real);
  forgetContext(id);
  return result == CUDA_SUCCESS ? Status::ok() : Status(result, "cuCtxDestroy failed");
}

Status SessionState::makeCurrent(std::uint64_t id) {
  if (id == current_) return Status::ok();
  CUcontext real = nullptr;
  if (id != 0) {
    SessionContext* found = context(id);
    if (found == nullptr) return Status(CUDA_ERROR_INVALID_CONTEXT, fmt::format("unknown context {:#x}", id));
    real = found->real;
  }
  if (CUresult result = driver_.cuCtxSetCurrent(real); result != CUDA_SUCCESS) return Status(result, "cuCtxSetCurrent");
  current_ = id;
  return Status::ok();
}

Result<std::uint64_t> SessionState::allocate(std::uint64_t bytes) {
  if (current_ == 0) return Status(CUDA_ERROR_INVALID_CONTEXT, "no current context");
  if (Status reserved = lease_->reserve(bytes); !reserved) return reserved;
  CUdeviceptr base = 0;
  if (CUresult result = driver_.cuMemAlloc_v2(&base, bytes); result != CUDA_SUCCESS) {
    lease_->release(bytes);
    return Status(result, "cuMemAlloc failed");
  }
  ranges_[base] = Range{bytes, current_, true};
  return base;
}

Status SessionState::free(std::uint64_t base) {
  auto it = ranges_.find(base);
  if (it != ranges_.end() && it->second.pool != 0) {  // a stream-ordered allocation: the driver frees it at once
    std::uint64_t pool = it->second.pool;
    CUresult result = driver_.cuMemFree_v2(base);
    if (result != CUDA_SUCCESS) return Status(result, "cuMemFree failed");
    forgetPointerExport(base);
    ranges_.erase(it);
    return settlePoolCharge(pool);
  }
  if (it == ranges_.end() || !it->second.freeable) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{:#x} is not an allocation of this session", base));
  }
  std::uint64_t bytes = it->second.bytes;
  ranges_.erase(it);
  CUresult result = driver_.cuMemFree_v2(base);
  lease_->release(bytes);
  return result == CUDA_SUCCESS ? Status::ok() : Status(result, "cuMemFree failed");
}

bool SessionState::isOwnAllocation(std::uint64_t base) const {
  auto it = ranges_.find(base);
  return it != ranges_.end() && it->second.freeable && it->second.pool == 0;
}

std::uint64_t SessionState::allocationBytes(std::uint64_t base) const {
  auto it = ranges_.find(base);
  return it != ranges_.end() ? it->second.bytes : 0;
}

void SessionState::opened(std::uint64_t base, std::uint64_t bytes) {
  if (openings_[base]++ == 0) ranges_[base] = Range{bytes, current_, false};
}

Result<int> SessionState::closedOpening(std::uint64_t base) {
  auto it = openings_.find(base);
  if (it == openings_.end()) return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{:#x} is not memory opened by IPC", base));
  int left = --it->second;
  if (left == 0) {
    openings_.erase(it);
    ranges_.erase(base);
  }
  return left;
}

Status SessionState::charge(std::uint64_t owner, std::uint64_t bytes) {
  if (lease_->quota() == nullptr || bytes == 0) return Status::ok();
  if (Status status = lease_->reserve(bytes); !status) return status;
  charges_[owner] += bytes;
  return Status::ok();
}

void SessionState::uncharge(std::uint64_t owner, std::uint64_t bytes) {
  auto it = charges_.find(owner);
  if (it == charges_.end()) return;
  std::uint64_t given = std::min(bytes, it->second);
  lease_->release(given);
  it->second -= given;
}

void SessionState::releaseCharge(std::uint64_t owner) {
  auto it = charges_.find(owner);
  if (it == charges_.end()) return;
  lease_->release(it->second);
  charges_.erase(it);
}

void SessionState::addGlobalRange(std::uint64_t base, std::uint64_t bytes, std::uint64_t owner) {
  ranges_.try_emplace(base, Range{bytes, current_, false, owner});
}

void SessionState::forgetGlobals(std::uint64_t owner) {
  std::erase_if(ranges_, [&](const auto& entry) { return !entry.second.freeable && entry.second.owner == owner; });
}

Status SessionState::checkDeviceRange(std::uint64_t address, std::uint64_t bytes) const {
  auto it = ranges_.upper_bound(address);
  if (it != ranges_.begin()) {
    auto at = std::prev(it);
    const auto& [base, range] = *at;
    if (address - base < range.bytes && bytes <= range.bytes - (address - base)) return Status::ok();
    // Mappings side by side are one range (a tensor across two chunks of a growing segment).
    std::uint64_t end = base + range.bytes;
    while (address - base < range.bytes && range.memory != 0 && std::next(at) != ranges_.end() &&
           std::next(at)->first == end && std::next(at)->second.memory != 0) {
      at = std::next(at);
      end += at->second.bytes;
      if (bytes <= end - address) return Status::ok();
    }
  }
  return Status(CUDA_ERROR_INVALID_VALUE,
                fmt::format("device range {:#x}+{} is outside the session's allocations", address, bytes));
}

Status SessionState::checkPitchedRange(std::uint64_t address, std::uint64_t pitch, std::uint64_t rowBytes,
                                       std::uint64_t height) const {
  auto extent = cudaabi::pitchedExtent(pitch, rowBytes, height);
  if (!extent) return Status(CUDA_ERROR_INVALID_VALUE, kBadPitchedShape);
  return checkDeviceRange(address, *extent);
}

Status SessionState::roomForGraphNodes(std::uint64_t nodes) const {
  if (nodes > kMaxGraphNodes || totalGraphNodes_ > kMaxGraphNodes - nodes) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY,
                  fmt::format("the session's graphs, executables and captures hold {} nodes, its limit is {}",
                              totalGraphNodes_, kMaxGraphNodes));
  }
  return Status::ok();
}

Status SessionState::chargeCapturedNode() {
  if (Status room = roomForGraphNodes(1); !room) return room;
  ++capturingNodes_;
  ++totalGraphNodes_;
  return Status::ok();
}

void SessionState::captureEnded(std::uint64_t id, std::uint64_t nodes) {
  // A capture's nodes were counted one by one as they came: they move into its graph. Nodes the
  // graph had already (cuStreamBeginCaptureToGraph's, or added to a capture's graph) are counted.
  std::uint64_t& counted = graphNodes_[id];
  nodes -= std::min(nodes, counted);
  std::uint64_t fromCaptures = std::min(nodes, capturingNodes_);
  capturingNodes_ -= fromCaptures;
  totalGraphNodes_ += nodes - fromCaptures;
  graphNodes_[id] += nodes;
}

void SessionState::capturesOver() {
  totalGraphNodes_ -= std::min(totalGraphNodes_, capturingNodes_);
  capturingNodes_ = 0;
}

void SessionState::chargeGraphNodes(std::uint64_t id, std::uint64_t nodes) {
  totalGraphNodes_ += nodes;
  graphNodes_[id] += nodes;
}

void SessionState::releaseGraphNodes(std::uint64_t id) {
  nodeIds_.forgetGraph(id);
  auto it = graphNodes_.find(id);
  if (it == graphNodes_.end()) return;
  totalGraphNodes_ -= std::min(totalGraphNodes_, it->second);
  graphNodes_.erase(it);
}

Status SessionState::chargeAddedNodes(std::uint64_t id, std::uint64_t nodes) {
  if (Status room = roomForGraphNodes(nodes); !room) return room;
  chargeGraphNodes(id, nodes);
  return Status::ok();
}

void SessionState::releaseAddedNodes(std::uint64_t id, std::uint64_t nodes) {
  auto it = graphNodes_.find(id);
  if (it == graphNodes_.end()) return;
  std::uint64_t released = std::min(nodes, it->second);
  it->second -= released;
  totalGraphNodes_ -= std::min(totalGraphNodes_, released);
}

}  // namespace fastgpu::server
