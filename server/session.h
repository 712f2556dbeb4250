// One client process's session, served in its own worker process (DESIGN.md, decisions 3-5): its
// connection, its state on the driver, and the loop that runs its calls in order. The main
// process has read the Hello and admitted the client (login.h); the session greets it with the
// devices of its vGPU and serves it. A session ends when the client leaves, its connection
// breaks, or it sends something malformed; in every case its resources are freed.
//
// Threading: run() on the worker's main thread; stop() from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/schema/fastgpu.capnp.h"
#include "protocol/transport/shm_rendezvous.h"
#include "protocol/transport/shm_segment.h"
#include "protocol/transport/transport.h"
#include "server/device_output_relay.h"
#include "server/host_points.h"
#include "server/launch_attributes.h"
#include "server/module_cache.h"
#include "server/pending_deliveries.h"
#include "server/rdma_host_copies.h"
#include "server/shared_host_memory.h"
#include "server/shared_memory_offer.h"
#include "server/session_state.h"

namespace fastgpu::server {

// What a call answers besides its result; turned into a wire Reply for calls that get one.
struct Answer {
  enum class Kind { kNone, kHandle, kValues, kData, kModule } kind = Kind::kNone;
  std::uint64_t handle = 0;
  std::vector<std::int64_t> values;
  std::vector<std::uint8_t> data;
  std::span<const std::uint8_t> bulk;  // sent raw after the reply (device-to-host copies)
  struct Kernel {
    std::string name;
    std::uint64_t handle;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> params;  // offset, size
    std::uint32_t paramBytes;
  };
  std::vector<Kernel> kernels;

  void setHandle(std::uint64_t value) { kind = Kind::kHandle, handle = value; }
  void setValues(std::vector<std::int64_t> list) { kind = Kind::kValues, values = std::move(list); }
};

class Session {
 public:
  // `lease` is what the session holds of its vGPU, `limits` what objects it may hold; `driver`
  // must outlive the session.
  Session(std::unique_ptr<protocol::Connection> connection, const cudaabi::DriverTable& driver,
          std::unique_ptr<scheduler::VgpuAccess> lease, std::uint64_t id, scheduler::SessionLimits limits = {});
  ~Session();
  // Replies carry what the worker's driver printed (device printf, assert messages); none when
  // null (a session served in the main process, as in tests).
  void relayDeviceOutput(DeviceOutputRelay* relay) { relay_ = relay; }
  // Large code images are kept in `cache` and may be loaded from it by digest; none without.
  void useModuleCache(std::unique_ptr<ModuleCache> cache) { moduleCache_ = std::move(cache); }

  // After the Welcome, the session moves onto a shared-memory segment, if one can be made: sent
  // over its connection (which must pass descriptors: a Unix socket to the client itself), or
  // over a rendezvous socket the client joins (shm_rendezvous.h).
  void offerSharedMemory(SharedMemoryOffer offer) { offerSharedMemory_ = offer; }
  // After the Welcome, the session moves onto RDMA (the client asked; the server serves it).
  void offerRdma(bool offer) { offerRdma_ = offer; }

  // Greets the client and serves it until it leaves; then frees everything. Returns why it ended.
  Status run();

 private:
  // Sends the Welcome: the session id and the devices the client sees; then moves the session
  // onto shared memory if it offers it.
  Status welcome();
  // Hands the client the segment over `socket` (the connection's own when -1) and serves it from
  // the segment from now on.
  Status moveToSharedMemory(protocol::SharedSegment segment, int socket = -1);
  // Waits for the client at `point`, then moves the session onto `segment` over its socket; a
  // client that does not come stays on its connection.
  Status moveByRendezvous(protocol::SharedSegment segment, protocol::RendezvousPoint point);
  Status moveOntoRdma();
  // Every frame to the client goes through here (the session's thread and the heartbeat's).
  Status send(std::span<const std::span<const std::uint8_t>> parts);
  // While a batch takes long, sends the client empty frames (heartbeats) so that it can tell a
  // busy server from a dead one.
  void runHeartbeat();
  // Whether the client has closed its end (a transport that cannot tell says no).
  bool peerClosed() const;
  // Runs the calls of one frame; a call that gets a reply leaves it in `replies` and its bulk
  // bytes in `replyBulk`.
  Status serveBatch(std::span<const std::uint8_t> payload, std::vector<std::uint8_t>& replies,
                    std::span<const std::uint8_t>& replyBulk);
  Status execute(wire::Call::Reader call, std::span<const std::uint8_t> bulk, Answer& answer);
  Status route(wire::Call::Reader call, std::span<const std::uint8_t> bulk, Answer& answer);
  // Counts launches and bytes moved for the vGPU's metrics and the session's record.
  void countWork(wire::Call::Reader call, const Status& result, const Answer& answer, scheduler::VgpuUsage* usage);
  void writeReply(const Status& status, const Answer& answer, std::vector<std::uint8_t>& replies);

