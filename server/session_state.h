// Everything one session owns on the driver, and the rules for reaching it (DESIGN.md,
// decision 4): every object handle a client names is an opaque id looked up here, every
// device range a client names is checked against the session's own allocations here. Ending
// the session (destroying this object) destroys its contexts, which frees their memory,
// modules, streams and events, and unloads its libraries.
//
// Threading: owned and used by the session's thread only.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "cudaabi/driver_symbols.h"
#include "scheduler/shared_board.h"
#include "server/graph_node_ids.h"

namespace fastgpu::server {

// Why a 2-D region is refused before any range is looked at.
inline constexpr const char* kBadPitchedShape = "2-D region: rows overlap or its size overflows";

enum class HandleKind : std::uint8_t {
  kContext = 1, kStream, kEvent, kModule, kFunction, kLibrary, kKernel,
  kMemory,  // a physical allocation of virtual memory management (cuMemCreate)
  kPool,    // a memory pool (stream-ordered allocation)
  kGraph,      // a CUDA graph (from a stream capture)
  kGraphExec,  // an instantiated graph
  kStaging,    // a server host buffer a captured device-to-host copy writes
  kGraphMemory,  // an allocation of a graph (cuMemAllocAsync captured, or a memory allocation node)
  kGraphNode,    // a node of a graph (graph_node_ids.h: not in the handle table)
  kLink,         // a link in progress (cuLinkCreate)
  // A child graph node's graph (cuGraphChildGraphNodeGetGraph), borrowed from the node for queries
  // only; owned by the node's graph, so it goes with that graph (or with the node).
  kChildGraph,
};

// A link in progress: the driver's state and the error log it writes (the driver keeps the
// buffer's address until the link is destroyed).
struct LinkInProgress {
  CUlinkState state = nullptr;
  std::array<char, 8192> errors{};
  // The inputs' bytes, kept until the link goes: the driver may read them until it completes.
  std::vector<std::vector<std::uint8_t>> inputs;
};

// What one session may hold of virtual memory management's objects (each costs the server
// bookkeeping; physical memory is bounded by the quota as well).
inline constexpr std::size_t kMaxReservations = 4096;
inline constexpr std::size_t kMaxPhysicalAllocations = 65536;
inline constexpr std::size_t kMaxMappings = 65536;
inline constexpr std::size_t kMaxAccessDescriptors = 64;  // per cuMemSetAccess
inline constexpr std::size_t kMaxPools = 256;
// Graphs: nodes cost the server's driver memory, in the graphs, their executables and the captures
// under way, so the session's total is bounded; and so are graphs and executables by count.
inline constexpr std::uint64_t kMaxGraphNodes = 1 << 20;
inline constexpr int kMaxGraphs = 4096;
inline constexpr int kMaxGraphExecs = 1024;
// Links in progress hold their inputs in the driver (charged as code bytes while they live).
inline constexpr int kMaxLinks = 16;
// Staging buffers of captured device-to-host copies are the server's host memory.
inline constexpr std::uint64_t kMaxStagingBytes = 256ULL << 20;

struct SessionContext {
  CUcontext real = nullptr;
  int device = 0;
  bool primary = false;  // the client's primary context of `device`, virtualized
  int retains = 0;       // for a primary context
};

class SessionState {
 public:
  // `lease` is the session's vGPU: its device view, memory quota and gate; `limits` bound the
  // objects it may hold.
  SessionState(const cudaabi::DriverTable& driver, std::unique_ptr<scheduler::VgpuAccess> lease,
               scheduler::SessionLimits limits = {})
      : driver_(driver), limits_(limits), lease_(std::move(lease)) {}
  ~SessionState();
  SessionState(const SessionState&) = delete;
  SessionState& operator=(const SessionState&) = delete;

