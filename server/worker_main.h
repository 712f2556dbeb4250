// A session worker's life (DESIGN.md, decision 3): fastgpu-server started by the main process with
// kWorkerFlag. It maps the shared board, loads the driver, greets the admitted client on the
// connection it was given and serves it; it ends when the session ends, or killed by the main
// process (eviction, a vGPU deleted, a kernel over its time limit, the shutdown grace period
// over, the main process gone), after which the driver frees what it held. It ignores SIGTERM:
// the main process decides when its session ends.
#pragma once

namespace fastgpu::server {

// The worker's main(); returns its exit status.
int runSessionWorker(int argc, char** argv);

}  // namespace fastgpu::server
