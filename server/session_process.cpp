#include "server/session_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <capnp/message.h>

#include <fmt/format.h>

#include "protocol/message.h"
#include "protocol/schema/fastgpu.capnp.h"
#include "server/logging.h"

namespace fastgpu::server {
namespace {

// Shared memory only for a client on this host that asked for it: over its own socket when that
// reaches the client itself (a Unix socket), else by rendezvous (TCP or TLS from this host).
SharedMemoryOffer sharedMemoryOfferFor(const SessionInfo& info, const protocol::Connection& connection) {
  if (!info.sharedMemoryAsked || !connection.loopback()) return SharedMemoryOffer::kNone;
  return connection.passesDescriptors() ? SharedMemoryOffer::kOverConnection : SharedMemoryOffer::kByRendezvous;
}

}  // namespace

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
  auto lease = login(*connection_, host_.registry, host_.limits, host_.throttle, host_.driverVersion, info);
  std::optional<int> slot;
  if (lease) {
    slot = host_.registry.board().takeSession(id_);
    if (!slot) log->warn("session={} peer={} refused: no free session slot", id_, info.peer);
    if (slot) {
      scheduler::SessionSlot& taken = host_.registry.board().layout().sessions[*slot];
      taken.pid = info.pid;
      taken.vgpuPlace = (*lease)->vgpu() != nullptr ? (*lease)->vgpu()->place() : -1;
    }
  }
  {
    std::lock_guard lock(mutex_);
    info_ = info;
    if (slot) {
      lease_ = std::move(*lease);
      slot_ = *slot;
    }
  }
  handshaking_ = false;
  if (!slot || !startWorker()) {
    if (slot) host_.registry.board().giveBackSession(*slot);
    std::lock_guard lock(mutex_);
    connection_.reset();
    lease_.reset();
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
  tellClient(status);
  cleanUp();
  // A TLS connection relays until now (its last words flushed, within a bound); a plain one was
  // handed over whole and is inert.
  std::unique_ptr<protocol::Connection> connection;
  {
    std::lock_guard lock(mutex_);
    connection = std::move(connection_);
  }
  connection.reset();
  finished_ = true;
}

bool SessionProcess::startWorker() {
  std::lock_guard lock(mutex_);
  WorkerSpec spec;
  spec.session = id_;
  spec.slot = slot_;
  for (const auto& gpu : lease_->devices()) spec.devices.push_back(gpu.ordinal);
  if (scheduler::Vgpu* vgpu = lease_->vgpu()) {
    spec.vgpuPlace = vgpu->place();
    spec.gpu = vgpu->physicalGpu();
    spec.tenant = vgpu->tenant();
  }
  spec.peer = info_.peer;
  spec.limits = host_.limits.session;
  if (const auto& cache = host_.limits.moduleCache; !cache.dir.empty()) {
    // One directory per vGPU: no tenant learns what another loaded.
    scheduler::Vgpu* vgpu = lease_->vgpu();
    spec.moduleCacheDir = cache.vgpuDirectory(vgpu != nullptr ? vgpu->name() : std::string());
    spec.moduleCacheBytes = cache.bytesPerVgpu;
  }
  spec.rdma = info_.rdmaAsked && host_.limits.servesRdma;
  spec.sharedMemory = spec.rdma ? SharedMemoryOffer::kNone : sharedMemoryOfferFor(info_, *connection_);
  if (killedFor_) return false;
  int fd = connection_->detach();
  if (fd < 0) {
    serverLogger()->warn("session={} peer={} refused: the server is out of descriptors or threads", id_, spec.peer);
    sendRefusal(*connection_, Status(CUDA_ERROR_OPERATING_SYSTEM, "the server cannot start a worker now; try again"),
                id_, host_.driverVersion);
    return false;
  }
  auto pid = launchWorker(host_.worker, spec, fd, host_.registry.board().descriptor());
  if (!pid) {
    // Out of processes or descriptors: this client is refused, the server goes on.
    serverLogger()->warn("session={} peer={} refused: {}", id_, spec.peer, pid.status().message());
    auto handedBack = protocol::adoptStream(fd, spec.peer);
    sendRefusal(*handedBack, Status(CUDA_ERROR_OPERATING_SYSTEM, "the server cannot start a worker now; try again"),
                id_, host_.driverVersion);
    return false;
  }
  keptFd_ = fd;  // the worker has its own copy
  worker_ = *pid;
  serverLogger()->info("session={} worker pid={}", id_, worker_);
  return true;
}

void SessionProcess::kill(Status why) {
  std::lock_guard lock(mutex_);
  killedFor_ = std::move(why);
  if (worker_ > 0) {
    ::kill(worker_, SIGKILL);
  } else if (connection_ && handshaking_) {
    // Still logging in: cut it off. Once handed over, the connection is the worker's (a TLS one
    // still relays the session's last reply) and ending the worker ends it.
    connection_->shutdown();
  }
}

void SessionProcess::terminate() {
  std::lock_guard lock(mutex_);
  if (!killedFor_) killedFor_ = Status(CUDA_ERROR_DEVICE_UNAVAILABLE, "the server is shutting down");
  if (worker_ == 0 && connection_ && handshaking_) connection_->shutdown();
}

void SessionProcess::enforceKernelLimit() {
  std::optional<std::uint32_t> limit;
  std::optional<double> running;
  {
    std::lock_guard lock(mutex_);
    scheduler::Vgpu* vgpu = lease_ ? lease_->vgpu() : nullptr;
    if (worker_ == 0 || vgpu == nullptr || killedFor_) return;
    limit = vgpu->spec().maxKernelMs;
    if (*limit == 0) return;
    running = vgpu->gate().runningSeconds(host_.registry.board().layout().sessions[slot_].pieces);
  }
  if (!running || *running * 1000 <= *limit) return;
  serverLogger()->warn("session={} a kernel has run for {:.0f} ms, longer than its vGPU's max_kernel_ms ({}): "
                       "ending the session", id_, *running * 1000, *limit);
  kill(Status(CUDA_ERROR_LAUNCH_TIMEOUT,
              fmt::format("a kernel ran longer than the vGPU's max_kernel_ms ({} ms)", *limit)));
}

Status SessionProcess::exitReason(int status) {
  std::lock_guard lock(mutex_);
  if (killedFor_ && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) return *killedFor_;
  if (WIFSIGNALED(status)) {
    return Status(CUDA_ERROR_LAUNCH_FAILED, fmt::format("the session's worker died of signal {} ({}): a fault in the "
                                                        "driver or a kernel",
                                                        WTERMSIG(status), strsignal(WTERMSIG(status))));
  }
  if (WEXITSTATUS(status) != 0) {
    return Status(CUDA_ERROR_UNKNOWN, fmt::format("the session's worker failed (exit status {})", WEXITSTATUS(status)));
  }
  return Status::ok();  // ended in order: the client left
}

void SessionProcess::tellClient(int status) {
  Status why = exitReason(status);
  auto log = serverLogger();
  if (why.isOk()) {
    log->info("session={} worker ended", id_);
  } else if (why.code() == CUDA_ERROR_LAUNCH_FAILED || why.code() == CUDA_ERROR_UNKNOWN) {
    log->warn("session={} {}; its resources are freed, other sessions go on", id_, why.message());
  } else {
    log->info("session={} ended by the server: {}", id_, why.message());
  }
  int fd = -1;
  {
    std::lock_guard lock(mutex_);
    std::swap(fd, keptFd_);
  }
  if (fd < 0) return;
  auto connection = protocol::adoptStream(fd, info().peer);
  if (why.isOk()) return;  // closing it is all
  // A client that reads nothing must not hold this thread (and the session's cleanup) up.
  connection->setIdleTimeout(kLastReplyTimeout);
  // The session's last reply: a client waiting for one learns why; it reads nothing after it.
  capnp::MallocMessageBuilder builder;
  auto reply = builder.initRoot<wire::Reply>();
  reply.setResult(why.code());
  reply.setMessage(fmt::format("the server ended the session: {}", why.message()));
  reply.setSessionEnded(true);
  std::vector<std::uint8_t> bytes;
  protocol::appendMessage(builder, bytes);
  (void)connection->send(bytes);
}

void SessionProcess::cleanUp() {
  scheduler::SessionSlot& held = host_.registry.board().layout().sessions[slot_];
  recordUsage(held, true);
  held.vgpuPlace = -2;  // no longer one of its vGPU's live sessions
  if (scheduler::Vgpu* vgpu = lease_->vgpu()) {
    vgpu->gate().abandon(vgpu->tenant(), held.pieces);
    vgpu->quota().releaseAll(held.memory);
    vgpu->usage().endedGpuNanos.fetch_add(held.gpuTime.nanos.load());
  }
  // What the session shared can no longer be opened (its memory went with its worker).
  host_.registry.board().layout().ipc.withdrawSession(held.session.load());
  host_.registry.board().giveBackSession(slot_);
  std::unique_ptr<scheduler::VgpuLease> lease;
  {
    std::lock_guard lock(mutex_);
    lease = std::move(lease_);
    slot_ = -1;
  }
  serverLogger()->info("session={} resources freed", id_);
}

void SessionProcess::checkpoint() {
  int slot = -1;
  {
    std::lock_guard lock(mutex_);
    if (worker_ == 0 || slot_ < 0) return;
    slot = slot_;
  }
  // The slot stays this session's until cleanUp(), which records last under recordMutex_.
  recordUsage(host_.registry.board().layout().sessions[slot], false);
}

void SessionProcess::recordUsage(const scheduler::SessionSlot& slot, bool last) {
  if (host_.ledger == nullptr) return;
  std::lock_guard recording(recordMutex_);
  if (recorded_) return;
  recorded_ = last;
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
