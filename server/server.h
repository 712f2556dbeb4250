// fastgpu-server's main process (DESIGN.md, decision 3): listeners, one thread per connection that
// logs its client in and watches the session's worker process, and an orderly stop.
//
// Threading: run() blocks on the calling thread until stop() (from any thread, e.g. the signal
// thread); on the way out it stops accepting, lets running sessions go on for the grace period
// ([limits] shutdown_grace_seconds), kills the workers of those still running, and joins every
// session thread before it returns.
#pragma once

#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "protocol/transport/transport.h"
#include "server/loaded_driver.h"
#include "server/session_process.h"

namespace fastgpu::server {

class Server {
 public:
  // With `ledger`, every session's usage is recorded there when it ends. `limits` cap the
  // connections it serves (more are refused with a logged reason) and what each may cost before
  // login. Workers run `workerProgram` (this program itself unless a test embeds the server).
  Server(std::unique_ptr<LoadedDriver> driver, std::unique_ptr<scheduler::VgpuRegistry> registry,
         std::vector<std::unique_ptr<protocol::Listener>> listeners,
         std::unique_ptr<scheduler::UsageLedger> ledger = nullptr, scheduler::ServerLimits limits = {},
         std::string workerProgram = WorkerCommand{}.program);
  ~Server();

  void run();
  void stop();

  // The sessions being served now. Thread-safe.
  std::vector<SessionInfo> sessions();
  // Ends a session at once (its worker is killed; the driver frees its memory and the quota is
  // free again); false when unknown.
  bool evict(std::uint64_t session);
  // Removes the module cache of vGPU `name` (deleted: a vGPU made later under its name starts
  // with none of its code).
  void dropModuleCache(const std::string& name);
  scheduler::VgpuRegistry& registry() { return *registry_; }
  scheduler::UsageLedger* ledger() { return ledger_.get(); }

 private:
  struct RunningSession {
    std::shared_ptr<SessionProcess> session;  // shared with the watchdog while it looks at it
    std::thread thread;
  };

  void acceptLoop(protocol::Listener& listener);
  void reapFinished();
  // Starts serving `connection`, or refuses it (logged) when over a limit or out of threads.
  void serve(std::unique_ptr<protocol::Connection> connection);
  // Lets sessions end by themselves for the grace period, then kills the rest; joins every thread.
  void endSessions();
  // Until stopping: ends sessions whose kernel runs past their vGPU's max_kernel_ms, and
  // checkpoints running sessions' usage to the ledger.
  void watchSessions();

  std::unique_ptr<LoadedDriver> driver_;
  std::unique_ptr<scheduler::VgpuRegistry> registry_;
  std::unique_ptr<scheduler::UsageLedger> ledger_;
  std::vector<std::unique_ptr<protocol::Listener>> listeners_;
  LoginThrottle throttle_;
  SessionHost host_;
  std::mutex mutex_;  // guards sessions_, nextSession_ and stopping_
  std::condition_variable sessionEnded_;
  std::condition_variable watchdogWake_;
  bool stopping_ = false;
  std::list<RunningSession> sessions_;
  std::uint64_t nextSession_ = 1;  // set by the constructor: never an id used before
};

}  // namespace fastgpu::server
