// A discrete-event simulation of clients sharing one GPU through a GatePolicy, on fake time:
// deterministic, and seconds of GPU sharing take milliseconds to run.
//
// Each client behaves as a saturating remote program does: a round of `batch` pieces of
// `pieceMicros` each, sent one after another (a piece reaches the gate only once the previous
// one was admitted, as on a session's single thread), then a synchronize that waits for all of
// them, then `roundTripMicros` until its next round reaches the server. The GPU runs one piece
// at a time, in admission order.
#pragma once

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <optional>
#include <vector>

#include "scheduler/gate_policy.h"

namespace fastgpu::scheduler::testing {

using namespace std::chrono_literals;

struct SimulatedClient {
  GatePolicy::TenantConfig config;
  double pieceMicros = 1000;
  int batch = 10;
  double roundTripMicros = 200;
  // Host time between a piece's admission and its reaching the GPU (the driver call).
  double submitMicros = 20;
  double startAtSeconds = 0;  // when its first round arrives
  // A pause: rounds that would begin in [pauseFromSeconds, pauseToSeconds) wait for its end.
  double pauseFromSeconds = std::numeric_limits<double>::infinity();
  double pauseToSeconds = std::numeric_limits<double>::infinity();
};

class GateSimulation {
 public:
  using TimePoint = GatePolicy::TimePoint;

  explicit GateSimulation(std::vector<SimulatedClient> clients) : clients_(std::move(clients)) {
    for (auto& client : clients_) {
      State state;
      state.tenant = *policy_.addTenant(client.config, epoch_);
      state.nextArrival = at(client.startAtSeconds);
      states_.push_back(state);
    }
  }

  GatePolicy& policy() { return policy_; }
  double now() const { return std::chrono::duration<double>(now_ - epoch_).count(); }

  // Runs the simulation until `seconds` after the start.
  void runUntil(double seconds) {
    TimePoint end = at(seconds);
    while (now_ < end) {
      admitWhatMay();
      TimePoint next = std::min(end, nextEvent());
      now_ = std::max(now_, next);
      completeGpuWork();
      arrivals();
    }
  }

  // Piece time completed by client `index` so far, in seconds (pieces × their length): what
  // the client itself would count.
  double completedSeconds(std::size_t index) const { return states_[index].completedSeconds; }
  // The longest any of the client's pieces waited at the gate, in seconds.
  double longestWaitSeconds(std::size_t index) const { return states_[index].longestWait; }

 private:
  struct State {
    GatePolicy::TenantId tenant = 0;
    int sentInRound = 0;     // pieces of this round that reached the gate
    int doneInRound = 0;     // pieces of this round completed
    bool waiting = false;    // a piece waits at the gate
    TimePoint waitingSince;
    std::optional<TimePoint> nextArrival;  // when its next piece reaches the gate
    double completedSeconds = 0;
    double longestWait = 0;
  };
  struct Piece {
    std::size_t client;
    GatePolicy::Ticket ticket;
    TimePoint onGpuFrom;  // submitted to the driver
    std::optional<TimePoint> finishesAt;
  };

  TimePoint at(double seconds) const {
    return epoch_ + std::chrono::duration_cast<GatePolicy::Clock::duration>(std::chrono::duration<double>(seconds));
  }
  static GatePolicy::Clock::duration micros(double value) {
    return std::chrono::duration_cast<GatePolicy::Clock::duration>(std::chrono::duration<double, std::micro>(value));
  }

  void admitWhatMay() {
    for (bool admitted = true; admitted;) {
      admitted = false;
      for (std::size_t i = 0; i < states_.size(); ++i) {
        State& state = states_[i];
        if (!state.waiting || !policy_.mayAdmit(state.tenant, now_)) continue;
        state.waiting = false;
        state.longestWait = std::max(state.longestWait, std::chrono::duration<double>(now_ - state.waitingSince).count());
        gpu_.push_back(Piece{i, policy_.admit(state.tenant, now_), now_ + micros(clients_[i].submitMicros), {}});
        // The session thread goes on to the next piece of the round.
        if (++state.sentInRound < clients_[i].batch) state.nextArrival = now_ + micros(clients_[i].submitMicros);
        admitted = true;
      }
    }
    scheduleGpu();
  }

  void scheduleGpu() {
    // The piece at the front runs from when it was submitted or the GPU became free.
    if (!gpu_.empty() && !gpu_.front().finishesAt) {
      Piece& piece = gpu_.front();
      TimePoint start = std::max(piece.onGpuFrom, gpuFreeAt_);
      piece.finishesAt = start + micros(clients_[piece.client].pieceMicros);
    }
  }

  TimePoint nextEvent() {
    TimePoint next = TimePoint::max();
    if (!gpu_.empty()) next = std::min(next, *gpu_.front().finishesAt);
    for (std::size_t i = 0; i < states_.size(); ++i) {
      const State& state = states_[i];
      if (state.nextArrival) next = std::min(next, *state.nextArrival);
      if (state.waiting) {
        if (auto recheck = policy_.recheckAt(state.tenant, now_)) next = std::min(next, std::max(*recheck, now_ + 1ns));
      }
    }
    return next;
  }

  void completeGpuWork() {
    while (!gpu_.empty() && gpu_.front().finishesAt && *gpu_.front().finishesAt <= now_) {
      Piece piece = gpu_.front();
      gpu_.pop_front();
      TimePoint done = *piece.finishesAt;
      gpuFreeAt_ = done;
      // The start event fires when the piece reaches its stream (right after submission here).
      double gpuSeconds = std::chrono::duration<double>(done - piece.onGpuFrom).count();
      policy_.finish(piece.ticket, GatePolicy::Completion{done, gpuSeconds}, done);
      State& state = states_[piece.client];
      const SimulatedClient& client = clients_[piece.client];
      state.completedSeconds += client.pieceMicros * 1e-6;
      if (++state.doneInRound == client.batch) {
        // The synchronize returns; the next round reaches the server a round trip later.
        state.sentInRound = state.doneInRound = 0;
        TimePoint next = done + micros(client.roundTripMicros);
        double nextSeconds = std::chrono::duration<double>(next - epoch_).count();
        bool paused = nextSeconds >= client.pauseFromSeconds && nextSeconds < client.pauseToSeconds;
        if (!paused) {
          state.nextArrival = next;
        } else if (!std::isinf(client.pauseToSeconds)) {
          state.nextArrival = at(client.pauseToSeconds);
        }
      }
      scheduleGpu();
    }
  }

  void arrivals() {
    for (auto& state : states_) {
      if (!state.nextArrival || *state.nextArrival > now_) continue;
      state.nextArrival.reset();
      policy_.arrive(state.tenant, now_);
      state.waiting = true;
      state.waitingSince = now_;
    }
  }

  std::vector<SimulatedClient> clients_;
  std::vector<State> states_;
  GatePolicy policy_;
  const TimePoint epoch_ = TimePoint{} + std::chrono::hours(1);
  TimePoint now_ = epoch_;
  TimePoint gpuFreeAt_ = epoch_;
  std::deque<Piece> gpu_;
};

}  // namespace fastgpu::scheduler::testing