  // ---- handles ----
  // Registers a driver handle; `owner` is the id whose end takes this one with it (the context
  // of a stream, the module of a function, ...), 0 for none.
  std::uint64_t add(HandleKind kind, void* real, std::uint64_t owner = 0);
  // The driver handle behind an id of that kind; CUDA_ERROR_INVALID_HANDLE (or
  // CUDA_ERROR_INVALID_CONTEXT for contexts) for an unknown, stale or wrong-kind id.
  Result<void*> find(HandleKind kind, std::uint64_t id) const;
  // A graph that may be read: a graph, or a child graph borrowed from its node.
  Result<void*> findReadableGraph(std::uint64_t id) const;
  // Forgets `id` and, recursively, every handle it owns.
  void remove(std::uint64_t id);
  // The streams the session created in context `context` (a linear search: for rare waits only).
  std::vector<CUstream> streamsOf(std::uint64_t context) const;
  // The id of the handle of `kind` behind `real` (a linear search: for rare queries only).
  std::optional<std::uint64_t> idOf(HandleKind kind, const void* real) const;
  // Whether the session may create one more object of `kind` (streams, events, contexts,
  // modules and libraries are limited); CUDA_ERROR_OUT_OF_MEMORY naming the limit if not.
  Status roomFor(HandleKind kind) const;
  // The same for a code image of `bytes` (the loaded images' total is limited); chargeCode()
  // records it against the handle that loaded it, given back when that handle goes.
  Status roomForCode(std::uint64_t bytes) const;
  void chargeCode(std::uint64_t owner, std::uint64_t bytes);
  static HandleKind kindOf(std::uint64_t id) { return static_cast<HandleKind>(id >> 40); }

  const scheduler::VgpuAccess& lease() const { return *lease_; }

  // ---- links in progress (cuLinkCreate .. cuLinkDestroy) ----
  // The caller has made sure of room (roomFor(kLink)) before it made the driver's link.
  std::uint64_t addLink(std::unique_ptr<LinkInProgress> link);
  LinkInProgress* link(std::uint64_t id);
  void destroyLink(std::uint64_t id);

  // ---- contexts (devices are the client's ordinals, mapped through the lease) ----
  Result<std::uint64_t> createContext(int device, unsigned flags, bool primary);
  Status destroyContext(std::uint64_t id);
  SessionContext* context(std::uint64_t id);
  // The id of the virtualized primary context of `device`, if it is active.
  std::optional<std::uint64_t> primaryOf(int device) const;
  // Makes `id` current on this thread (0: none); cheap when it already is.
  Status makeCurrent(std::uint64_t id);
  std::uint64_t current() const { return current_; }

  // ---- device memory ----
  // The one allocation path: charges the vGPU's quota, then allocates in the current context.
  Result<std::uint64_t> allocate(std::uint64_t bytes);
  // Frees an allocation of this session and returns its bytes to the quota.
  Status free(std::uint64_t base);
  // Charges the quota for memory the driver allocates itself (module globals), owned by handle
  // `owner` and returned when it goes; fails over quota.
  Status charge(std::uint64_t owner, std::uint64_t bytes);
  // Gives back `bytes` of what `owner` was charged (no more than it was).
  void uncharge(std::uint64_t owner, std::uint64_t bytes);
  // Also allowed ranges that are not allocations of ours to free: the globals of module or
  // library `owner`, valid until that handle (or the current context) goes.
  void addGlobalRange(std::uint64_t base, std::uint64_t bytes, std::uint64_t owner);
  // The one range check: [address, address + bytes) must lie inside one range of this session.
  Status checkDeviceRange(std::uint64_t address, std::uint64_t bytes) const;
  // The same for `height` rows of `rowBytes` bytes, `pitch` apart; pitches and sizes that
  // overlap or overflow are refused.
  Status checkPitchedRange(std::uint64_t address, std::uint64_t pitch, std::uint64_t rowBytes,
                           std::uint64_t height) const;

  // ---- context limits (session_limits.cpp) ----
  // cuCtxSetLimit in the current context. The device memory a limit makes the driver set aside
  // (the device malloc heap, the printf FIFO, every resident thread's stack) is charged to the
  // quota beyond what the context had before the session set it, owned by the context; the
  // persisting L2 set-aside is the device's, shared by every tenant, so a session's value is kept
  // for it alone (read back, never applied).
  Status setLimit(CUlimit limit, std::uint64_t value);
  Result<std::uint64_t> limit(CUlimit limit);

