// FastGPU benchmarks. Each measures FastGPU and its baseline in the same run and prints the ratio
// (these machines are noisy: only ratios measured together mean anything).
//
//   fastgpu_bench latency   --interposer LIB            sync round trip vs a raw TCP ping-pong
//   fastgpu_bench launches  --interposer LIB --cudasim LIB --fatbin F   remote vs native launches
//   fastgpu_bench bandwidth --interposer LIB            256 MiB copies vs raw TCP throughput
//   fastgpu_bench startup   --interposer LIB --cudasim LIB   a session's start vs native cuInit
//   fastgpu_bench modules   --interposer LIB --cudasim LIB --fatbin F   a 100+ MB fat binary's first launch
//   fastgpu_bench tls       --interposer LIB --tcp URL --tls URL   the same over TLS vs plain TCP
//   fastgpu_bench transport --interposer LIB --cudasim LIB --fatbin F [--label L] [--server-pid P]
//                           the transport in use against native cudasim (transport_bench.h)
//
// The interposer needs FASTGPU_SERVER (scripts/bench.sh starts a server on cudasim).
#include <dlfcn.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_support.h"
#include "bench/transport_bench.h"
#include "cudaabi/driver_symbols.h"
#include "cudaabi/fatbin_selection.h"
#include "cudaabi/kernel_image.h"