  // Dispatch by group (dispatch_*.cpp). Each returns the call's result.
  Status executeContextCall(wire::Call::Reader call, Answer& answer);
  // An asynchronous copy into the client's pinned memory (pending_deliveries.h).
  Status stageToHost(wire::StagedDelivery::Reader copy, scheduler::ComputeGate* gate,
                     scheduler::ComputeGate::TenantId tenant);
  // The session's shared pinned memory; an error when it has none (not on shared memory).
  Result<SharedHostMemory*> sharedHostMemory();
  // A copy between the device and the client's pinned memory in the shared heap.
  Status copyShared(wire::SharedCopy::Reader copy, scheduler::ComputeGate* gate,
                    scheduler::ComputeGate::TenantId tenant);
  // A copy between the device and the client's registered pinned memory over RDMA
  // (rdma_host_copies.h); refused when the session is not on RDMA.
  Status copyRdma(wire::RdmaCopy::Reader copy, scheduler::ComputeGate* gate, scheduler::ComputeGate::TenantId tenant);
  Status executeMemoryCall(wire::Call::Reader call, std::span<const std::uint8_t> bulk, Answer& answer);
  Status executeStreamCall(wire::Call::Reader call, Answer& answer);
  Status executeCodeCall(wire::Call::Reader call, Answer& answer);
  Status executeTensorMapCall(wire::Call::Reader call, Answer& answer);
  Status executeVirtualMemoryCall(wire::Call::Reader call, Answer& answer);
  Status executePoolCall(wire::Call::Reader call, Answer& answer);
  Status executeGraphCall(wire::Call::Reader call, std::span<const std::uint8_t> bulk, Answer& answer);
  Status executeGraphBuildCall(wire::Call::Reader call, Answer& answer);
  Status executeIpcCall(wire::Call::Reader call, Answer& answer);
  Status executeLinkCall(wire::Call::Reader call, Answer& answer);  // dispatch_link.cpp
  Status streamMemOps(wire::StreamMemOps::Reader request);
  // cuStreamSetAttribute / cuStreamGetAttribute: checked values (cudaabi/stream_attributes.h); an
  // access policy window must lie in the session's memory.
  Status streamAttribute(wire::Call::Reader call, Answer& answer);
  // A kernel node's attributes set, read or copied (dispatch_kernel_node_attributes.cpp).
  Status kernelNodeAttribute(wire::Call::Reader call, Answer& answer);
  // An access policy window is about the session's own memory.
  Status checkAccessPolicyWindow(const CUaccessPolicyWindow& window) const;