  // ---- virtual memory management (session_virtual_memory.cpp) ----
  // Reservations take no quota; a physical allocation is charged until it is released and no
  // longer mapped; mapped ranges become ranges of the session (checkDeviceRange) until unmapped.
  Result<std::uint64_t> reserveAddresses(std::uint64_t size, std::uint64_t alignment, std::uint64_t hint);
  Status freeAddresses(std::uint64_t base, std::uint64_t size);
  // -> a kMemory id; `handleTypes`: NONE or POSIX_FILE_DESCRIPTOR (shareable handles it may export).
  Result<std::uint64_t> createPhysical(int device, std::uint64_t size, std::uint32_t handleTypes = 0);
  Status releasePhysical(std::uint64_t id);
  // The driver's POSIX descriptor of shareable allocation `id` (made once, kept by the session
  // until the memory goes), and the identity the board publishes it under (set by the caller).
  Result<int> exportDescriptor(std::uint64_t id);
  // The size and device (the driver's ordinal) of allocation `id`.
  Result<std::pair<std::uint64_t, int>> physicalShape(std::uint64_t id) const;
  void published(std::uint64_t id, const scheduler::DriverIpcHandle& handle);
  // An allocation of another session's memory imported from the driver's descriptor: a kMemory
  // id of this session, not charged (its exporter's quota holds it).
  Result<std::uint64_t> importPhysical(int fd, std::uint64_t bytes, int gpu);
  Status mapPhysical(std::uint64_t base, std::uint64_t size, std::uint64_t offset, std::uint64_t id);
  Status unmapRange(std::uint64_t base, std::uint64_t size);
  // `access`: (client device ordinal, CUmemAccess_flags) pairs.
  Status setAccess(std::uint64_t base, std::uint64_t size, const std::vector<std::pair<int, unsigned>>& access);
  Result<std::uint64_t> granularity(int device, unsigned option);

  // ---- stream-ordered allocation (session_memory_pools.cpp) ----
  // What a pool holds (its reserved memory, read from the driver) is charged to the quota: before
  // an allocation for what it may grow, then as it is, after every pool call and synchronization.
  Result<std::uint64_t> defaultPool(int device);  // -> a kPool id
  Result<std::uint64_t> currentPool(int device);
  Status setCurrentPool(int device, std::uint64_t pool);
  // `handleTypes`: NONE or POSIX_FILE_DESCRIPTOR (a pool other sessions of the vGPU may import).
  Result<std::uint64_t> createPool(int device, std::uint32_t handleTypes = 0);
  Status destroyPool(std::uint64_t pool);
  Status trimPool(std::uint64_t pool, std::uint64_t keep);
  Status setPoolAttribute(std::uint64_t pool, CUmemPool_attribute attribute, std::uint64_t value);
  Result<std::uint64_t> poolAttribute(std::uint64_t pool, CUmemPool_attribute attribute);
  Status setPoolAccess(std::uint64_t pool, const std::vector<std::pair<int, unsigned>>& access);
  Result<unsigned> poolAccess(std::uint64_t pool, int device);
  // `pool` 0: the current pool of the stream's device.
  Result<std::uint64_t> allocateAsync(std::uint64_t bytes, std::uint64_t pool, CUstream stream);
  Status freeAsync(std::uint64_t base, CUstream stream);
  // Charges every pool's holdings as they are now (after a synchronization gave memory back).
  void settlePoolCharges();

  // ---- pools shared between sessions of one vGPU (session_pool_sharing.cpp) ----
  // The driver's POSIX descriptor of shareable pool `id` (made once, kept until the pool goes) and
  // its device (the driver's ordinal); poolPublished() records what the board names it by.
  Result<std::pair<int, int>> exportPool(std::uint64_t id);
  void poolPublished(std::uint64_t id, const scheduler::DriverIpcHandle& handle);
  // Another session's pool imported from the driver's descriptor: a kPool id of this session that
  // allocates nothing and is charged nothing.
  Result<std::uint64_t> importPool(int fd, int gpu);
  bool isImportedPool(std::uint64_t id) const;
  // The driver's export of `base`, an allocation of a shareable pool of this session;
  // pointerPublished() records what the board names it by (withdrawn when it is freed).
  Result<scheduler::DriverIpcHandle> exportPoolPointer(std::uint64_t base);
  void pointerPublished(std::uint64_t base, const scheduler::DriverIpcHandle& handle);
  // Another session's pool allocation (`bytes`, the driver's export `data`) taken in through
  // imported pool `pool`: a range of this session, charged nothing, until freed here (cuMemFree,
  // cuMemFreeAsync).
  Result<std::uint64_t> importPoolPointer(std::uint64_t pool, const scheduler::DriverIpcHandle& data,
                                          std::uint64_t bytes);

  // ---- interprocess sharing (dispatch_ipc.cpp) ----
  // Whether `base` starts an allocation of this session (cuMemAlloc), which it may share.
  bool isOwnAllocation(std::uint64_t base) const;
  std::uint64_t allocationBytes(std::uint64_t base) const;
  // Memory of another session opened here (`bytes` at `base`): a range of the session, charged
  // nothing (it counts against its owner), not freeable; opened again, counted again.
  void opened(std::uint64_t base, std::uint64_t bytes);
  // One opening of `base` closed: the openings left (the range goes with the last); an error for
  // memory not opened here.
  Result<int> closedOpening(std::uint64_t base);

