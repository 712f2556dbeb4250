// What `import torch` and Triton do before any CUDA work — load FastGPU's libcuda.so.1 and
// libnvidia-ml.so.1, ask for the driver's version, look functions up by cuGetProcAddress and
// dlsym, ask for private tables and error strings — must connect nowhere: a program that only
// probes costs the server nothing. The program listens itself at FASTGPU_SERVER and checks that
// nobody came; then cuInit must come, so the check can see a connection when there is one.
//   load_probe INTERPOSER NVML
#include <arpa/inet.h>
#include <cuda.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

int failures = 0;

void check(bool held, const char* what) {
  std::printf("%s: %s\n", held ? "ok" : "FAILED", what);
  if (!held) ++failures;
}

// Whether a connection is waiting on `listener` within `milliseconds`.
bool someoneCame(int listener, int milliseconds) {
  pollfd waiting{listener, POLLIN, 0};
  return poll(&waiting, 1, milliseconds) == 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: load_probe INTERPOSER NVML\n");
    return 2;
  }
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener, 4) != 0 || getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("load_probe: listen");
    return 2;
  }
  std::string url = "tcp://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  setenv("FASTGPU_SERVER", url.c_str(), 1);
  setenv("FASTGPU_TIMEOUT", "2", 1);

  void* driver = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
  void* nvml = dlopen(argv[2], RTLD_NOW);
  check(driver != nullptr && nvml != nullptr, "both libraries load");
  if (driver == nullptr || nvml == nullptr) return 1;
  auto getProcAddress = reinterpret_cast<decltype(&cuGetProcAddress_v2)>(dlsym(driver, "cuGetProcAddress_v2"));
  auto driverVersion = reinterpret_cast<decltype(&cuDriverGetVersion)>(dlsym(driver, "cuDriverGetVersion"));
  auto exportTable = reinterpret_cast<decltype(&cuGetExportTable)>(dlsym(driver, "cuGetExportTable"));
  auto errorString = reinterpret_cast<decltype(&cuGetErrorString)>(dlsym(driver, "cuGetErrorString"));
  auto deviceCount = reinterpret_cast<decltype(&cuDeviceGetCount)>(dlsym(driver, "cuDeviceGetCount"));
  auto init = reinterpret_cast<decltype(&cuInit)>(dlsym(driver, "cuInit"));
  check(getProcAddress && driverVersion && exportTable && errorString && deviceCount && init, "the probes are found");
  int version = 0;
  check(driverVersion(&version) == CUDA_SUCCESS && version >= 12000, "cuDriverGetVersion answers before cuInit");
  void* pfn = nullptr;
  CUdriverProcAddressQueryResult status;
  for (const char* name : {"cuInit", "cuLaunchKernel", "cuMemAlloc", "cuTensorMapEncodeTiled", "cuGraphicsMapResources"}) {
    getProcAddress(name, &pfn, 13000, 0, &status);
  }
  const void* table = nullptr;
  CUuuid cudart = {{0x6b, static_cast<char>(0xd5), static_cast<char>(0xfb), 0x6c, 0x5b, static_cast<char>(0xf4),
                    static_cast<char>(0xe7), 0x4a, static_cast<char>(0x89), static_cast<char>(0x87),
                    static_cast<char>(0xd9), 0x39, 0x12, static_cast<char>(0xfd), static_cast<char>(0x9d),
                    static_cast<char>(0xf9)}};
  check(exportTable(&table, &cudart) == CUDA_SUCCESS, "the runtime's table is there before cuInit");
  const char* text = nullptr;
  errorString(CUDA_ERROR_OUT_OF_MEMORY, &text);
  int count = 0;
  check(deviceCount(&count) == CUDA_ERROR_NOT_INITIALIZED, "cuDeviceGetCount before cuInit is NOT_INITIALIZED");
  check(dlsym(nvml, "nvmlInit_v2") != nullptr, "NVML's functions are found");
  check(!someoneCame(listener, 200), "loading and probing connected nowhere");
  // cuInit does connect (and fails: nobody answers here), so the check above could see one.
  bool initFailed = init(0) != CUDA_SUCCESS;
  check(someoneCame(listener, 0) && initFailed, "cuInit connects");
  std::printf(failures == 0 ? "load_probe: probing connected nowhere\n" : "load_probe: %d checks failed\n", failures);
  return failures == 0 ? 0 : 1;
}
