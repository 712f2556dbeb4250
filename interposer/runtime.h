// The interposer's process-wide state, in one explicit object (STYLE.md): the connection, what
// the server told us about its devices, and the client-side bookkeeping that lets most queries
// and every launch go without a round trip (DESIGN.md, decisions 6 and 8).
//
// Created on first use, which does nothing but construct empty tables: connecting happens in
// cuInit. Threading: every method may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cudaabi/export_tables.h"
#include "cudaabi/kernel_image.h"
#include "cudaabi/user_objects.h"
#include "interposer/call_message.h"
#include "interposer/capture_mirror.h"
#include "interposer/host_point_launches.h"
#include "interposer/client.h"

namespace fastgpu::interposer {

using KernelLayout = cudaabi::KernelInfo;

// Registered memory moved into the heap shared with the server (registered_pages.h): the whole
// pages moved, where they lie in the heap, and the device's address of them (0: none).
struct MovedPages {
  std::uint64_t base = 0;
  std::uint64_t bytes = 0;
  std::uint64_t heapOffset = 0;
  std::uint64_t device = 0;
};

struct HostRange {
  std::uint64_t bytes = 0;
  unsigned flags = 0;
  bool allocated = false;  // by cuMemHostAlloc (freed by cuMemFreeHost) or registered
  // Allocated in the heap shared with the server (client.h): where it starts there, and the
  // device's address of it (0: none).
  std::optional<std::uint64_t> sharedOffset;
  std::uint64_t sharedDevice = 0;
  std::optional<MovedPages> moved;  // registered memory whose pages moved into the heap
};

// Whether [address, address + bytes) lies in `allocation` (as Runtime::allocation gives it).
inline bool withinAllocation(std::pair<std::uint64_t, std::uint64_t> allocation, std::uint64_t address,
                             std::uint64_t bytes) {
  std::uint64_t offset = address - allocation.first;
  return bytes <= allocation.second && offset <= allocation.second - bytes;
}

struct StreamInfo {
  std::uint64_t context = 0;
  unsigned flags = 0;
  int priority = 0;
};

class Runtime : public cudaabi::DriverServices {
 public:
  // cuInit: connects once per process (again in a forked child).
  CUresult initialize();
  // The connected client, or null (not initialized, or the connection failed).
  Client* client();
  CUresult initError() const { return initError_; }

  // ---- devices (from the server's welcome) ----
  int deviceCount();
  const RemoteDevice& device(int ordinal);  // ordinal must be valid

  // ---- contexts: the current one is per thread and kept here, never asked for ----
  std::uint64_t currentContextId();
  std::vector<std::uint64_t>& contextStack();
  void addContext(std::uint64_t id, int device);
  std::optional<int> contextDevice(std::uint64_t id);
  void removeContext(std::uint64_t id);

  // ---- code ----
  void addKernels(std::uint64_t owner, wire::LoadedModule::Reader module);
  std::optional<std::uint64_t> kernelByName(std::uint64_t owner, const std::string& name);
  const KernelLayout* layout(std::uint64_t function);
  void aliasLayout(std::uint64_t function, std::uint64_t kernel);
  void removeCode(std::uint64_t owner);
  // The module or library a kernel handle came from, and how many kernels an owner has.
  std::optional<std::uint64_t> ownerOf(std::uint64_t kernel);
  std::size_t kernelCount(std::uint64_t owner);

  // ---- streams ----
  void addStream(std::uint64_t id, StreamInfo info);
  std::optional<StreamInfo> stream(std::uint64_t id);
  void removeStream(std::uint64_t id);

  // ---- memory (decision 8: device ranges are reserved here, so no host pointer aliases them) ----
  void addAllocation(std::uint64_t base, std::uint64_t bytes);
  // Reserves [base, base + bytes) here without it being memory yet (cuMemAddressReserve).
  void reserveDeviceAddresses(std::uint64_t base, std::uint64_t bytes);
  void removeAllocation(std::uint64_t base);
  // Memory of another process opened through IPC: device memory here, freed only by
  // cuIpcCloseMemHandle (which tells, with the server's count, when the last opening closed).
  void setIpcOpened(std::uint64_t base, bool opened);
  bool isIpcOpened(std::uint64_t base);
  // The remote allocation containing address, as (base, bytes).
  std::optional<std::pair<std::uint64_t, std::uint64_t>> allocation(std::uint64_t address);
  // Adds [base, base + range.bytes) unless it overlaps a range known already (checked and added
  // at once); returns whether it was added.
  [[nodiscard]] bool addHostRange(std::uint64_t base, HostRange range);
  // Forgets every range that overlaps [base, base + bytes): memory the system has just handed
  // out again, so any registration of it was stale (the program freed it unregistered).
  void forgetHostRangesOverlapping(std::uint64_t base, std::uint64_t bytes);
  std::optional<HostRange> hostRange(std::uint64_t base);
  std::optional<std::pair<std::uint64_t, HostRange>> hostRangeContaining(std::uint64_t address);
  void removeHostRange(std::uint64_t base);

