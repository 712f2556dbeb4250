// fastgpu-server's core: listeners, one thread per session, and an orderly stop.
//
// Threading: run() blocks on the calling thread until stop() (from any thread, e.g. the
// signal thread); every session thread is joined before run() returns.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "protocol/transport/transport.h"
#include "server/loaded_driver.h"
#include "server/session.h"

namespace fastgpu::server {

class Server {
 public:
  // With `ledger`, every session's usage is recorded there when it ends. `limits` cap the
  // connections it serves (more are refused with a logged reason) and what each may cost before
  // login.
  Server(std::unique_ptr<LoadedDriver> driver, std::unique_ptr<scheduler::VgpuRegistry> registry,
         std::vector<std::unique_ptr<protocol::Listener>> listeners,
         std::unique_ptr<scheduler::UsageLedger> ledger = nullptr, scheduler::ServerLimits limits = {});
  ~Server();

  void run();
  void stop();

  // The sessions being served now. Thread-safe.
  std::vector<SessionInfo> sessions();
  // Ends a session (its resources are freed as for any ending session); false when unknown.
  bool evict(std::uint64_t session);
  scheduler::VgpuRegistry& registry() { return *registry_; }
  scheduler::UsageLedger* ledger() { return ledger_.get(); }

 private:
  void acceptLoop(protocol::Listener& listener);
  void reapFinished();
  // Starts serving `connection`, or refuses it (logged) when over a limit or out of threads.
  void serve(std::unique_ptr<protocol::Connection> connection);

  struct RunningSession {
    std::unique_ptr<Session> session;
    std::thread thread;
  };

  std::unique_ptr<LoadedDriver> driver_;
  std::unique_ptr<scheduler::VgpuRegistry> registry_;
  std::unique_ptr<scheduler::UsageLedger> ledger_;
  std::vector<std::unique_ptr<protocol::Listener>> listeners_;
  const scheduler::ServerLimits limits_;
  std::mutex mutex_;  // guards sessions_ and nextSession_
  std::list<RunningSession> sessions_;
  std::uint64_t nextSession_ = 1;
};

}  // namespace fastgpu::server