namespace {

using namespace fastgpu::bench;

// A loopback TCP pair of plain sockets (no framing): the baseline.
struct SocketPair {
  int client = -1;
  int server = -1;
  SocketPair() {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    socklen_t length = sizeof(address);
    getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
    listen(listener, 1);
    client = socket(AF_INET, SOCK_STREAM, 0);
    connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    server = accept(listener, nullptr, nullptr);
    close(listener);
    int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~SocketPair() {
    close(client);
    close(server);
  }
};

bool readAll(int fd, char* data, std::size_t bytes) {
  while (bytes > 0) {
    ssize_t got = recv(fd, data, bytes, 0);
    if (got <= 0) return false;
    data += got;
    bytes -= static_cast<std::size_t>(got);
  }
  return true;
}

bool writeAll(int fd, const char* data, std::size_t bytes) {
  while (bytes > 0) {
    ssize_t sent = send(fd, data, bytes, MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data += sent;
    bytes -= static_cast<std::size_t>(sent);
  }
  return true;
}

// ---- sync round trip ----
int latency(const std::string& interposer, int iterations) {
  const DriverTable d = loadDriver(interposer);
  useDevice(d);
  std::vector<double> remote = roundTrips(d, iterations);
  // The same sizes as a cuStreamQuery and its reply: about 64 and 64 bytes with framing.
  constexpr std::size_t kRequest = 64, kReply = 64;
  SocketPair pair;
  std::thread echo([&] {
    char buffer[kRequest];
    std::vector<char> reply(kReply, 1);
    while (readAll(pair.server, buffer, kRequest) && writeAll(pair.server, reply.data(), kReply)) {
    }
  });
  std::vector<double> raw;
  std::vector<char> request(kRequest, 2), reply(kReply);
  for (int i = 0; i < iterations + 100; ++i) {
    auto start = Clock::now();
    writeAll(pair.client, request.data(), kRequest);
    readAll(pair.client, reply.data(), kReply);
    if (i >= 100) raw.push_back(seconds(Clock::now() - start) * 1e6);
  }
  shutdown(pair.client, SHUT_RDWR);
  echo.join();
  double ratio = median(remote) / median(raw);
  std::printf("sync round trip: FastGPU median %.1f us (p99 %.1f), raw TCP median %.1f us (p99 %.1f); ratio %.2fx "
              "(target <= 1.5x)\n",
              median(remote), percentile(remote, 0.99), median(raw), percentile(raw, 0.99), ratio);
  return 0;
}

// ---- launch throughput ----
int launches(const std::string& interposer, const std::string& cudasim, const std::string& fatbin, int count) {
  std::ifstream file(fatbin, std::ios::binary);
  std::vector<char> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  double native = launchRate(loadDriver(cudasim), image, count);
  double remote = launchRate(loadDriver(interposer), image, count);
  std::printf("launch throughput (%d empty launches, one synchronize): FastGPU %.0f/s, native cudasim %.0f/s; "
              "ratio %.2fx (target >= 0.5x)\n",
              count, remote, native, remote / native);
  return 0;
}

// ---- bandwidth ----
int bandwidth(const std::string& interposer, std::size_t bytes) {
  const DriverTable d = loadDriver(interposer);
  useDevice(d);
  auto [toDevice, toHost] = measureCopies(d, bytes);
  std::vector<char> host(bytes, 3);
  SocketPair pair;
  std::vector<char> buffer(bytes, 0);  // touched before timing, like the copies' buffers
  std::thread sink([&] {
    readAll(pair.server, buffer.data(), bytes);
    writeAll(pair.server, "k", 1);
  });
  auto start = Clock::now();
  writeAll(pair.client, host.data(), bytes);
  char ack;
  readAll(pair.client, &ack, 1);
  double raw = static_cast<double>(bytes) / seconds(Clock::now() - start) / 1e9;
  sink.join();
  std::printf("256 MiB copies: host to device %.2f GB/s (%.2fx), device to host %.2f GB/s (%.2fx), raw TCP %.2f GB/s "
              "(target >= 0.7x)\n",
              toDevice, toDevice / raw, toHost, toHost / raw, raw);
  return 0;
}

// ---- session start ----
// Seconds for a fresh process to load `driver`, cuInit and make its first context current: for
// the interposer, a connection, a login and a session worker's start on the server.
double startOnce(const std::string& driver) {
  auto start = Clock::now();
  pid_t child = fork();
  if (child == 0) {
    const DriverTable d = loadDriver(driver);
    useDevice(d);
    std::_Exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "a start on %s failed\n", driver.c_str());
    std::exit(1);
  }
  return seconds(Clock::now() - start);
}

int startup(const std::string& interposer, const std::string& cudasim, int iterations) {
  std::vector<double> remote, native;
  for (int i = 0; i < iterations; ++i) {  // interleaved: both see the same machine
    remote.push_back(startOnce(interposer) * 1e3);
    native.push_back(startOnce(cudasim) * 1e3);
  }
  std::printf("session start (fork, load, cuInit, first context): FastGPU median %.1f ms (p90 %.1f), native cudasim "
              "median %.1f ms (p90 %.1f); FastGPU adds %.1f ms\n",
              median(remote), percentile(remote, 0.9), median(native), percentile(native, 0.9),
              median(remote) - median(native));
  return 0;
}

// ---- a large fat binary's first launch ----

// A fat binary of at least `megabytes` MB shaped like libtorch's: `fatbin`'s entries, and its
// SASS again for a dozen other architectures, each SASS entry (sm_90's too) padded to an equal
// share of the size.
std::vector<std::uint8_t> largeFatbin(const std::string& fatbin, std::size_t megabytes) {
  std::ifstream file(fatbin, std::ios::binary);
  std::vector<std::uint8_t> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  auto entries = fastgpu::cudaabi::parseFatbin(image);
  if (!entries) {
    std::fprintf(stderr, "%s: %s\n", fatbin.c_str(), entries.status().message().c_str());
    std::exit(1);
  }
  std::vector<fastgpu::cudaabi::FatbinEntry> all = *entries;
  const std::uint32_t others[] = {50, 52, 60, 61, 70, 75, 80, 86, 89, 100, 103, 120};
  std::size_t share = (megabytes << 20) / (std::size(others) + 1);
  auto sass = std::find_if(all.begin(), all.end(), [](const auto& e) { return e.kind == 2; });
  if (sass == all.end()) std::exit(1);
  sass->payload.resize(std::max(sass->payload.size(), share), 0);
  for (std::uint32_t sm : others) {
    fastgpu::cudaabi::FatbinEntry copy = *sass;
    copy.smVersion = sm;
    copy.payload.resize(std::max(copy.payload.size(), share), 0);
    all.push_back(std::move(copy));
  }
  return fastgpu::cudaabi::writeFatbin(all);
}

// Seconds from loading `driver` to a first launch of a kernel of `image` completed, in a child
// process (a process start, as a program's); nothing when the load fails.
std::optional<double> firstLaunch(const std::string& driver, const std::vector<std::uint8_t>& image) {
  auto start = Clock::now();
  pid_t child = fork();
  if (child == 0) {
    const DriverTable d = loadDriver(driver);
    useDevice(d);
    CUmodule module;
    if (d.cuModuleLoadData(&module, image.data()) != CUDA_SUCCESS) std::_Exit(3);
    CUfunction spin;
    check(d.cuModuleGetFunction(&spin, module, "fastgpu_spin"), "cuModuleGetFunction");
    unsigned long long micros = 0;
    void* params[] = {&micros};
    check(d.cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr), "launch");
    check(d.cuCtxSynchronize(), "cuCtxSynchronize");
    std::_Exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) return std::nullopt;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "a first launch on %s failed\n", driver.c_str());
    std::exit(1);
  }
  return seconds(Clock::now() - start);
}

