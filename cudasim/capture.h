// Stream capture in cudasim, with the CUDA Programming Guide's rules ("Stream Capture"):
//
// - Work queued on a capturing stream is not run; it becomes a node of the capture's graph after
//   the stream's current dependencies (its frontier).
// - An event recorded on a capturing stream stands for that frontier; a stream that waits for
//   it joins the capture (a fork), and the origin stream must wait for every joined stream's
//   work again before the capture ends (the join), or ending fails with UNJOINED.
// - Invalid operations fail and invalidate the capture: synchronizing or querying a capturing
//   stream, a captured event or a context with a capture; using the legacy stream while a
//   blocking stream of its context captures (IMPLICIT); waiting for an event of another capture
//   (MERGE) or for one recorded outside any capture (ISOLATION, unless CU_EVENT_WAIT_EXTERNAL);
//   a "potentially unsafe" call (allocating, freeing, synchronous copies) from a thread that the
//   capture modes prohibit. Ending an invalidated capture returns INVALIDATED and no graph.
//
// Threading: every method may be called from any thread; one mutex guards capture state and the
// graphs that captures add to (it is also the mutex of the graph calls: GraphRegistry).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cudasim/graph.h"

namespace fastgpu::sim {

class Context;
class Event;

class Captures {
 public:
  explicit Captures(HandleTable& handles) : handles_(handles) {}

  // The mutex of every graph call (graphs are shared with captures).
  std::mutex& mutex() { return mutex_; }

  // cuStreamBeginCapture / cuStreamBeginCaptureToGraph (`into` null: a new graph).
  Status begin(Stream& stream, CUstreamCaptureMode mode, std::shared_ptr<Graph> into,
               const std::vector<GraphNode*>& dependencies);
  // cuStreamEndCapture: the captured graph (the caller registers and returns it).
  Result<std::shared_ptr<Graph>> end(Stream& stream);

  struct Info {
    CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
    std::uint64_t id = 0;
    Graph* graph = nullptr;
    std::vector<CUgraphNode> dependencies;
  };
  Info info(const Stream& stream);
  // cuStreamUpdateCaptureDependencies (flags: CU_STREAM_ADD/SET_CAPTURE_DEPENDENCIES).
  Status updateDependencies(Stream& stream, const std::vector<GraphNode*>& nodes, unsigned flags);

  // Where one stream operation goes. kRun: the stream is not capturing; the caller queues the
  // work. kCaptured: it became a node of the stream's capture.
  // `makeNode()` gives the node's parameters; it is called only while some capture is active.
  enum class Route { kRun, kCaptured };
  template <typename MakeNode>
  Result<Route> route(Stream& stream, CUgraphNodeType type, MakeNode&& makeNode) {
    if (!anyActive()) return Route::kRun;
    return routeDuringCaptures(stream, type, makeNode());
  }
  // cuEventRecord / cuStreamWaitEvent on a stream: kCaptured when the capture took it.
  Result<Route> recordEvent(Stream& stream, const Event& event);
  Result<Route> waitEvent(Stream& stream, const Event& event, unsigned flags);

  // The checks of calls that are invalid during captures; each invalidates what it must.
  Status checkUnsafeCall();
  // Synchronizing or querying `stream`, or work that cudasim cannot capture, while it captures.
  Status refuseIfCapturing(const Stream& stream);
  Status checkEventSynchronize(const Event& event);
  Status checkContextSynchronize(const Context& context);
  // A capturing stream that is destroyed invalidates its capture.
  void streamDestroyed(const Stream& stream);

 private:
  struct Sequence {
    std::uint64_t id = 0;
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
    std::thread::id thread;
    std::uint64_t origin = 0;  // the stream id that began it
    std::shared_ptr<Graph> graph;
    bool ownsGraph = true;  // false: cuStreamBeginCaptureToGraph's graph, the caller's
    bool invalidated = false;
  };
  struct Capturing {
    std::shared_ptr<Sequence> sequence;
    std::vector<GraphNode*> frontier;
    const Context* context = nullptr;
    bool blocking = false;
  };
  struct CapturedEvent {
    std::weak_ptr<Sequence> sequence;
    std::vector<GraphNode*> nodes;
  };

  bool anyActive() const { return active_.load(std::memory_order_acquire) > 0; }
  Result<Route> routeDuringCaptures(Stream& stream, CUgraphNodeType type, NodeParams params);
  Capturing* capturing(const Stream& stream);
  Result<GraphNode*> addNode(Capturing& state, CUgraphNodeType type, NodeParams params);
  void finish(const std::shared_ptr<Sequence>& sequence);

  HandleTable& handles_;
  std::mutex mutex_;
  std::atomic<int> active_{0};  // live sequences, read without the mutex on fast paths
  std::uint64_t nextId_ = 1;
  std::vector<std::shared_ptr<Sequence>> sequences_;
  std::map<std::uint64_t, Capturing> streams_;     // by stream id
  std::map<std::uint64_t, CapturedEvent> events_;  // by event handle
};

// Registers `node` (a node of a registered graph) in the handle table.
void registerNode(HandleTable& handles, const std::shared_ptr<GraphNode>& node);
// Registers `graph` and every node in it, child graphs included, where not registered yet.
void registerGraph(HandleTable& handles, const std::shared_ptr<Graph>& graph);
// Forgets the handles of `graph` and everything in it.
void unregisterGraph(HandleTable& handles, const Graph& graph);

}  // namespace fastgpu::sim
