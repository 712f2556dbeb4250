#include "server/session_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "server/logging.h"

namespace fastgpu::server {

SessionProcess::SessionProcess(std::unique_ptr<protocol::Connection> connection, const SessionHost& host,
                               std::uint64_t id)
    : host_(host), id_(id), connection_(std::move(connection)) {
  // Listed by the admin API from the start, while still logging in (not as session 0).
  info_.id = id_;
  info_.peer = connection_->peer();
  info_.startedUnix = std::time(nullptr);
}

SessionProcess::~SessionProcess() = default;

SessionInfo SessionProcess::info() const {
  std::lock_guard lock(mutex_);
  return info_;
}

void SessionProcess::run() {
  auto log = serverLogger();
  SessionInfo info = this->info();
  log->info("session={} peer={} connected", id_, info.peer);
  // The connection is used by this thread only until it is handed over; kill() shuts it down
  // under the mutex, which only unblocks this thread's reads.
  auto lease = login(*connection_, host_.registry, host_.limits, host_.driverVersion, info);
  {
    std::lock_guard lock(mutex_);
    info_ = info;
  }
  handshaking_ = false;
  std::optional<int> slot;
  if (lease) {
    slot = host_.registry.board().takeSession(id_);
    if (!slot) log->warn("session={} peer={} refused: no free session slot", id_, info.peer);
  }
  if (!slot || !startWorker(**lease, *slot)) {
    if (slot) host_.registry.board().giveBackSession(*slot);
    std::lock_guard lock(mutex_);
    connection_.reset();
    finished_ = true;
    return;
  }
  // Wait for the worker's end without reaping it, so that kill() never signals a reused pid.
  siginfo_t ended{};
  while (::waitid(P_PID, static_cast<id_t>(worker_), &ended, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
  int status = 0;
  {
    std::lock_guard lock(mutex_);
    ::waitpid(worker_, &status, 0);
    worker_ = 0;
  }
  logExit(status);
  cleanUp(**lease, *slot);
  finished_ = true;
}

bool SessionProcess::startWorker(scheduler::VgpuLease& lease, int slot) {
  WorkerSpec spec;
  spec.session = id_;
  spec.slot = slot;
  for (const auto& gpu : lease.devices()) spec.devices.push_back(gpu.ordinal);
  if (scheduler::Vgpu* vgpu = lease.vgpu()) {
    spec.vgpuPlace = vgpu->place();
    spec.gpu = vgpu->physicalGpu();
    spec.tenant = vgpu->tenant();
  }
  std::lock_guard lock(mutex_);
  spec.peer = info_.peer;
  if (killedFor_ != nullptr) return false;
  int fd = connection_->detach();
  auto pid = launchWorker(host_.worker, spec, fd, host_.registry.board().descriptor());
  if (!pid) {
    // Out of processes or descriptors: this client is refused, the server goes on.
    serverLogger()->warn("session={} peer={} refused: {}", id_, spec.peer, pid.status().message());
    connection_ = protocol::adoptStream(fd, spec.peer);
    sendRefusal(*connection_, Status(CUDA_ERROR_OPERATING_SYSTEM, "the server cannot start a worker now; try again"),
                id_, host_.driverVersion);
    return false;
  }
  ::close(fd);  // the worker has its own
  connection_.reset();
  worker_ = *pid;
  serverLogger()->info("session={} worker pid={}", id_, worker_);
  return true;
}

void SessionProcess::kill(const char* why) {
  std::lock_guard lock(mutex_);
  if (killedFor_ == nullptr) killedFor_ = why;
  if (worker_ > 0) {
    ::kill(worker_, SIGKILL);
  } else if (connection_) {
    connection_->shutdown();
  }
}

void SessionProcess::terminate() {
  std::lock_guard lock(mutex_);
  if (worker_ > 0) {
    ::kill(worker_, SIGTERM);
  } else if (connection_) {
    if (killedFor_ == nullptr) killedFor_ = "the server is stopping";
    connection_->shutdown();
  }
}

void SessionProcess::logExit(int status) {
  auto log = serverLogger();
  const char* why = nullptr;
  {
    std::lock_guard lock(mutex_);
    why = killedFor_;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    log->info("session={} worker ended", id_);
  } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && why != nullptr) {
    log->info("session={} worker killed: {}", id_, why);
  } else if (WIFSIGNALED(status)) {
    // A crash in the driver or a kernel: this session alone ends.
    log->warn("session={} worker died of signal {} ({}); its resources are freed, other sessions go on", id_,
              WTERMSIG(status), strsignal(WTERMSIG(status)));
  } else {
    log->warn("session={} worker failed with exit status {}", id_, WEXITSTATUS(status));
  }
}

void SessionProcess::cleanUp(scheduler::VgpuLease& lease, int slot) {
  scheduler::SessionSlot& held = host_.registry.board().layout().sessions[slot];
  recordUsage(held);
  if (scheduler::Vgpu* vgpu = lease.vgpu()) {
    vgpu->gate().abandon(vgpu->tenant(), held.pieces);
    vgpu->quota().releaseAll(held.memory);
  }
  host_.registry.board().giveBackSession(slot);
  serverLogger()->info("session={} resources freed", id_);
}

void SessionProcess::recordUsage(const scheduler::SessionSlot& slot) {
  if (host_.ledger == nullptr) return;
  SessionInfo info = this->info();
  scheduler::SessionRecord record;
  record.session = id_;
  record.vgpu = info.vgpu;
  record.host = info.host;
  record.pid = info.pid;
  record.started = static_cast<double>(info.startedUnix);
  record.ended = static_cast<double>(std::time(nullptr));
  record.gpuSeconds = slot.gpuTime.seconds();
  record.memoryGibSeconds = slot.memory.gibSeconds();
  record.launches = slot.counters.launches.load();
  record.bytesToDevice = slot.counters.bytesToDevice.load();
  record.bytesFromDevice = slot.counters.bytesFromDevice.load();
  if (Status status = host_.ledger->record(record); !status) serverLogger()->error("session={} {}", id_, status.message());
}

}  // namespace fastgpu::server
