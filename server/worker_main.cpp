#include "server/worker_main.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>

#include "scheduler/shared_board.h"
#include "server/loaded_driver.h"
#include "server/device_output_relay.h"
#include "server/logging.h"
#include "server/session.h"
#include "server/worker_launch.h"

namespace fastgpu::server {
namespace {

// The vGPU's places on the board, checked against the board's bounds: the arguments come from
// the main process, but a worker still never indexes shared memory unchecked.
Result<std::unique_ptr<scheduler::VgpuAccess>> accessFor(const WorkerSpec& spec, scheduler::BoardLayout& board,
                                                         const LoadedDriver& driver,
                                                         std::unique_ptr<scheduler::ComputeGate>& gate) {
  if (spec.slot < 0 || spec.slot >= scheduler::BoardLayout::kMaxSessions ||
      board.sessions[spec.slot].session.load() != spec.session) {
    return Status(CUDA_ERROR_INVALID_VALUE, "the session's slot on the board is not its own");
  }
  scheduler::SessionSlot& slot = board.sessions[spec.slot];
  std::vector<scheduler::PhysicalGpu> devices;
  for (int ordinal : spec.devices) devices.push_back(scheduler::PhysicalGpu{ordinal, {}, 0});
  if (spec.vgpuPlace < 0) return std::make_unique<scheduler::VgpuAccess>(std::move(devices), slot);
  if (spec.vgpuPlace >= scheduler::BoardLayout::kMaxVgpus || spec.gpu < 0 || spec.gpu >= scheduler::BoardLayout::kMaxGpus) {
    return Status(CUDA_ERROR_INVALID_VALUE, "the vGPU's place on the board is out of range");
  }
  gate = std::make_unique<scheduler::ComputeGate>(driver.api(), board.gates[spec.gpu], &slot.pieces);
  return std::make_unique<scheduler::VgpuAccess>(std::move(devices), slot, &board.vgpu(spec.vgpuPlace), gate.get(),
                                                 spec.tenant);
}

int serve(const WorkerSpec& spec, const WorkerCommand& command, DeviceOutputRelay* relay) {
  auto log = serverLogger();
  auto board = scheduler::mapBoard(kWorkerBoardFd);
  if (!board) {
    log->error("session={} worker: {}", spec.session, board.status().message());
    return 1;
  }
  auto driver = LoadedDriver::load(command.driverPath);
  if (!driver) {
    log->error("session={} worker: {}", spec.session, driver.status().message());
    return 1;
  }
  std::unique_ptr<scheduler::ComputeGate> gate;
  auto access = accessFor(spec, *board->second, **driver, gate);
  if (!access) {
    log->error("session={} worker: {}", spec.session, access.status().message());
    return 1;
  }
  (*access)->shareThrough(&board->second->ipc, spec.vgpuPlace);
  (*access)->seeSessions(board->second->sessions);
  Session session(protocol::adoptStream(kWorkerConnectionFd, spec.peer), (*driver)->api(), std::move(*access),
                  spec.session, spec.limits);
  session.relayDeviceOutput(relay);
  session.offerSharedMemory(spec.sharedMemory);
  session.offerRdma(spec.rdma);
  if (!spec.moduleCacheDir.empty()) {
    auto cache = ModuleCache::open(spec.moduleCacheDir, spec.moduleCacheBytes);
    if (cache) session.useModuleCache(std::move(*cache));
    else log->warn("session={} no module cache: {}", spec.session, cache.status().message());
  }
  (void)session.run();
  // Everything of the session is freed; the driver and its threads go with the process.
  log->flush();
  std::_Exit(0);
}

}  // namespace

int runSessionWorker(int argc, char** argv) {
  // The main process decides when a session ends (it kills the worker): a SIGTERM sent to every
  // process of the service (systemd's stop) must not cut sessions short of the grace period the
  // main process gives them. And a worker does not outlive the main process.
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 1;  // the main process died before prctl
  WorkerCommand command;
  auto spec = parseWorkerArguments(argc, argv, command);
  if (!spec) {
    std::fprintf(stderr, "fastgpu-server: %s (a worker is started by the server only)\n", spec.status().message().c_str());
    return 2;
  }
  serverLogger()->set_level(spdlog::level::from_str(command.logLevel));
  // What the driver prints for the session's kernels goes to the client, the log stays here.
  auto relay = DeviceOutputRelay::start();
  if (relay) {
    logToDescriptor((*relay)->logFd());
  } else {
    serverLogger()->warn("session={} device printf stays in the server's output: {}", spec->session,
                         relay.status().message());
  }
  int status = serve(*spec, command, relay ? relay->get() : nullptr);
  serverLogger()->flush();
  return status;
}

}  // namespace fastgpu::server