// Removes the images the server keeps in `cacheDir` (one directory per vGPU): the next start is
// a first one.
void emptyModuleCache(const std::string& cacheDir) {
  std::error_code ignored;
  for (const auto& vgpu : std::filesystem::directory_iterator(cacheDir, ignored)) {
    for (const auto& image : std::filesystem::directory_iterator(vgpu.path(), ignored)) {
      std::filesystem::remove(image.path(), ignored);
    }
  }
}

int modules(const std::string& interposer, const std::string& cudasim, const std::string& fatbin, std::size_t megabytes,
            int rounds, const std::string& cacheDir) {
  auto image = largeFatbin(fatbin, megabytes);
  auto kept = fastgpu::cudaabi::fatbinForDevices(image, std::vector<std::uint32_t>{90});
  std::size_t sent = kept ? kept->size() : image.size();
  std::vector<double> selected, second, whole, native;
  auto measure = [](const std::string& driver, const std::vector<std::uint8_t>& bytes, std::vector<double>& into) {
    if (auto taken = firstLaunch(driver, bytes)) into.push_back(*taken * 1e3);
  };
  for (int i = 0; i < rounds; ++i) {  // interleaved: all see the same machine
    unsetenv("FASTGPU_SEND_WHOLE_IMAGES");
    if (!cacheDir.empty()) emptyModuleCache(cacheDir);
    measure(interposer, image, selected);
    if (!cacheDir.empty()) measure(interposer, image, second);  // the server now holds the image
    setenv("FASTGPU_SEND_WHOLE_IMAGES", "1", 1);
    measure(interposer, image, whole);
    measure(cudasim, image, native);
  }
  unsetenv("FASTGPU_SEND_WHOLE_IMAGES");
  if (selected.empty() || native.empty()) {
    std::fprintf(stderr, "the module did not load\n");
    return 1;
  }
  char wholeText[96] = "refused";
  if (!whole.empty()) std::snprintf(wholeText, sizeof(wholeText), "%.1f ms", median(whole));
  std::printf("a %.1f MB fat binary (13 architectures), process start to first launch done, median of %d: FastGPU "
              "sending what an sm_90 GPU uses (%.3f MB, %.5fx of the bytes) %.1f ms, native cudasim %.1f ms "
              "(%.2fx); sending it whole: %s\n",
              static_cast<double>(image.size()) / 1e6, rounds, static_cast<double>(sent) / 1e6,
              static_cast<double>(sent) / static_cast<double>(image.size()), median(selected), median(native),
              median(selected) / median(native), wholeText);
  if (!second.empty()) {
    std::printf("the second process start (the server's module cache holds the %.3f MB: its 32-byte digest is sent): "
                "%.1f ms, %.2fx of the first, %.2fx of native\n",
                static_cast<double>(sent) / 1e6, median(second), median(second) / median(selected),
                median(second) / median(native));
  }
  return 0;
}

// ---- TLS against plain TCP ----
struct SessionNumbers {
  double roundTripMicros = 0;  // median
  CopyRates copies;
};

