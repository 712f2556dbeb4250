#include "tools/fastgpu/run_command.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tools/fastgpu/layout.h"

namespace fastgpu::tools {
namespace {

struct RunOptions {
  std::string server;
  std::string vgpu;
  std::string token;
  std::string tlsCa;
  std::string tlsCert;
  std::string tlsKey;
  std::string transport;
  std::vector<std::string> command;
};

[[noreturn]] void runRemote(const RunOptions& options) {
  Layout layout = currentLayout();
  auto interposer = layout.interposerLibraryDir() / "libcuda.so.1";
  if (!std::filesystem::exists(interposer)) {
    fmt::print(stderr, "fastgpu run: the interposer is not where it should be: {} (build FastGPU first)\n",
               interposer.string());
    std::exit(2);
  }
  // Both: LD_LIBRARY_PATH for programs that dlopen libcuda.so.1 (libcudart) or
  // libnvidia-ml.so.1 (PyTorch, NCCL), LD_PRELOAD for programs linked against them with a path
  // (an RPATH) that would bypass the search. FastGPU's NVML answers for the vGPU, not for the
  // client machine's own GPUs.
  setenv("LD_LIBRARY_PATH", prependToPathList(layout.interposerLibraryDir().string(), "LD_LIBRARY_PATH").c_str(), 1);
  std::string preload = interposer.string();
  if (auto nvml = layout.interposerLibraryDir() / "libnvidia-ml.so.1"; std::filesystem::exists(nvml)) {
    preload += ":" + nvml.string();
  }
  setenv("LD_PRELOAD", prependToPathList(preload, "LD_PRELOAD").c_str(), 1);
  // Triton links its launcher with -lcuda from this folder (FastGPU's libcuda.so is there), not
  // from a local driver's.
  setenv("TRITON_LIBCUDA_PATH", layout.interposerLibraryDir().string().c_str(), 1);
  if (!options.server.empty()) setenv("FASTGPU_SERVER", options.server.c_str(), 1);
  if (std::getenv("FASTGPU_SERVER") == nullptr) setenv("FASTGPU_SERVER", "tcp://127.0.0.1:7600", 1);
  if (!options.vgpu.empty()) setenv("FASTGPU_VGPU", options.vgpu.c_str(), 1);
  if (!options.token.empty()) setenv("FASTGPU_TOKEN", options.token.c_str(), 1);
  if (!options.tlsCa.empty()) setenv("FASTGPU_TLS_CA", options.tlsCa.c_str(), 1);
  if (!options.tlsCert.empty()) setenv("FASTGPU_TLS_CERT", options.tlsCert.c_str(), 1);
  if (!options.tlsKey.empty()) setenv("FASTGPU_TLS_KEY", options.tlsKey.c_str(), 1);
  if (!options.transport.empty()) setenv("FASTGPU_TRANSPORT", options.transport.c_str(), 1);
  execProgram(options.command, "fastgpu run");
}

}  // namespace

void addRunCommand(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* run = app.add_subcommand("run", "Run a program with its CUDA calls executed by a fastgpu-server.");
  run->footer(
      "Preloads FastGPU's libcuda.so.1 and libnvidia-ml.so.1 (NVML answering for the vGPU) and sets FASTGPU_SERVER, FASTGPU_VGPU, FASTGPU_TOKEN and, for tls://\n"
      "servers, FASTGPU_TLS_CA, FASTGPU_TLS_CERT and FASTGPU_TLS_KEY, then runs PROGRAM. TRITON_LIBCUDA_PATH\n"
      "names the folder of FastGPU's libcuda.so, so that Triton links its launchers against it.\n"
      "The server defaults to $FASTGPU_SERVER, else tcp://127.0.0.1:7600. FASTGPU_STATS=1 prints round trips at exit.\n"
      "A unix:// server on this host moves the session onto shared memory when it can; --transport (FASTGPU_TRANSPORT)\n"
      "forces one: tcp, unix (the socket only) or shm (shared memory or a failed cuInit).\n"
      "Example: fastgpu run --server tls://gpu1:7600 --tls-ca ca.pem -- python train.py");
  run->add_option("--server", options->server, "the server's URL, e.g. tcp://gpu1:7600, tls://gpu1:7600 or unix:///run/fastgpu/fastgpu.sock");
  run->add_option("--vgpu", options->vgpu, "the vGPU to run on");
  run->add_option("--token", options->token, "the vGPU's access token");
  run->add_option("--tls-ca", options->tlsCa, "tls://: the CA certificates (PEM) to trust (default: the system's)");
  run->add_option("--tls-cert", options->tlsCert, "tls://: a client certificate (PEM), for servers that require one");
  run->add_option("--tls-key", options->tlsKey, "tls://: the client certificate's key (PEM)");
  run->add_option("--transport", options->transport, "force a transport: tcp, unix, shm or rdma (sets FASTGPU_TRANSPORT; unset: shared memory when the server is on this host, RDMA for an rdma:// server)")
      ->check(CLI::IsMember({"tcp", "unix", "shm", "rdma"}));
  run->add_option("command", options->command, "PROGRAM [ARGS...] (after --)")->required();
  run->callback([options] { runRemote(*options); });
}

}  // namespace fastgpu::tools
