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
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
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
  LoginThrottle& throttle;  // failed logins per peer address
};

class SessionProcess {
 public:
  // How long the session's last reply (why the server ended it) may wait for a client that
  // reads nothing.
  static constexpr std::chrono::seconds kLastReplyTimeout{2};

  SessionProcess(std::unique_ptr<protocol::Connection> connection, const SessionHost& host, std::uint64_t id);
  ~SessionProcess();
  SessionProcess(const SessionProcess&) = delete;
  SessionProcess& operator=(const SessionProcess&) = delete;

  void run();
  // Ends the session now: a login is cut off, a worker killed (the driver frees its memory).
  // The client is told `why` (its code and message) as the session's last reply.
  void kill(Status why);
  // The server is stopping: a login is cut off; a running session may go on (the caller kills
  // it when the grace period is over) and is told so if it is killed.
  void terminate();
  // Ends the session when its oldest kernel has run longer than its vGPU's max_kernel_ms.
  void enforceKernelLimit();
  // Writes the running session's usage so far to the ledger.
  void checkpoint();

  std::uint64_t id() const { return id_; }
  bool finished() const { return finished_.load(); }
  bool handshaking() const { return handshaking_.load(); }
  SessionInfo info() const;

 private:
  // Starts the worker; false (logged) when it cannot.
  bool startWorker();
  // After the worker ended: tells the client why, if the server ended it.
  void tellClient(int status);
  // After the worker ended: gives back what it held, records its usage, frees its slot.
  void cleanUp();
  // Writes the session's row; after the final one (`last`), checkpoints write nothing.
  void recordUsage(const scheduler::SessionSlot& slot, bool last);
  // Why the worker ended, for the log and the client; ok when it ended in order.
  Status exitReason(int status);

  const SessionHost& host_;
  const std::uint64_t id_;
  std::atomic<bool> finished_{false};
  std::atomic<bool> handshaking_{true};
  mutable std::mutex mutex_;  // guards everything below
  // The client's connection: used here until login, then handed to the worker (detach()); kept
  // until the session ends, as a TLS connection relays the worker's bytes in the meantime.
  std::unique_ptr<protocol::Connection> connection_;
  // The main process's copy of the connection, kept while the worker runs to tell the client
  // why the server ended its session (worker killed or crashed): -1 when none.
  int keptFd_ = -1;
  pid_t worker_ = 0;
  std::optional<Status> killedFor_;  // why kill() or terminate() was called, if it was
  std::unique_ptr<scheduler::VgpuLease> lease_;  // from admission to cleanup
  int slot_ = -1;                                // its session slot on the board, or -1
  SessionInfo info_;
  std::mutex recordMutex_;  // orders checkpoints and the final record; guards recorded_
  bool recorded_ = false;
};

}  // namespace fastgpu::server