  // ---- stream capture (what the client knows of its streams' captures) and graphs ----
  CaptureMirror& captures() { return captures_; }
  // Graph launches whose replays reach host points of this process (host_point_launches.h).
  HostPointLaunches& hostPointLaunches() { return hostPointLaunches_; }
  // User objects (cudaabi/user_objects.h) live in this process: their destructors are its
  // functions. Graphs and executables own references by their server ids.
  cudaabi::UserObjects& userObjects() { return userObjects_; }
  // The graphs and executables this process holds (server ids), so that a stale or forged one is
  // refused at once, with what the client keeps of them (capture_mirror.h); an executable shares
  // its graph's record. The graph memory of a record stays device memory here until no graph or
  // executable's record holds it.
  void addGraphObject(std::uint64_t id, std::shared_ptr<const CapturedGraph> record);
  bool hasGraphObject(std::uint64_t id);
  // A graph's or executable's record (null when it keeps nothing here); nullopt for an unknown id.
  std::optional<std::shared_ptr<const CapturedGraph>> graphRecord(std::uint64_t id);
  bool removeGraphObject(std::uint64_t id);
  // A child graph borrowed from a node of graph `holder` (cuGraphChildGraphNodeGetGraph): for
  // queries only; forgotten here with its holder (the server forgets it with the node too).
  void addBorrowedGraph(std::uint64_t id, std::uint64_t holder);
  bool isBorrowedGraph(std::uint64_t id);
  // Changes what graph `id` keeps (a node was added or removed); executables made from it keep
  // what it kept when they were made. False for an unknown id. `change` runs under the runtime's
  // lock: it must not call back into the runtime.
  bool amendGraphRecord(std::uint64_t id, const std::function<void(CapturedGraph&)>& change);
  // The graph (not an executable) whose record holds a host effect, a kernel or a copy description
  // of node `node`; 0 if none.
  std::uint64_t graphHoldingNode(std::uint64_t node);
  // The copy effect of some graph's record that goes through staging buffer `staging`.
  std::optional<HostEffect> stagedEffect(std::uint64_t staging);
  // Graph memory (an address that some captured graph allocates).
  void addGraphMemory(std::uint64_t base, std::uint64_t bytes);
  bool isGraphMemory(std::uint64_t base);
  // A launch of executable `exec`: refused (false) while memory it leaves live is still live from
  // its last launch, unless it was instantiated to free it on launch; else that memory is live.
  bool launchGraphMemory(std::uint64_t exec, const CapturedGraph& record);
  void graphMemoryFreed(std::uint64_t base);
  // cuDeviceGetGraphMemAttribute, from what this process's graphs hold: reserved = the graph
  // memory graphs and executables hold, used = what launches left live; the highs since the last
  // reset (a launch counts all its graph's allocations live at once).
  struct GraphMemoryUsage {
    std::uint64_t used = 0, usedHigh = 0, reserved = 0, reservedHigh = 0;
  };
  GraphMemoryUsage graphMemoryUsage();
  void resetGraphMemoryHigh(bool used);
  // The flags executable `exec` was instantiated with (cuGraphExecGetFlags; auto-free on launch).
  void setExecFlags(std::uint64_t exec, std::uint64_t flags);
  std::optional<std::uint64_t> execFlags(std::uint64_t exec);

  // ---- DriverServices (private export tables) ----
  int driverVersion() override { return CUDA_VERSION; }
  std::vector<cudaabi::IntegrityDeviceRecord> integrityDevices() override;
  CUresult retainPrimaryContextForRuntime(CUcontext* context, CUdevice device) override;
  CUresult loadModuleForRuntime(CUmodule* module, const void* fatbinOrWrapper) override;
  CUcontext currentContext() override;
  CUresult vgpuStatus(int device, cudaabi::VgpuStatus& status) override;  // session_status.cpp

 private:
  void reserve(std::uint64_t base, std::uint64_t bytes);
  void printStatsAtExit();

  std::mutex connectMutex_;
  std::unique_ptr<Client> client_;
  int pid_ = 0;
  CUresult initError_ = CUDA_ERROR_NOT_INITIALIZED;

  std::mutex mutex_;  // guards the tables below
  std::map<std::uint64_t, int> contexts_;
  std::unordered_map<std::uint64_t, KernelLayout> layouts_;
  std::map<std::pair<std::uint64_t, std::string>, std::uint64_t> kernelsByName_;
  std::map<std::uint64_t, std::vector<std::uint64_t>> codeOwned_;
  std::unordered_map<std::uint64_t, StreamInfo> streams_;
  std::map<std::uint64_t, std::uint64_t> allocations_;  // base -> bytes
  std::map<std::uint64_t, std::uint64_t> reserved_;     // page ranges start -> end
  std::map<std::uint64_t, HostRange> hostRanges_;
  CaptureMirror captures_;
  HostPointLaunches hostPointLaunches_;
  cudaabi::UserObjects userObjects_;
  std::map<std::uint64_t, std::shared_ptr<const CapturedGraph>> graphObjects_;
  std::map<std::uint64_t, std::uint64_t> borrowedGraphs_;  // id -> the graph holding its node
  std::set<std::uint64_t> graphMemory_;
  std::set<std::uint64_t> liveGraphMemory_;
  std::map<std::uint64_t, std::uint64_t> execFlags_;  // executable -> its instantiation flags
  std::set<std::uint64_t> ipcOpened_;
  std::uint64_t graphUsedHigh_ = 0, graphReservedHigh_ = 0;
  // The bytes of graph memory in `bases` (under mutex_).
  template <typename Bases>
  std::uint64_t graphBytesLocked(const Bases& bases) const;
};

// The runtime of this process; never destroyed (entry points run from atexit handlers).
Runtime& runtime();

}  // namespace fastgpu::interposer
