// fastgpu-server: runs CUDA calls of remote clients on the GPUs of this host.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <thread>

#include "server/logging.h"
#include "server/server.h"

namespace {

struct Options {
  std::vector<std::string> listen;
  std::string driver;
  std::string config;
  std::string logLevel = "info";
};

// Reads the keys this version understands from the TOML config; the command line wins.
bool applyConfig(Options& options) {
  if (options.config.empty()) return true;
  try {
    toml::table config = toml::parse_file(options.config);
    if (options.listen.empty()) {
      if (auto* urls = config["listen"].as_array()) {
        for (auto& url : *urls) {
          if (auto text = url.value<std::string>()) options.listen.push_back(*text);
        }
      }
    }
    if (options.driver.empty()) options.driver = config["driver"].value_or(std::string{});
  } catch (const toml::parse_error& error) {
    fmt::print(stderr, "fastgpu-server: {}:{}:{}: {}\n", options.config, error.source().begin.line,
               error.source().begin.column, error.description());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"fastgpu-server: runs the CUDA calls of FastGPU clients on this host's GPUs"};
  app.add_option("--listen", options.listen, "where to listen, e.g. tcp://0.0.0.0:7600 (repeatable)");
  app.add_option("--driver", options.driver,
                 "the libcuda.so.1 to load (default: the system's; cudasim's for tests and demos)");
  app.add_option("--config", options.config, "a TOML configuration file (keys: listen, driver)")
      ->check(CLI::ExistingFile);
  app.add_option("--log-level", options.logLevel, "trace, debug, info, warn, error or off");
  CLI11_PARSE(app, argc, argv);
  if (!applyConfig(options)) return 2;
  if (options.listen.empty()) options.listen.push_back("tcp://127.0.0.1:7600");
  if (options.driver.empty()) options.driver = "libcuda.so.1";
  auto log = fastgpu::server::serverLogger();
  log->set_level(spdlog::level::from_str(options.logLevel));

  // Signals are taken by one thread with sigwait, not by handlers.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto driver = fastgpu::server::LoadedDriver::load(options.driver);
  if (!driver) {
    log->error("{}", driver.status().message());
    return 1;
  }
  std::vector<std::unique_ptr<fastgpu::protocol::Listener>> listeners;
  for (const auto& url : options.listen) {
    auto listener = fastgpu::protocol::listen(url);
    if (!listener) {
      log->error("cannot listen on {}: {}", url, listener.status().message());
      return 1;
    }
    // Tests and scripts read this line to learn the port chosen for :0.
    fmt::print("fastgpu-server listening on {}\n", (*listener)->url());
    std::fflush(stdout);
    listeners.push_back(std::move(*listener));
  }
  fastgpu::server::Server server(std::move(*driver), std::move(listeners));
  std::thread signalThread([&] {
    int received = 0;
    sigwait(&stopSignals, &received);
    log->info("signal {} received, stopping", received);
    server.stop();
  });
  server.run();
  // run() returns only after stop(): the signal thread has finished or is about to.
  if (signalThread.joinable()) {
    pthread_kill(signalThread.native_handle(), SIGTERM);
    signalThread.join();
  }
  return 0;
}