  // Helpers shared by the groups.
  // The stream a client names: 0 the legacy default stream, or with `perThread` the calling
  // client thread's per-thread default stream (perThreadStream).
  Result<CUstream> stream(std::uint64_t id, bool perThread);
  // The calling client thread's per-thread default stream in the current context: a blocking
  // stream of its own, made on its first use (all of a process's calls run on one thread here, so
  // the driver's per-thread stream would be every client thread's). Past kMaxPerThreadStreams, or
  // the session's stream limit, the driver's, shared.
  CUstream perThreadStream();
  Result<CUfunction> function(std::uint64_t id);
  Result<CUevent> event(std::uint64_t id);
  // Stream capture (dispatch_graph.cpp). Work on a capturing stream does not run: it passes no
  // gate (whose metering events would join the capture) and is counted as a graph node. Work that
  // reads or writes the client's memory through this process cannot be captured.
  Status executeCaptureCall(wire::Call::Reader call, Answer& answer);
  Status beginCapture(wire::CaptureBegin::Reader begin, Answer& answer);
  Status endCapture(wire::StreamRef::Reader end, Answer& answer);
  Status captureInfo(wire::StreamRef::Reader ref, Answer& answer);
  Status updateCaptureDependencies(wire::CaptureDependencies::Reader update);
  // The session id of capture `capture`'s graph `graph`, given one the first time it is asked for.
  Result<std::uint64_t> captureGraphId(std::uint64_t capture, CUgraph graph);
  // Whether graph `graph` (a session id) is being captured into.
  bool isCaptureGraph(std::uint64_t graph) const;
  // The session ends: the graphs of captures still under way leave the handle table unfreed.
  void forgetCaptureGraphs();
  bool capturing(CUstream stream);
  // Waits for the current context's work as the driver's own waits do (cuMemFreeHost,
  // cuMemHostUnregister): all of it when nothing captures, else every stream that is not capturing
  // (cuCtxSynchronize would invalidate the captures of the client's other threads).
  Status awaitContextWork();
  // The driver's id of the capture `stream` is in; 0 when it is not capturing.
  std::uint64_t captureId(CUstream stream);
  Result<scheduler::ComputeGate*> gateFor(CUstream stream);
  Status refuseIfCapturing(CUstream stream, const char* what);
  // Device memory a captured copy to or from the client's memory reaches: `bytes` from `first`,
  // or with `width`, bytes/width rows of `width` bytes, `pitch` apart.
  struct CapturedBand {
    std::uint64_t first = 0;
    std::uint64_t bytes = 0;
    std::uint64_t pitch = 0;
    std::uint64_t width = 0;
  };
  // A copy between `band` and a new staging buffer (packed) captured on a stream; answers the
  // buffer's id.
  Status captureStagedCopy(std::uint64_t stream, bool perThread, CapturedBand band, bool toHost, Answer& answer);
  Status driverResult(CUresult result, const char* what);
  // Graphs built node by node (dispatch_graph_build.cpp).
  Result<std::vector<CUgraphNode>> graphNodes(std::uint64_t graph, capnp::List<std::uint64_t>::Reader ids);
  // Where a copy node's side in the client's memory lies here: a staging buffer of `bytes`
  // (`toHost`: the destination side's).
  using StagingSide = std::function<Result<void*>(bool toHost, std::uint64_t bytes)>;
  Result<CUDA_MEMCPY3D> graphCopy(wire::GraphCopy::Reader copy, const StagingSide& staging);
  Result<CUDA_MEMSET_NODE_PARAMS> graphMemset(wire::GraphMemset::Reader set);
  // A kernel node's parameters; they point into `parameters` (see PackedParameters).
  Result<CUDA_KERNEL_NODE_PARAMS_v2> kernelNode(wire::Launch::Reader launch, PackedParameters& parameters);
  // Adds the node `add` describes; returns it and its staging buffer or memory (0 if none).
  Result<std::pair<CUgraphNode, std::uint64_t>> addNode(wire::GraphNodeAdd::Reader add, CUgraph graph,
                                                        const std::vector<CUgraphNode>& after);
  Status queryGraph(wire::GraphQuery::Reader query, Answer& answer);
  // A node's parameters read or set (dispatch_graph_params.cpp).
  Status graphNodeParams(wire::GraphNodeParams::Reader request, Answer& answer);
  // A node of a child graph borrowed for queries (cuGraphChildGraphNodeGetGraph) is not changed
  // here: CUDA_ERROR_NOT_SUPPORTED (the client's records know nothing of changes made in it).
  static Status refuseChangeInBorrowedGraph(const GraphNodeIds::Node& node);
  // A copy node's parameters read or set (in executable `exec`, null: in its graph `graph`).
  Status copyNodeParams(std::uint64_t graph, CUgraphNode node, CUgraphExec exec, wire::GraphNodeParams::Reader request,
                        Answer& answer);
  // For an executable of `graph` (host_point_copies.cpp): the staging buffers of each host point's
  // copies to the client that precede it (done when the replay reaches it) and of its copies from
  // the client that follow it (filled again once the client's function ran), as values
  // [point, staging buffer] appended to `values`.
  Status hostPointCopies(CUgraph graph, std::vector<std::int64_t>& values);
  // A graph launch; with `hostLaunch`, marked done in stream order (host_points.h).
  Status launchGraph(wire::GraphLaunch::Reader launch);
  // Waits for a launch with host points: its end, or a point reached (host_points.h).
  Status waitForHostPoint(wire::HostPointWait::Reader request, Answer& answer);
  // A kernel node's function (the session's id), geometry and parameter bytes, as values.
  Status kernelNodeParams(std::uint64_t graph, CUgraphNode node, std::vector<std::int64_t>& values);
  // Loads `image`; one the client sent (not read from the cache) is kept in the module cache.
  Status loadCode(std::span<const std::uint8_t> image, bool library, bool fromCache, Answer& answer);
  Status loadCachedCode(wire::CachedCode::Reader cached, Answer& answer);
  // An image too large for one frame arrives in parts, in order, then is loaded whole; what went
  // wrong with the parts is the load's result.
  Status uploadCode(wire::CodeUpload::Reader part, std::span<const std::uint8_t> bytes);
  Status loadUploadedCode(bool library, Answer& answer);
  // The session's GPU time, in its slot on the board: what the gate charges its work to.
  scheduler::GpuTimeAccount* gpuTime() const { return &state_->lease().slot().gpuTime; }

