// The client's side of host points (server/host_points.h): graph launches whose replays hold host
// work of this process (host functions) in flight. The launching thread waits for its launch to
// end and runs every host point its replay reaches meanwhile, as the driver's own thread would:
// first the copies to this process's memory that precede the point (done when the replay reaches
// it), then the point's function, then the copies from this process's memory that follow it are
// filled again (they read what the function left). What is left of the copies to this process is
// delivered when the launch ends.
//
// The server serves one call of a process at a time, and a thread's round trip holds this
// process's connection until its reply comes. So a call of another thread that waits on the
// server for device work (a synchronize, a synchronous copy, freeing page-locked memory, even a
// posted one such as destroying a graph that frees its staging buffers) while a replay is held
// at a point would hold the launching thread's wait, and so the replay, behind it; and two
// launching threads would each hold the connection the other needs to release its point. Hence
// one launch with host points is in flight per process at a time, and it and other threads'
// calls exclude each other (CallTurn): another thread's call waits for the launch in flight, a
// launch for the calls in progress and the launch in flight; the launching thread's own calls pass.
// TODO(perf): concurrent launches with host points need a connection that serves several
// threads' calls at once.
//
// Threading: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "interposer/capture_mirror.h"

namespace fastgpu::interposer {

class HostPointLaunches {
 public:
  // A number for a new host point of this process (never 0).
  std::uint32_t nextPoint();

  // A launch of an executable whose record is `record` begins on this thread (once no other
  // launch and no call of another thread is in progress): its serial.
  std::uint32_t begin(std::shared_ptr<const CapturedGraph> record);
  // A replay reached `point`: the work to do here, from the launch in flight, when its executable
  // has the point (none for a point it does not know: it is released with nothing run).
  struct PointWork {
    std::optional<HostEffect> function;
    std::vector<HostEffect> copies;   // to deliver first; counted delivered in that launch
    std::vector<HostEffect> refills;  // copies from this process after the point: filled again after it
  };
  PointWork reached(std::uint32_t point);
  // Launch `launch` is over: the copies to this process it has not delivered yet.
  std::vector<HostEffect> end(std::uint32_t launch);

  // Held while a call of this thread is sent and, for a round trip, until its reply came (see above).
  class [[nodiscard]] CallTurn {
   public:
    CallTurn(CallTurn&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    CallTurn(const CallTurn&) = delete;
    CallTurn& operator=(const CallTurn&) = delete;
    CallTurn& operator=(CallTurn&&) = delete;
    ~CallTurn();

   private:
    friend class HostPointLaunches;
    explicit CallTurn(HostPointLaunches* owner) : owner_(owner) {}
    HostPointLaunches* owner_;  // null: not counted
  };
  // Waits until no other thread's launch is in flight (none when this thread's is).
  CallTurn callTurn();

 private:
  struct InFlight {
    std::shared_ptr<const CapturedGraph> record;
    std::set<std::uint64_t> delivered;  // staging buffers
    std::thread::id thread;
  };
  bool launchingHere() const;  // under mutex_

  std::mutex mutex_;
  std::condition_variable ended_;  // a launch or a call turn ended
  int calls_ = 0;  // CallTurns held
  std::uint32_t nextPoint_ = 0;
  std::uint32_t nextLaunch_ = 0;
  std::map<std::uint32_t, InFlight> inFlight_;
};

}  // namespace fastgpu::interposer
