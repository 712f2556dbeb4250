// See transport_bench.h.
#include "bench/transport_bench.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

#include "bench/bench_support.h"

namespace fastgpu::bench {
namespace {

constexpr std::size_t kCopyBytes = 256ULL << 20;
constexpr std::size_t kAsyncBytes = 64ULL << 20;  // asyncAPI's 16 Mi ints
constexpr auto kIdle = std::chrono::seconds(2);

// ---- CPU time ----

// Seconds of CPU that process `pid` and its descendants used so far (from /proc).
double treeCpuSeconds(int pid) {
  std::map<int, int> parentOf;
  std::map<int, double> cpuOf;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  while (dirent* entry = readdir(proc)) {
    int id = std::atoi(entry->d_name);
    if (id <= 0) continue;
    std::ifstream file("/proc/" + std::string(entry->d_name) + "/stat");
    std::string line;
    if (!std::getline(file, line)) continue;
    // Fields after the command (which may hold spaces) start after the last ')'.
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string state;
    int parent = 0;
    fields >> state >> parent;
    std::string skip;
    for (int field = 5; field < 14; ++field) fields >> skip;
    double user = 0, system = 0;
    fields >> user >> system;
    parentOf[id] = parent;
    cpuOf[id] = (user + system) / tick;
  }
  closedir(proc);
  double total = 0;
  for (const auto& [id, cpu] : cpuOf) {
    for (int at = id; at > 1; at = parentOf.count(at) != 0 ? parentOf[at] : 0) {
      if (at == pid) {
        total += cpu;
        break;
      }
    }
  }
  return total;
}

double selfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto toSeconds = [](timeval t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return toSeconds(usage.ru_utime) + toSeconds(usage.ru_stime);
}

// The CPU a session that does nothing costs this process and the server, in % of one core.
void idleSession(const TransportBenchOptions& options, const DriverTable& remote) {
  CUstream stream;
  check(remote.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  check(remote.cuStreamQuery(stream), "cuStreamQuery");
  double client = selfCpuSeconds();
  double server = options.serverPid > 0 ? treeCpuSeconds(options.serverPid) : 0;
  auto start = Clock::now();
  std::this_thread::sleep_for(kIdle);
  double elapsed = seconds(Clock::now() - start);
  double clientShare = (selfCpuSeconds() - client) / elapsed * 100;
  check(remote.cuStreamDestroy_v2(stream), "cuStreamDestroy");
  if (options.serverPid > 0) {
    double serverShare = (treeCpuSeconds(options.serverPid) - server) / elapsed * 100;
    std::printf("[%s] an idle session for %.0f s: client %.2f%% of a core, server %.2f%%\n", options.label.c_str(),
                elapsed, clientShare, serverShare);
  } else {
    std::printf("[%s] an idle session for %.0f s: client %.2f%% of a core\n", options.label.c_str(), elapsed,
                clientShare);
  }
}

// ---- copies ----

// 256 MiB each way from pinned memory (the driver's own) and from pageable memory, synchronous
// copies, and asynchronous ones from pageable memory (each waited for at once).
struct CopyFigures {
  CopyRates pinned;
  CopyRates pageable;
  CopyRates pageableAsync;
};

CopyFigures copies(const DriverTable& d) {
  CopyFigures figures;
  void *host = nullptr, *back = nullptr;
  check(d.cuMemAllocHost_v2(&host, kCopyBytes), "cuMemAllocHost");
  check(d.cuMemAllocHost_v2(&back, kCopyBytes), "cuMemAllocHost");
  figures.pinned = measureCopies(d, kCopyBytes, static_cast<char*>(host), static_cast<char*>(back));
  check(d.cuMemFreeHost(host), "cuMemFreeHost");
  check(d.cuMemFreeHost(back), "cuMemFreeHost");
  figures.pageable = measureCopies(d, kCopyBytes);
  CUstream stream;
  check(d.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  figures.pageableAsync = measureCopies(d, kCopyBytes, stream);
  check(d.cuStreamDestroy_v2(stream), "cuStreamDestroy");
  return figures;
}

// ---- asyncAPI ----

// NVIDIA's asyncAPI sample, in driver calls: 64 MiB to the device, a kernel, 64 MiB back into
// pinned memory and an event, all on one stream; then the CPU polls the event.
struct AsyncFigures {
  double issueMillis = 0;  // in the four calls
  long polls = 0;          // cuEventQuery calls until the event completed
  double totalMillis = 0;
};

AsyncFigures asyncSequence(const DriverTable& d, CUfunction spin) {
  void* host = nullptr;
  check(d.cuMemAllocHost_v2(&host, kAsyncBytes), "cuMemAllocHost");
  std::memset(host, 0, kAsyncBytes);
  CUdeviceptr device;
  check(d.cuMemAlloc_v2(&device, kAsyncBytes), "cuMemAlloc");
  CUevent done;
  check(d.cuEventCreate(&done, 0), "cuEventCreate");
  check(d.cuCtxSynchronize(), "cuCtxSynchronize");
  unsigned long long micros = 0;
  void* params[] = {&micros};
  AsyncFigures figures;
  auto start = Clock::now();
  check(d.cuMemcpyHtoDAsync_v2(device, host, kAsyncBytes, nullptr), "cuMemcpyHtoDAsync");
  check(d.cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr), "cuLaunchKernel");
  check(d.cuMemcpyDtoHAsync_v2(host, device, kAsyncBytes, nullptr), "cuMemcpyDtoHAsync");
  check(d.cuEventRecord(done, nullptr), "cuEventRecord");
  figures.issueMillis = seconds(Clock::now() - start) * 1e3;
  CUresult state;
  while ((state = d.cuEventQuery(done)) == CUDA_ERROR_NOT_READY) ++figures.polls;
  check(state, "cuEventQuery");
  figures.totalMillis = seconds(Clock::now() - start) * 1e3;
  check(d.cuEventDestroy_v2(done), "cuEventDestroy");
  check(d.cuMemFree_v2(device), "cuMemFree");
  check(d.cuMemFreeHost(host), "cuMemFreeHost");
  return figures;
}

CUfunction spinKernel(const DriverTable& d, const std::vector<char>& image) {
  CUmodule module;
  check(d.cuModuleLoadData(&module, image.data()), "cuModuleLoadData");
  CUfunction spin;
  check(d.cuModuleGetFunction(&spin, module, "fastgpu_spin"), "cuModuleGetFunction");
  return spin;
}

// ---- one driver ----

struct Figures {
  double roundTripMicros = 0;
  double launchesPerSecond = 0;
  CopyFigures copies;
  AsyncFigures async;
};

Figures measure(const TransportBenchOptions& options, const DriverTable& d, const std::vector<char>& image) {
  useDevice(d);
  Figures figures;
  figures.roundTripMicros = median(roundTrips(d, options.roundTrips));
  figures.launchesPerSecond = launchRate(d, image, options.launches);
  figures.copies = copies(d);
  figures.async = asyncSequence(d, spinKernel(d, image));
  return figures;
}

void report(const std::string& label, const Figures& remote, const Figures& native) {
  const char* name = label.c_str();
  std::printf("[%s] sync round trip (cuStreamQuery), median: FastGPU %.1f us, native cudasim %.1f us; FastGPU adds "
              "%.1f us (goal over shm: <= 5 us)\n",
              name, remote.roundTripMicros, native.roundTripMicros, remote.roundTripMicros - native.roundTripMicros);
  std::printf("[%s] launch throughput: FastGPU %.0f/s, native %.0f/s; ratio %.2fx (goal over shm: >= 0.9x)\n", name,
              remote.launchesPerSecond, native.launchesPerSecond, remote.launchesPerSecond / native.launchesPerSecond);
  auto copyLine = [&](const char* kind, const CopyRates& r, const CopyRates& n, const char* goal) {
    std::printf("[%s] 256 MiB %s: to device %.2f GB/s vs %.2f native (%.2fx), to host %.2f vs %.2f (%.2fx) "
                "(goal over shm: >= %s)\n",
                name, kind, r.toDevice, n.toDevice, r.toDevice / n.toDevice, r.toHost, n.toHost, r.toHost / n.toHost,
                goal);
  };
  copyLine("pinned", remote.copies.pinned, native.copies.pinned, "0.7x");
  copyLine("pageable", remote.copies.pageable, native.copies.pageable, "0.5x");
  copyLine("pageable, async", remote.copies.pageableAsync, native.copies.pageableAsync, "0.5x");
  std::printf("[%s] asyncAPI (64 MiB in, a kernel, 64 MiB out, an event): CPU in the calls %.2f ms vs %.2f native, "
              "%ld polls vs %ld until done, %.1f ms vs %.1f in all\n",
              name, remote.async.issueMillis, native.async.issueMillis, remote.async.polls, native.async.polls,
              remote.async.totalMillis, native.async.totalMillis);
}

}  // namespace

int transportAgainstNative(const TransportBenchOptions& options) {
  std::ifstream file(options.fatbin, std::ios::binary);
  std::vector<char> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (image.empty()) {
    std::fprintf(stderr, "cannot read %s\n", options.fatbin.c_str());
    return 1;
  }
  // cudasim first: it needs its device address range free, and the interposer, which mirrors
  // the server's device addresses, leaves it alone once taken.
  const DriverTable native = loadDriver(options.cudasim);
  Figures nativeFigures = measure(options, native, image);
  const DriverTable remote = loadDriver(options.interposer);
  useDevice(remote);
  idleSession(options, remote);
  Figures remoteFigures = measure(options, remote, image);
  report(options.label, remoteFigures, nativeFigures);
  return 0;
}

}  // namespace fastgpu::bench