  std::unique_ptr<protocol::Connection> connection_;
  const cudaabi::DriverTable& driver_;
  const std::uint64_t id_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<SessionState> state_;  // reset when the session ends: frees everything
  HostPoints hostPoints_;  // after state_: abandoned (its replays let go) before the driver's objects go
  Status deferred_;  // the first error of asynchronous calls since the last reply
  int activeCaptures_ = 0;
  std::uint32_t callThread_ = 0;  // the client thread of the call being served
  static constexpr std::size_t kMaxPerThreadStreams = 256;
  // (context id, client thread) -> the session's id of that thread's per-thread default stream
  std::map<std::pair<std::uint64_t, std::uint32_t>, std::uint64_t> perThreadStreams_;
  struct CaptureGraph {
    std::uint64_t id;  // the graph's session id
    bool owned;        // made by the capture (else cuStreamBeginCaptureToGraph's, the client's)
  };
  std::map<std::uint64_t, CaptureGraph> captureGraphs_;  // the driver's capture id -> its graph, once known
  DeviceOutputRelay* relay_ = nullptr;  // begun on this session's streams and not ended
  std::unique_ptr<ModuleCache> moduleCache_;
  SharedMemoryOffer offerSharedMemory_ = SharedMemoryOffer::kNone;
  bool offerRdma_ = false;
  struct CodeUploadInProgress {
    std::uint64_t total = 0;
    std::vector<std::uint8_t> bytes;  // what has arrived; grows with the parts, never to more than total
    std::optional<Status> failure;    // why the upload failed: its load says so
  } upload_;
  std::vector<std::uint8_t> staging_;  // device-to-host data on its way out; reused
  PendingDeliveries deliveries_;       // asynchronous copies to the client's pinned memory
  std::vector<std::uint8_t> deliveryBulk_;  // the bytes of the deliveries in the reply being written
  std::optional<SharedHostMemory> sharedHost_;  // a same-host client's pinned memory, when it has a heap
  std::unique_ptr<RdmaHostCopies> rdmaCopies_;   // made on an RDMA session's first copyRdma
  const scheduler::SessionLimits limits_;
  std::mutex sendMutex_;  // one sender at a time; guards lastSent_
  std::chrono::steady_clock::time_point lastSent_ = std::chrono::steady_clock::now();
  std::atomic<bool> busy_{false};  // a batch is being served
  std::mutex heartbeatMutex_;      // guards stopping_
  std::condition_variable heartbeatWake_;
  bool stopping_ = false;
  std::atomic<bool> peerGone_{false};  // a heartbeat could not be sent
};

}  // namespace fastgpu::server
