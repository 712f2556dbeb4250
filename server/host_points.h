// Host work of a graph replay that runs in the client, in stream order (DESIGN.md decision 12).
// Each host function of the client's (a captured cuLaunchHostFunc, a host node) is a host point in
// the server's graph: a host node whose function, when the replay reaches it, reports the point
// and holds the replay until the client has run its own function and releases it. So a host node
// may have device work after it, as natively.
//
// The client launches a graph with host points under a launch serial of its own; the server
// queues a "launch done" host function after it. The launching client thread then waits
// (HostPointWait) until its launch is done, running every point any replay of the session reaches
// meanwhile (natively, host functions run on the driver's threads, not the launcher's; taking
// any point keeps two threads' launches from waiting for each other behind the worker's one
// thread).
//
// The node's data names the session (a serial of this process) and the point, so no memory of
// the server is behind it: a node the driver runs after its session is gone finds nothing and
// returns at once, and so does every point once the session is abandoned.
//
// Threading: the node functions run on the driver's threads; the rest on the session's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "cudaabi/cuda_api.h"
#include "cudaabi/result.h"

namespace fastgpu::server {

class HostPoints {
 public:
  // Launches with host points not yet waited for to the end, per session.
  static constexpr std::size_t kMaxLaunchesInFlight = 1024;

  HostPoints();
  ~HostPoints();  // abandons
  HostPoints(const HostPoints&) = delete;
  HostPoints& operator=(const HostPoints&) = delete;

  // The host node function and data of point `point`.
  static CUhostFn pointFunction();
  void* pointData(std::uint32_t point) const;
  // The point a host node's function and data stand for, when it is one of this session's.
  std::optional<std::uint32_t> pointOf(CUhostFn function, void* data) const;

  // A launch `launch` with host points is about to go to the driver (refused past
  // kMaxLaunchesInFlight or when the serial is in use).
  Status beginLaunch(std::uint32_t launch);
  // The host function and data that mark `launch` done, queued after the graph.
  static CUhostFn launchDoneFunction();
  void* launchData(std::uint32_t launch) const;
  // `launch` is done without its marker running (the launch or the marker failed).
  void launchDone(std::uint32_t launch);
  // `launch` will not be waited for again (its stream failed).
  void forgetLaunch(std::uint32_t launch);

  struct Event {
    bool done = false;           // `launch` is done
    std::uint32_t point = 0;     // else: a replay reached `point`
    std::uint64_t instance = 0;  // its instance, for release
  };
  // Waits up to `timeout` for `launch` to be done or any point to be reached; nullopt on time-out.
  // A done launch is forgotten. Refused once abandoned.
  Result<std::optional<Event>> wait(std::uint32_t launch, std::chrono::milliseconds timeout);
  // The reached instance goes on (its host node returns).
  Status release(std::uint64_t instance);
  // Every held point goes on, and every later one passes at once (the session is ending).
  void abandon();
  // Whether a replay is held at a point now.
  bool anyHeld() const;
  // `held` is called with true when a replay of the session comes to be held at a point (none
  // was), with false when none is held any more; on a driver thread, under the points' lock.
  // Set before any graph is launched.
  void onHeld(std::function<void(bool held)> held);

  struct Shared;  // with the driver's threads (host_points.cpp)

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace fastgpu::server