  // ---- graph nodes (kMaxGraphNodes) ----
  // One more node captured into a capture under way; refused past the bound.
  Status chargeCapturedNode();
  // A capture ended into graph `id` of `nodes` nodes (they were counted as they came).
  void captureEnded(std::uint64_t id, std::uint64_t nodes);
  // No capture is under way any more: what was counted for them is gone.
  void capturesOver();
  // An executable `id` was made of `nodes` nodes (check roomForGraphNodes first).
  void chargeGraphNodes(std::uint64_t id, std::uint64_t nodes);
  Status roomForGraphNodes(std::uint64_t nodes) const;
  void releaseGraphNodes(std::uint64_t id);
  // Nodes added to graph `id` one by one (a child graph node counts its graph's nodes), or removed.
  Status chargeAddedNodes(std::uint64_t id, std::uint64_t nodes);
  void releaseAddedNodes(std::uint64_t id, std::uint64_t nodes);
  GraphNodeIds& graphNodeIds() { return nodeIds_; }

  // ---- what graphs hold (session_graph_resources.cpp) ----
  // Made in capture `capture` (the driver's id), held by that capture's graph once it ends and by
  // every executable made from or updated with that graph, freed with the last holder: staging
  // buffers of captured device-to-host copies (the server's host memory), and graph memory, the
  // allocations of cuMemAllocAsync captured (charged to the quota like any device memory, a range
  // of the session while held).
  // `capture` 0: made for a node added to graph `holder` (which holds it at once).
  Result<std::pair<std::uint64_t, void*>> createStaging(std::uint64_t bytes, std::uint64_t capture,
                                                        std::uint64_t holder = 0);
  Result<std::pair<void*, std::uint64_t>> staging(std::uint64_t id) const;
  bool isStagingBuffer(std::uint64_t address) const;
  // The staging buffer that starts at `address`: its id and bytes.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> stagingStartingAt(std::uint64_t address) const;
  Result<std::uint64_t> allocateInCapture(std::uint64_t bytes, CUstream stream, std::uint64_t capture);
  // A memory allocation node of `bytes` added to graph `holder`: `add` adds it to the driver's
  // graph and says where its memory lies (charged to the quota first).
  Result<std::uint64_t> allocateInGraph(std::uint64_t bytes, std::uint64_t holder,
                                        const std::function<CUresult(CUdeviceptr*)>& add);
  bool isGraphMemory(std::uint64_t base) const;
  // Capture `capture` ended: into graph `owner`, or (owner 0) into nothing.
  void captureResourcesEnded(std::uint64_t capture, std::uint64_t owner);
  // `to` (an executable) holds what `from` (a graph) holds, too.
  void shareGraphResources(std::uint64_t from, std::uint64_t to);
  // `owner` (a graph or executable) is gone; what nobody holds is freed.
  void releaseGraphResources(std::uint64_t owner);

 private:
  struct Range {
    std::uint64_t bytes;
    std::uint64_t context;
    bool freeable;           // an allocation of the session (else a global or a mapping)
    std::uint64_t owner = 0;  // a global's module or library
    std::uint64_t memory = 0;  // a mapping's physical allocation (kMemory id)
    std::uint64_t pool = 0;    // a stream-ordered allocation's pool (kPool id)
  };
  struct Physical {
    std::uint64_t bytes;
    int mappings = 0;
    bool released = false;
    bool shareable = false;  // made with POSIX descriptors as its handle type
    bool charged = true;     // false when imported: its exporter's quota holds it
    int gpu = -1;            // the driver's ordinal of its device
    int exportFd = -1;       // the driver's descriptor, once exported; kept until the memory goes
    scheduler::DriverIpcHandle published{};  // what the board names it by, once exported
  };
  // The mapped ranges exactly covering [base, base + size), in order; empty if they do not.
  std::vector<std::map<std::uint64_t, Range>::iterator> mappingsCovering(std::uint64_t base, std::uint64_t size);
  void forgetPhysicalIfUnused(std::uint64_t id);
  // Closes an exported allocation's descriptor and withdraws it from the board.
  void forgetExport(Physical& physical);
  Result<CUmemGenericAllocationHandle> physicalHandle(std::uint64_t id) const;
  Result<CUmemoryPool> poolHandle(std::uint64_t id) const;
  // Charges pool `id` what it holds now; fails (charging what it can) when that is over quota.
  Status settlePoolCharge(std::uint64_t id);
  Result<int> physicalDeviceOf(int device) const;
  struct Entry {
    void* real;
    std::uint64_t owner;
  };
  void forgetContext(std::uint64_t id);
  // Forgets the globals of module or library `owner`: their addresses may soon be another
  // session's memory.
  void forgetGlobals(std::uint64_t owner);
  void releaseCharge(std::uint64_t owner);

