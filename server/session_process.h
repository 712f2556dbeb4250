// The main process's side of one client's session (DESIGN.md, decision 3): on its own thread, it
// logs the client in (login.h), starts the session's worker process with the connection
// (worker_launch.h), waits for the worker to end, and then takes back what the worker held on
// the shared board — quota, pieces at the gate — and records the session's usage. Because this
// happens in the main process, a worker that crashed or was killed is cleaned up like one that
// ended in order, and its usage is not lost.
//
// Threading: run() on the session's thread in the main process; the rest from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "protocol/transport/transport.h"
#include "scheduler/usage_ledger.h"
#include "scheduler/vgpu_registry.h"
#include "server/login.h"
#include "server/worker_launch.h"

namespace fastgpu::server {

// What every session of a server shares: where clients are admitted, the limits, how workers
// start, where usage goes. Outlives the sessions.
struct SessionHost {
  scheduler::VgpuRegistry& registry;
  scheduler::UsageLedger* ledger;  // may be null
  scheduler::ServerLimits limits;
  WorkerCommand worker;
  int driverVersion = 0;
};

class SessionProcess {
 public:
  SessionProcess(std::unique_ptr<protocol::Connection> connection, const SessionHost& host, std::uint64_t id);
  ~SessionProcess();
  SessionProcess(const SessionProcess&) = delete;
  SessionProcess& operator=(const SessionProcess&) = delete;

  void run();
  // Ends the session now: a login is cut off, a worker killed (the driver frees its memory).
  void kill(const char* why);
  // Asks the worker to end the session in order (SIGTERM); kill() if it does not in time.
  void terminate();

  std::uint64_t id() const { return id_; }
  bool finished() const { return finished_.load(); }
  bool handshaking() const { return handshaking_.load(); }
  SessionInfo info() const;

 private:
  // Starts the worker; false (logged) when it cannot.
  bool startWorker(scheduler::VgpuLease& lease, int slot);
  // After the worker ended: gives back what it held, records its usage, frees its slot.
  void cleanUp(scheduler::VgpuLease& lease, int slot);
  void recordUsage(const scheduler::SessionSlot& slot);
  void logExit(int status);

  const SessionHost& host_;
  const std::uint64_t id_;
  std::atomic<bool> finished_{false};
  std::atomic<bool> handshaking_{true};
  mutable std::mutex mutex_;  // guards everything below
  std::unique_ptr<protocol::Connection> connection_;  // until handed to the worker
  pid_t worker_ = 0;
  const char* killedFor_ = nullptr;  // why kill() was called, if it was
  SessionInfo info_;
};

}  // namespace fastgpu::server
