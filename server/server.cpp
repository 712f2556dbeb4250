#include "server/server.h"

#include <filesystem>
#include <chrono>
#include <system_error>

#include "server/logging.h"

namespace fastgpu::server {
namespace {

// The name workers are given for the server's log level ("info", ...).
std::string levelName(spdlog::level::level_enum level) {
  auto name = spdlog::level::to_string_view(level);
  return std::string(name.data(), name.size());
}

}  // namespace

Server::Server(std::unique_ptr<LoadedDriver> driver, std::unique_ptr<scheduler::VgpuRegistry> registry,
               std::vector<std::unique_ptr<protocol::Listener>> listeners,
               std::unique_ptr<scheduler::UsageLedger> ledger, scheduler::ServerLimits limits, std::string workerProgram)
    : driver_(std::move(driver)),
      registry_(std::move(registry)),
      ledger_(std::move(ledger)),
      listeners_(std::move(listeners)),
      throttle_(limits.loginFailuresPerMinute),
      host_{*registry_, ledger_.get(), limits,
            WorkerCommand{std::move(workerProgram), driver_->path(), levelName(serverLogger()->level())},
            driver_->version(), throttle_} {
  // Session ids never repeat, across restarts too: on from the ledger's last one, and from the
  // clock (in milliseconds) when there is no ledger or it is behind.
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  nextSession_ = static_cast<std::uint64_t>(now.count());
  if (ledger_) {
    if (auto last = ledger_->lastSession()) {
      nextSession_ = std::max(nextSession_, *last + 1);
    } else {
      serverLogger()->warn("{}", last.status().message());
    }
  }
}

Server::~Server() { stop(); }

void Server::run() {
  std::vector<std::thread> acceptors;
  for (auto& listener : listeners_) {
    serverLogger()->info("listening on {} driver={}", listener->url(), driver_->path());
    acceptors.emplace_back([this, &listener] { acceptLoop(*listener); });
  }
  std::thread watchdog([this] { watchSessions(); });
  for (auto& acceptor : acceptors) acceptor.join();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  watchdogWake_.notify_all();
  watchdog.join();
  endSessions();
  serverLogger()->info("stopped");
}

void Server::watchSessions() {
  // A kernel cannot be preempted; a session whose kernel runs past its vGPU's limit is ended
  // (its worker killed). Checked a few dozen times a second: limits are in milliseconds.
  constexpr auto kPeriod = std::chrono::milliseconds(20);
  auto checkpointEvery = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(host_.limits.ledgerCheckpointSeconds));
  auto nextCheckpoint = std::chrono::steady_clock::now() + checkpointEvery;
  std::unique_lock lock(mutex_);
  while (!watchdogWake_.wait_for(lock, kPeriod, [&] { return stopping_; })) {
    bool checkpointing = ledger_ && std::chrono::steady_clock::now() >= nextCheckpoint;
    if (checkpointing) nextCheckpoint = std::chrono::steady_clock::now() + checkpointEvery;
    std::vector<std::shared_ptr<SessionProcess>> running;
    for (const auto& session : sessions_) {
      if (!session.session->finished()) running.push_back(session.session);
    }
    // Outside the lock: checkpoints write the ledger (disk), which must not hold up new
    // connections, evictions or the admin API's listings.
    lock.unlock();
    for (const auto& session : running) {
      session->enforceKernelLimit();
      if (checkpointing) session->checkpoint();
    }
    lock.lock();
  }
}

void Server::endSessions() {
  std::unique_lock lock(mutex_);
  for (auto& running : sessions_) running.session->terminate();
  auto grace = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(host_.limits.shutdownGraceSeconds));
  bool ended = sessionEnded_.wait_until(lock, std::chrono::steady_clock::now() + grace, [&] {
    for (const auto& running : sessions_) {
      if (!running.session->finished()) return false;
    }
    return true;
  });
  if (!ended) {
    for (auto& running : sessions_) running.session->kill(Status(CUDA_ERROR_DEVICE_UNAVAILABLE, "the server is shutting down"));
  }
  std::list<RunningSession> ending;
  ending.swap(sessions_);
  lock.unlock();
  for (auto& running : ending) running.thread.join();
}

void Server::stop() {
  for (auto& listener : listeners_) listener->close();
}

void Server::acceptLoop(protocol::Listener& listener) {
  for (;;) {
    auto connection = listener.accept();
    if (!connection) {
      if (connection.status().kind() == ErrorKind::kDisconnected) return;
      serverLogger()->warn("accept on {} failed: {}", listener.url(), connection.status().message());
      continue;
    }
    reapFinished();
    serve(std::move(*connection));
  }
}

void Server::serve(std::unique_ptr<protocol::Connection> connection) {
  std::lock_guard lock(mutex_);
  int connected = 0, handshaking = 0;
  for (const auto& running : sessions_) {
    if (running.session->finished()) continue;
    ++connected;
    if (running.session->handshaking()) ++handshaking;
  }
  const char* over = connected >= host_.limits.maxConnections   ? "max_connections"
                     : handshaking >= host_.limits.maxHandshaking ? "max_handshaking"
                                                                  : nullptr;
  if (over != nullptr) {
    serverLogger()->warn("refused a connection from {}: {} connections, {} of them logging in ({} reached)",
                         connection->peer(), connected, handshaking, over);
    return;  // closing it is the refusal
  }
  auto session = std::make_shared<SessionProcess>(std::move(connection), host_, nextSession_++);
  SessionProcess* raw = session.get();
  std::thread thread;
  try {
    thread = std::thread([this, raw] {
      raw->run();
      { std::lock_guard ended(mutex_); }  // so that endSessions() cannot miss the notification
      sessionEnded_.notify_all();
    });
  } catch (const std::system_error& e) {
    // Out of threads: refuse this client, keep serving the others.
    serverLogger()->warn("refused a connection from {}: cannot start a thread ({})", raw->info().peer, e.what());
    return;
  }
  sessions_.push_back(RunningSession{std::move(session), std::move(thread)});
}

std::vector<SessionInfo> Server::sessions() {
  std::lock_guard lock(mutex_);
  std::vector<SessionInfo> infos;
  for (const auto& running : sessions_) {
    if (!running.session->finished()) infos.push_back(running.session->info());
  }
  return infos;
}

void Server::dropModuleCache(const std::string& name) {
  if (host_.limits.moduleCache.dir.empty()) return;
  std::error_code error;
  std::filesystem::remove_all(host_.limits.moduleCache.vgpuDirectory(name), error);
  if (error) serverLogger()->warn("vgpu={} module cache not removed: {}", name, error.message());
}

bool Server::evict(std::uint64_t session) {
  std::lock_guard lock(mutex_);
  for (const auto& running : sessions_) {
    if (running.session->id() == session && !running.session->finished()) {
      serverLogger()->info("session={} evicted by the administrator", session);
      running.session->kill(Status(CUDA_ERROR_DEVICE_UNAVAILABLE, "evicted by the administrator"));
      return true;
    }
  }
  return false;
}

void Server::reapFinished() {
  std::list<RunningSession> finished;
  {
    std::lock_guard lock(mutex_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      auto current = it++;
      if (current->session->finished()) finished.splice(finished.end(), sessions_, current);
    }
  }
  for (auto& running : finished) running.thread.join();
}

}  // namespace fastgpu::server