  const cudaabi::DriverTable& driver_;
  const scheduler::SessionLimits limits_;
  std::uint64_t serial_ = 0;
  std::map<HandleKind, int> counts_;  // live handles by kind
  std::map<std::uint64_t, std::uint64_t> codeBytes_;  // module or library handle -> image bytes
  std::uint64_t totalCodeBytes_ = 0;
  std::unordered_map<std::uint64_t, Entry> handles_;
  std::map<std::uint64_t, SessionContext> contexts_;
  std::map<std::uint64_t, Range> ranges_;  // base -> range
  std::map<std::uint64_t, std::uint64_t> charges_;  // owner handle -> bytes charged
  struct LimitCharge {
    std::uint64_t baseline = 0;  // the driver's value before the session first set it
    std::uint64_t charged = 0;   // bytes of it charged to the quota (within charges_[context])
  };
  std::map<std::pair<std::uint64_t, int>, LimitCharge> limitCharges_;  // (context, CUlimit) ->
  std::map<std::uint64_t, std::uint64_t> persistingL2_;  // context -> its virtual set-aside
  std::map<std::uint64_t, std::uint64_t> reservations_;  // base -> size
  std::map<std::uint64_t, Physical> physical_;           // kMemory id -> allocation
  std::size_t mappingCount_ = 0;
  std::map<int, std::uint64_t> defaultPools_;     // physical device -> kPool id
  std::map<std::uint64_t, std::uint64_t> poolCharges_;  // kPool id -> bytes charged (not imported pools)
  struct SharedPool {
    bool imported = false;  // another session's: allocates nothing, charged nothing
    int gpu = -1;           // the driver's ordinal of its device
    int exportFd = -1;      // the driver's descriptor, once exported; kept until the pool goes
    scheduler::DriverIpcHandle published{};
  };
  std::map<std::uint64_t, SharedPool> sharedPools_;  // kPool id -> a shareable or imported pool
  std::map<std::uint64_t, scheduler::DriverIpcHandle> pointerExports_;  // allocation base -> as published
  // Closes a pool's exported descriptor and withdraws it and the pool from sharing.
  void forgetSharedPool(std::uint64_t id);
  // Withdraws the export of the pool allocation at `base` (it is freed).
  void forgetPointerExport(std::uint64_t base);
  std::map<std::uint64_t, std::uint64_t> graphNodes_;   // kGraph or kGraphExec id -> nodes
  std::uint64_t capturingNodes_ = 0;                    // in captures under way
  std::uint64_t totalGraphNodes_ = 0;                   // graphNodes_ summed, plus capturingNodes_
  struct GraphResource {
    void* host = nullptr;       // a staging buffer
    std::uint64_t address = 0;  // graph memory
    std::uint64_t bytes = 0;
    CUdevice device = 0;        // graph memory's (to trim the driver's graph pool)
    std::uint64_t capture = 0;  // while its capture is under way
    int holders = 0;            // graphs and executables
  };
  std::map<std::uint64_t, GraphResource> graphResources_;           // kStaging or kGraphMemory id
  std::map<std::uint64_t, std::vector<std::uint64_t>> resourcesHeld_;  // graph or exec id -> resource ids
  std::map<std::uint64_t, std::uint64_t> graphMemory_;               // address -> kGraphMemory id
  std::uint64_t stagingBytes_ = 0;
  std::map<std::uint64_t, int> openings_;  // memory of other sessions opened here: base -> count
  struct StagingPlace {
    std::uint64_t bytes;
    std::uint64_t id;
  };
  std::map<std::uint64_t, StagingPlace> stagingAt_;
  std::map<std::uint64_t, std::unique_ptr<LinkInProgress>> links_;  // a staging buffer's host address -> what it is
  GraphNodeIds nodeIds_{static_cast<std::uint64_t>(HandleKind::kGraphNode) << 40};
  void freeGraphResource(std::uint64_t id);
  void hold(std::uint64_t resource, std::uint64_t holder);
  // Charges the quota, lets `allocate` place the memory, and records it as graph memory.
  Result<std::uint64_t> addGraphMemory(std::uint64_t bytes, std::uint64_t capture, std::uint64_t holder,
                                       const std::function<CUresult(CUdeviceptr*)>& allocate);
  std::uint64_t current_ = 0;
  std::unique_ptr<scheduler::VgpuAccess> lease_;  // destroyed after the contexts
};

}  // namespace fastgpu::server
