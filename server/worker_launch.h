// Starting a session's worker process (DESIGN.md, decision 3): the main process hands an admitted
// client's connection to a fresh process of its own program, which loads the driver and serves
// the session (worker_main.h). The worker gets exactly two descriptors — the connection and the
// shared board — and the session's place on the board in its arguments; nothing else of the main
// process (other clients' sockets, the admin API, the ledger) is open in it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cudaabi/result.h"
#include "scheduler/server_config.h"
#include "server/shared_memory_offer.h"

namespace fastgpu::server {

// How to start workers: which program (the server's own, "/proc/self/exe", unless a test embeds
// the server) and what every worker is told.
struct WorkerCommand {
  std::string program = "/proc/self/exe";
  std::string driverPath;
  std::string logLevel = "info";
};

// One session's worker: what it serves, and where its state lives on the board.
struct WorkerSpec {
  std::uint64_t session = 0;
  int slot = 0;                // its session slot on the board
  std::vector<int> devices;    // driver ordinals, in the client's order
  int vgpuPlace = -1;          // the vGPU's place on the board; -1: an open server (no quota, no gate)
  int gpu = 0;                 // the gate of the vGPU's GPU
  int tenant = 0;              // the vGPU's tenant in that gate
  std::string peer;            // for log lines
  scheduler::SessionLimits limits;  // what the session may hold
  // The vGPU's module cache directory (module_cache.h); empty: none.
  std::string moduleCacheDir;
  std::uint64_t moduleCacheBytes = 0;
  // The client asked for shared memory and is on this host: the worker moves the session onto it
  // after the Welcome, over the connection (a plain Unix socket) or a rendezvous (TCP, TLS).
  SharedMemoryOffer sharedMemory = SharedMemoryOffer::kNone;
  // The client asked for RDMA and the server serves it: the worker moves the session onto RDMA
  // after the Welcome (docs/rdma.md).
  bool rdma = false;
};

// The descriptors a worker finds its connection and the board at.
inline constexpr int kWorkerConnectionFd = 3;
inline constexpr int kWorkerBoardFd = 4;
// The first argument that makes fastgpu-server a worker.
inline constexpr const char* kWorkerFlag = "--session-worker";

// Starts a worker for `spec` with `connectionFd` and `boardFd` (both stay open here: the caller
// closes its copies). Fails (out of processes, memory or descriptors) with the reason; the
// caller refuses the client.
Result<pid_t> launchWorker(const WorkerCommand& command, const WorkerSpec& spec, int connectionFd, int boardFd);

// The arguments of a worker, read back in the worker. Fails on anything it did not write.
Result<WorkerSpec> parseWorkerArguments(int argc, char** argv, WorkerCommand& command);

}  // namespace fastgpu::server