// What one session measures against the server at `url`: in a child process, so that each loads
// the interposer afresh with its own FASTGPU_SERVER.
SessionNumbers measureSession(const std::string& interposer, const std::string& url, std::size_t bytes) {
  int results[2];
  if (pipe(results) != 0) std::exit(1);
  pid_t child = fork();
  if (child == 0) {
    setenv("FASTGPU_SERVER", url.c_str(), 1);
    const DriverTable d = loadDriver(interposer);
    useDevice(d);
    SessionNumbers numbers{median(roundTrips(d, 1000)), measureCopies(d, bytes)};
    std::_Exit(write(results[1], &numbers, sizeof(numbers)) == sizeof(numbers) ? 0 : 1);
  }
  close(results[1]);
  SessionNumbers numbers;
  // The child writes less than a pipe's buffer in one write: one read takes it whole.
  bool read = ::read(results[0], &numbers, sizeof(numbers)) == sizeof(numbers);
  close(results[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (!read || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "a session on %s failed\n", url.c_str());
    std::exit(1);
  }
  return numbers;
}

int tlsAgainstTcp(const std::string& interposer, const std::string& tcpUrl, const std::string& tlsUrl, int rounds) {
  SessionNumbers tcp, tls;
  tcp.roundTripMicros = tls.roundTripMicros = 1e9;
  auto keepBest = [](SessionNumbers& best, const SessionNumbers& now) {
    best.roundTripMicros = std::min(best.roundTripMicros, now.roundTripMicros);
    best.copies.toDevice = std::max(best.copies.toDevice, now.copies.toDevice);
    best.copies.toHost = std::max(best.copies.toHost, now.copies.toHost);
  };
  for (int i = 0; i < rounds; ++i) {  // interleaved: both see the same machine
    keepBest(tcp, measureSession(interposer, tcpUrl, 256ULL << 20));
    keepBest(tls, measureSession(interposer, tlsUrl, 256ULL << 20));
  }
  std::printf("TLS vs plain TCP, best of %d: 256 MiB host to device %.2f vs %.2f GB/s (%.2fx), device to host %.2f vs "
              "%.2f GB/s (%.2fx), sync round trip median %.1f vs %.1f us (%.2fx)\n",
              rounds, tls.copies.toDevice, tcp.copies.toDevice, tls.copies.toDevice / tcp.copies.toDevice,
              tls.copies.toHost, tcp.copies.toHost, tls.copies.toHost / tcp.copies.toHost, tls.roundTripMicros,
              tcp.roundTripMicros, tls.roundTripMicros / tcp.roundTripMicros);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"FastGPU benchmarks: each prints its ratio against a baseline measured in the same run"};
  app.require_subcommand(1);
  std::string interposer, cudasim, fatbin;
  int iterations = 2000, count = 100000;
  auto* lat = app.add_subcommand("latency", "sync call round trip vs raw TCP ping-pong");
  lat->add_option("--interposer", interposer)->required();
  lat->add_option("--iterations", iterations);
  auto* launch = app.add_subcommand("launches", "launch throughput, remote vs native cudasim");
  launch->add_option("--interposer", interposer)->required();
  launch->add_option("--cudasim", cudasim)->required();
  launch->add_option("--fatbin", fatbin)->required();
  launch->add_option("--count", count);
  auto* bw = app.add_subcommand("bandwidth", "256 MiB copies vs raw TCP throughput");
  bw->add_option("--interposer", interposer)->required();
  int starts = 20;
  auto* start = app.add_subcommand("startup", "a client process's session start vs native cudasim's cuInit");
  start->add_option("--interposer", interposer)->required();
  start->add_option("--cudasim", cudasim)->required();
  start->add_option("--iterations", starts);
  std::size_t megabytes = 120;
  int moduleRounds = 3;
  auto* mod = app.add_subcommand("modules", "a 100+ MB fat binary: process start to first launch, remote vs native");
  mod->add_option("--interposer", interposer)->required();
  mod->add_option("--cudasim", cudasim)->required();
  mod->add_option("--fatbin", fatbin, "a fat binary with fastgpu_spin (the test kernels')")->required();
  mod->add_option("--megabytes", megabytes);
  mod->add_option("--rounds", moduleRounds);
  std::string moduleCache;
  mod->add_option("--module-cache", moduleCache, "the server's module_cache_dir: also measure a second start");
  std::string tcpUrl, tlsUrl;
  int rounds = 3;
  auto* tls = app.add_subcommand("tls", "copies and round trips over tls:// vs tcp:// to the same server");
  tls->add_option("--interposer", interposer)->required();
  tls->add_option("--tcp", tcpUrl, "the server's tcp:// URL")->required();
  tls->add_option("--tls", tlsUrl, "its tls:// URL (the client finds the CA in FASTGPU_TLS_CA)")->required();
  tls->add_option("--rounds", rounds);
  fastgpu::bench::TransportBenchOptions transport;
  auto* tr = app.add_subcommand("transport", "the transport in use (FASTGPU_SERVER, FASTGPU_TRANSPORT) against native "
                                             "cudasim: round trip, launches, copies, asyncAPI, an idle session's CPU");
  tr->add_option("--interposer", transport.interposer)->required();
  tr->add_option("--cudasim", transport.cudasim)->required();
  tr->add_option("--fatbin", transport.fatbin, "a fat binary with fastgpu_spin (the test kernels')")->required();
  tr->add_option("--label", transport.label, "the name printed before each line")->default_val("remote");
  tr->add_option("--server-pid", transport.serverPid, "fastgpu-server's pid: also measure its CPU while idle");
  tr->add_option("--launches", transport.launches);
  CLI11_PARSE(app, argc, argv);
  if (tr->parsed()) return fastgpu::bench::transportAgainstNative(transport);
  if (tls->parsed()) return tlsAgainstTcp(interposer, tcpUrl, tlsUrl, rounds);
  if (start->parsed()) return startup(interposer, cudasim, starts);
  if (mod->parsed()) return modules(interposer, cudasim, fatbin, megabytes, moduleRounds, moduleCache);
  if (lat->parsed()) return latency(interposer, iterations);
  if (launch->parsed()) return launches(interposer, cudasim, fatbin, count);
  return bandwidth(interposer, 256ULL << 20);
}
