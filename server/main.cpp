// fastgpu-server: runs CUDA calls of remote clients on the GPUs of this host, as vGPUs.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <optional>
#include <thread>

#include "scheduler/server_config.h"
#include "server/admin_api.h"
#include "server/logging.h"
#include "server/server.h"
#include "server/worker_main.h"

namespace {

struct Options {
  std::vector<std::string> listen;
  std::string driver;
  std::string config;
  std::string logLevel = "info";
  std::optional<double> shutdownGrace;
};

}  // namespace

int main(int argc, char** argv) {
  // The main process starts a copy of itself for each session (worker_launch.h).
  if (argc > 1 && std::string_view(argv[1]) == fastgpu::server::kWorkerFlag) {
    return fastgpu::server::runSessionWorker(argc, argv);
  }
  Options options;
  CLI::App app{"fastgpu-server: runs the CUDA calls of FastGPU clients on this host's GPUs, shared as vGPUs"};
  app.add_option("--listen", options.listen,
                 "where to listen, e.g. tcp://0.0.0.0:7600, tls://0.0.0.0:7600 (TLS: tls_cert and tls_key in "
                 "the configuration file), unix:///run/fastgpu/fastgpu.sock (clients on this host; mode 0660) "
                 "or rdma://0.0.0.0:7602 (TCP there to log in, then RDMA through libibverbs; docs/rdma.md) "
                 "(repeatable)");
  app.add_option("--driver", options.driver,
                 "the libcuda.so.1 to load (default: the system's; cudasim's for tests and demos)");
  app.add_option("--config", options.config,
                 "a TOML configuration file with the vGPUs (see deploy/fastgpu-server.toml); without one, every "
                 "client gets every GPU and no quota");
  app.add_option("--log-level", options.logLevel, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--shutdown-grace", options.shutdownGrace,
                 "seconds running sessions may go on after SIGTERM before they are ended (default 10; "
                 "[limits] shutdown_grace_seconds)")
      ->check(CLI::Range(0.0, 3600.0));
  app.footer("Command-line options override the file's listen, driver and shutdown grace.");
  CLI11_PARSE(app, argc, argv);

  using fastgpu::Status;
  fastgpu::scheduler::ServerConfig config;
  if (!options.config.empty()) {
    auto loaded = fastgpu::scheduler::loadServerConfig(options.config);
    if (!loaded) {
      fmt::print(stderr, "fastgpu-server: {}\n", loaded.status().message());
      return 2;
    }
    config = std::move(*loaded);
  }
  if (!options.listen.empty()) config.listen = options.listen;
  if (!options.driver.empty()) config.driver = options.driver;
  if (options.shutdownGrace) config.limits.shutdownGraceSeconds = *options.shutdownGrace;
  if (config.listen.empty()) config.listen.push_back("tcp://127.0.0.1:7600");
  if (config.driver.empty()) config.driver = "libcuda.so.1";
  auto log = fastgpu::server::serverLogger();
  log->set_level(spdlog::level::from_str(options.logLevel));

  // Signals are taken by one thread with sigwait, not by handlers.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // On cudasim, the server and its workers share simulated devices as processes share a GPU (one
  // kernel at a time, one capacity); the real driver ignores this.
  setenv("FASTGPU_SIM_SHARED", fmt::format("server-{}", getpid()).c_str(), 0);
  auto driver = fastgpu::server::LoadedDriver::load(config.driver);
  if (!driver) {
    log->error("{}", driver.status().message());
    return 1;
  }
  auto gpus = (*driver)->devices(config.gpus);
  if (!gpus) {
    log->error("{}", gpus.status().message());
    return 1;
  }
  // Live changes saved in the state directory win over the file's vGPUs.
  std::unique_ptr<fastgpu::server::StateStore> state;
  if (!config.stateDir.empty()) {
    std::error_code made;
    std::filesystem::create_directories(config.stateDir, made);
    state = std::make_unique<fastgpu::server::StateStore>(config.stateDir);
    auto saved = state->load();
    if (!saved) {
      log->error("{}", saved.status().message());
      return 1;
    }
    if (*saved) {
      log->info("vGPUs from {}", state->path());
      config.vgpus = std::move(**saved);
    }
  }
  auto registry = fastgpu::scheduler::VgpuRegistry::create(config.vgpus, *gpus, config.placement, config.overcommit);
  if (!registry) {
    log->error("{}", registry.status().message());
    return 1;
  }
  if ((*registry)->open()) log->warn("no vGPUs configured: every client gets every GPU, without quotas");
  for (const auto& vgpu : (*registry)->vgpus()) {
    log->info("vgpu={} gpu={} memory={}", vgpu->spec().name, vgpu->physicalGpu(), vgpu->spec().memoryBytes);
  }
  fastgpu::protocol::TlsServerSettings tls{config.tlsCertificateFile, config.tlsKeyFile, config.tlsClientCaFile};
  std::vector<std::unique_ptr<fastgpu::protocol::Listener>> listeners;
  for (const auto& url : config.listen) {
    // rdma://HOST:PORT: clients log in over TCP there, then their workers move them onto RDMA (a
    // queue pair belongs to the process that made it; docs/rdma.md).
    bool rdma = url.starts_with("rdma://");
    if (rdma) config.limits.servesRdma = true;
    auto listener = fastgpu::protocol::listen(rdma ? "tcp://" + url.substr(7) : url, {tls});
    if (!listener) {
      log->error("cannot listen on {}: {}", url, listener.status().message());
      return 1;
    }
    // Tests and scripts read this line to learn the port chosen for :0.
    std::string where = (*listener)->url();
    if (rdma && where.starts_with("tcp://")) where = "rdma://" + where.substr(6);
    fmt::print("fastgpu-server listening on {}\n", where);
    std::fflush(stdout);
    listeners.push_back(std::move(*listener));
  }
  std::unique_ptr<fastgpu::scheduler::UsageLedger> ledger;
  if (!config.stateDir.empty()) {
    auto opened = fastgpu::scheduler::UsageLedger::open(config.stateDir + "/usage.db");
    if (!opened) {
      log->error("{}", opened.status().message());
      return 1;
    }
    ledger = std::move(*opened);
  }
  fastgpu::server::Server server(std::move(*driver), std::move(*registry), std::move(listeners), std::move(ledger),
                                 config.limits);
  std::unique_ptr<fastgpu::server::AdminApi> admin;
  if (config.adminTokenHash) {
    std::string url = config.adminListen.empty() ? "http://127.0.0.1:7601" : config.adminListen;
    // The admin API authenticates by its token; it asks for no client certificate.
    std::optional<fastgpu::protocol::TlsServerSettings> adminTls;
    if (url.starts_with("https://")) adminTls = fastgpu::protocol::TlsServerSettings{tls.certificateFile, tls.keyFile, ""};
    admin = std::make_unique<fastgpu::server::AdminApi>(server, *config.adminTokenHash, state.get(), adminTls);
    if (Status status = admin->start(url); !status) {
      log->error("{}", status.message());
      return 1;
    }
    fmt::print("fastgpu-server admin API on {}\n", admin->url());
    std::fflush(stdout);
  } else if (!config.adminListen.empty()) {
    log->error("admin_listen is set but admin_token is not: the admin API needs a token");
    return 2;
  }
  std::thread signalThread([&] {
    int received = 0;
    sigwait(&stopSignals, &received);
    log->info("signal {} received, stopping", received);
    server.stop();
  });
  server.run();
  // run() returns only after stop(): the signal thread has finished.
  signalThread.join();
  if (admin) admin->stop();
  return 0;
}
