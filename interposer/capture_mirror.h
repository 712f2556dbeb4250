// The client's mirror of its streams' captures (DESIGN.md decision 12). The server's driver
// records the graphs; this mirror knows which streams capture, into which capture, and whether a
// capture was invalidated, so that cuStreamIsCapturing / cuStreamGetCaptureInfo cost no round trip
// and the rules that depend on the calling thread (its capture mode) or that the client can apply
// first are applied here, as cudasim applies them (cudasim/capture.h):
//
// - a stream that waits for an event recorded in a capture joins it (a fork);
// - synchronizing or querying a capturing stream, a captured event or a context with a capture,
//   using the legacy stream beside a capturing blocking stream, waiting for an event of another
//   capture or for one recorded outside any (without CU_EVENT_WAIT_EXTERNAL), a "potentially
//   unsafe" call from a thread the capture modes prohibit, and work the server cannot capture
//   fail and invalidate the capture. An invalidated
//   capture's calls are refused here; ending it ends the server's capture, drops its graph and
//   returns CUDA_ERROR_STREAM_CAPTURE_INVALIDATED.
//
// Threading: every method may be called from any thread.
#pragma once

#include <atomic>
#include <compare>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "cudaabi/cuda_api.h"

namespace fastgpu::interposer {

// What a replay of a graph does in this process (decision 12: effects that land in the client are
// delivered in stream order). Before the replay, the bytes of copies from this process's memory go
// to the server's staging buffers; host functions run when the replay reaches them (host points),
// after the copies to this process's memory that precede them; the other copies to this
// process's memory read theirs once the replay is done.
// Where a copy's bytes lie in this process's memory when they are not back to back: slices of
// `height` rows of `width` bytes, rows `pitch` apart, slices `slicePitch` apart (as many slices as
// the copy's bytes fill). The staging buffer holds them packed.
struct HostStrides {
  std::uint64_t width = 0;
  std::uint64_t pitch = 0;
  std::uint64_t height = 0;
  std::uint64_t slicePitch = 0;
};

struct HostEffect {
  enum class Kind { kCopyToHost, kHostFunction, kCopyFromHost } kind = Kind::kCopyToHost;
  std::uint64_t staging = 0;  // the server's buffer (copies)
  void* destination = nullptr;  // kCopyToHost
  std::uint64_t bytes = 0;
  CUhostFn function = nullptr;  // kHostFunction
  void* data = nullptr;
  const void* source = nullptr;  // kCopyFromHost
  std::uint64_t node = 0;        // the graph node it belongs to, when added as a node
  std::uint32_t point = 0;       // kHostFunction: its host point (host_point_launches.h)
  // kHostFunction: work of FastGPU's own run instead of `function` (a captured copy between two
  // places in this process's memory).
  std::shared_ptr<const std::function<void()>> work;
  std::optional<HostStrides> strides;  // copies: nullopt when the bytes are back to back
};
using HostEffects = std::vector<HostEffect>;

// A copy effect's bytes gathered from this process's memory (source) into `packed` (`bytes` of
// it), and scattered from `packed` into it (destination).
void gatherHostBytes(const HostEffect& effect, std::uint8_t* packed);
void scatterHostBytes(const HostEffect& effect, const std::uint8_t* packed);

// A kernel node as the program described it (added or set through this process), so that its
// parameters read back with no round trip. `pointers` point into `bytes`, one per parameter, and
// stay valid while the description lives (until the node's parameters change).
struct KernelNodeDescription {
  CUfunction function = nullptr;
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned sharedBytes = 0;
  std::vector<std::uint8_t> bytes;
  std::vector<void*> pointers;
};

// What the client keeps of a captured graph (and the executables made from it): its host effects
// and the graph memory its allocation nodes hold (device addresses the client knows as device
// memory while some graph or executable holds them), and the kernel and copy nodes the program
// described (added or set through this process), as it described them.
struct CapturedGraph {
  HostEffects effects;
  std::map<std::uint64_t, std::shared_ptr<const KernelNodeDescription>> kernels;  // node -> description
  std::map<std::uint64_t, CUDA_MEMCPY3D> copies;                                   // node -> parameters
  std::vector<std::uint64_t> allocations;
  std::vector<std::uint64_t> leftLive;  // allocations the graph does not free itself
  // An executable's: host point -> staging buffers of the copies to this process that precede it
  // and of the copies from this process that follow it.
  std::multimap<std::uint32_t, std::uint64_t> pointCopies;
};

class CaptureMirror {
 public:
  // A stream as the client names it: a created stream's id; the legacy stream (0); the calling
  // thread's per-thread default stream.
  struct Key {
    std::uint64_t stream = 0;
    std::thread::id thread;  // set for a per-thread default stream only
    auto operator<=>(const Key&) const = default;
  };
  static Key keyOf(CUstream stream, bool perThread);
  static bool isLegacy(const Key& key) { return key.stream == 0 && key.thread == std::thread::id(); }

