// A session worker's life (DESIGN.md, decision 3): fastgpu-server started by the main process with
// kWorkerFlag. It maps the shared board, loads the driver, greets the admitted client on the
// connection it was given and serves it; it ends when the session ends, on SIGTERM (the session's
// connection is shut down, its resources freed), or killed by the main process (eviction, a vGPU
// deleted, shutdown's grace over), after which the driver frees what it held.
#pragma once

namespace fastgpu::server {

// The worker's main(); returns its exit status.
int runSessionWorker(int argc, char** argv);

}  // namespace fastgpu::server