  struct State {
    std::uint64_t id = 0;  // the driver's capture id
    bool invalidated = false;
    bool origin = false;  // the stream that began the capture
    std::uint64_t graph = 0;  // the capture's graph (server id), once the client knows it
    bool intoGraph = false;   // cuStreamBeginCaptureToGraph: the graph is the program's, not the capture's
  };

  bool anyActive() const { return active_.load(std::memory_order_acquire) > 0; }

  // A capture began on `key` (of context `context`; `blocking`: not CU_STREAM_NON_BLOCKING), into
  // graph `into` (cuStreamBeginCaptureToGraph) or, `into` 0, into a graph of its own.
  void begin(const Key& key, std::uint64_t id, CUstreamCaptureMode mode, std::uint64_t context, bool blocking,
             std::uint64_t into = 0);
  // The server named the graph of `key`'s capture (cuStreamGetCaptureInfo).
  void learnedGraph(const Key& key, std::uint64_t graph);
  std::optional<State> state(const Key& key);
  // Whether `graph` is the graph of a capture in progress (as cuStreamGetCaptureInfo named it).
  bool isCaptureGraph(std::uint64_t graph);
  // The capture of `key` ended (however it ended): every stream and event of it forgets it.
  // Returns what its graph keeps here.
  CapturedGraph end(const Key& key);
  // Graph memory allocated in `key`'s capture (cuMemAllocAsync captured), and freed in it.
  void addAllocation(const Key& key, std::uint64_t address);
  void freedInCapture(const Key& key, std::uint64_t address);
  // A host effect captured on `key`'s active capture.
  CUresult addEffect(const Key& key, HostEffect effect);
  // Whether ending from this thread is allowed (a non-relaxed capture ends on its own thread).
  bool endsOnThisThread(const Key& key);

  // Work about to go to `key`'s stream of context `context`. `capturable`: the server can
  // capture it. CUDA_SUCCESS lets it go.
  CUresult work(const Key& key, std::uint64_t context, bool capturable);
  // Synchronizing or querying a stream, an event or a context.
  CUresult synchronizing(const Key& key);
  CUresult eventSynchronizing(std::uint64_t event);
  CUresult contextSynchronizing(std::uint64_t context);
  // A potentially unsafe call (allocation, freeing, synchronous copies and memsets).
  CUresult unsafeCall();
  // cuEventRecord on `key`, once it has gone to the server.
  void recorded(const Key& key, std::uint64_t event);
  // cuStreamWaitEvent of `key` (context, blocking as for begin): checks, and joins a capture.
  CUresult waiting(const Key& key, std::uint64_t event, unsigned flags, std::uint64_t context, bool blocking);
  // Invalidates `key`'s capture (cuStreamEndCapture on a stream that did not begin it).
  void invalidate(const Key& key);
  // A destroyed stream leaves its capture (invalidated, as natively).
  void streamDestroyed(const Key& key);

 private:
  struct Capture {
    std::uint64_t id = 0;
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
    std::thread::id thread;
    Key origin;
    bool invalidated = false;
    CapturedGraph graph;
    std::uint64_t graphId = 0;       // State::graph
    bool intoGraph = false;
  };
  struct Member {
    std::shared_ptr<Capture> capture;
    std::uint64_t context = 0;
    bool blocking = false;
  };

  Member* member(const Key& key);
  // Every stream and event of `capture` forgets it (under the mutex).
  void forget(const std::shared_ptr<Capture>& capture);

  std::atomic<int> active_{0};
  std::mutex mutex_;
  std::map<Key, Member> streams_;
  std::map<std::uint64_t, std::weak_ptr<Capture>> events_;  // recorded in a capture
};

}  // namespace fastgpu::interposer
