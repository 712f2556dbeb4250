// The interposer (FastGPU's libcuda.so.1) as a client process uses it: loaded with dlopen in
// this test process and connected to a fastgpu-server on cudasim in a child process. Each path
// below is one that no example program reaches.
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "cudaabi/driver_symbols.h"
#include "cudaabi/proc_address.h"
#include "fastgpu/sim_tensor_map.h"
#include "tests/support/raw_client.h"
#include "tests/support/server_process.h"

namespace fastgpu::interposer {
namespace {

using testing::kMiB;
using testing::RawClient;
using testing::ServerProcess;

#define ASSERT_CU(call) ASSERT_EQ((call), CUDA_SUCCESS) << #call
#define EXPECT_CU(call) EXPECT_EQ((call), CUDA_SUCCESS) << #call

// One server and one interposer per test process (ctest runs each test in its own process; a
// run of the whole binary shares them, as a client process shares its connection).
class InterposerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    server = std::make_unique<ServerProcess>(FASTGPU_SERVER_BINARY, FASTGPU_CUDASIM_LIBRARY,
                                             std::map<std::string, std::string>{{"FASTGPU_SIM_DEVICES", "2"},
                                                                                {"FASTGPU_SIM_MEMORY", "1GiB"},
                                                                                {"FASTGPU_SIM_KERNELS", FASTGPU_TEST_TWINS}});
    ASSERT_FALSE(server->url().empty()) << "fastgpu-server did not start";
    setenv("FASTGPU_SERVER", server->url().c_str(), 1);
    handle = dlopen(FASTGPU_INTERPOSER_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << dlerror();
    auto table = cudaabi::loadDriverTable(handle, "the interposer");
    ASSERT_TRUE(table) << table.status().message();
    cu = *table;
    ASSERT_EQ(cu.cuInit(0), CUDA_SUCCESS);
  }
  // The interposer stays loaded: its runtime lives until the process ends, as in a client.

  static inline std::unique_ptr<ServerProcess> server;
  static inline void* handle = nullptr;
  static inline cudaabi::DriverTable cu;
};

class Interposer : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(cu.cuInit, nullptr);
    ASSERT_CU(cu.cuDevicePrimaryCtxRetain(&context, 0));
    ASSERT_CU(cu.cuCtxSetCurrent(context));
  }

  CUmodule loadTestModule() {
    std::ifstream file(std::string(FASTGPU_TEST_DATA_DIR) + "/test_kernels.fatbin", std::ios::binary);
    std::vector<char> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    CUmodule module = nullptr;
    EXPECT_CU(cu.cuModuleLoadData(&module, image.data()));
    return module;
  }
  // A kernel of the test module, freshly loaded.
  CUfunction testFunction(const char* name) {
    CUfunction function = nullptr;
    EXPECT_CU(cu.cuModuleGetFunction(&function, loadTestModule(), name));
    return function;
  }
  std::vector<std::uint8_t> readDevice(CUdeviceptr address, std::size_t bytes) {
    std::vector<std::uint8_t> back(bytes);
    EXPECT_CU(cu.cuMemcpyDtoH_v2(back.data(), address, bytes));
    return back;
  }

  const cudaabi::DriverTable& cu = InterposerEnvironment::cu;
  CUcontext context = nullptr;
};

std::vector<std::uint8_t> pattern(std::size_t bytes, std::uint8_t seed) {
  std::vector<std::uint8_t> data(bytes);
  for (std::size_t i = 0; i < bytes; ++i) data[i] = static_cast<std::uint8_t>(seed + i * 13);
  return data;
}

TEST_F(Interposer, PeerCopiesMoveDataBetweenDevices) {
  int devices = 0;
  ASSERT_CU(cu.cuDeviceGetCount(&devices));
  ASSERT_EQ(devices, 2);
  CUcontext second = nullptr;
  ASSERT_CU(cu.cuDevicePrimaryCtxRetain(&second, 1));
  CUdeviceptr onFirst = 0, onSecond = 0;
  ASSERT_CU(cu.cuMemAlloc_v2(&onFirst, kMiB));
  ASSERT_CU(cu.cuCtxSetCurrent(second));
  ASSERT_CU(cu.cuMemAlloc_v2(&onSecond, kMiB));
  ASSERT_CU(cu.cuCtxSetCurrent(context));
  auto data = pattern(kMiB, 3);
  ASSERT_CU(cu.cuMemcpyHtoD_v2(onFirst, data.data(), data.size()));
  ASSERT_CU(cu.cuMemcpyPeer(onSecond, second, onFirst, context, kMiB));
  EXPECT_EQ(readDevice(onSecond, kMiB), data);
  // And back, asynchronously on a stream.
  CUstream stream = nullptr;
  ASSERT_CU(cu.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(cu.cuMemsetD8_v2(onFirst, 0, kMiB));
  ASSERT_CU(cu.cuMemcpyPeerAsync(onFirst, context, onSecond, second, kMiB, stream));
  ASSERT_CU(cu.cuStreamSynchronize(stream));
  EXPECT_EQ(readDevice(onFirst, kMiB), data);
  // A peer copy that runs past its source is refused.
  EXPECT_EQ(cu.cuMemcpyPeer(onSecond, second, onFirst + 1, context, kMiB), CUDA_ERROR_INVALID_VALUE);
  int canAccess = -1;
  EXPECT_EQ(cu.cuDeviceCanAccessPeer(&canAccess, 0, 2), CUDA_ERROR_INVALID_DEVICE);
}

TEST_F(Interposer, ACooperativeLaunchRunsItsKernel) {
  CUmodule module = loadTestModule();
  CUfunction appendValue = nullptr;
  ASSERT_CU(cu.cuModuleGetFunction(&appendValue, module, "appendValue"));
  CUdeviceptr log = 0, length = 0;
  ASSERT_CU(cu.cuMemAlloc_v2(&log, 64));
  ASSERT_CU(cu.cuMemAlloc_v2(&length, sizeof(int)));
  ASSERT_CU(cu.cuMemsetD32_v2(length, 0, 1));
  int value = 1234;
  void* params[] = {&log, &length, &value};
  ASSERT_CU(cu.cuLaunchCooperativeKernel(appendValue, 1, 1, 1, 1, 1, 1, 0, nullptr, params));
  ASSERT_CU(cu.cuCtxSynchronize());
  auto back = readDevice(log, sizeof(int));
  int first = 0;
  std::memcpy(&first, back.data(), sizeof(first));
  EXPECT_EQ(first, 1234);
  // A block larger than the device allows fails at the call, not later.
  EXPECT_EQ(cu.cuLaunchCooperativeKernel(appendValue, 1, 1, 1, 4096, 1, 1, 0, nullptr, params), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(cu.cuCtxSynchronize());
}

TEST_F(Interposer, OccupancyQueriesAnswerWithinTheDevicesLimits) {
  CUfunction appendValue = testFunction("appendValue");
  ASSERT_NE(appendValue, nullptr);
  int threadsPerSm = 0, blocks = 0;
  ASSERT_CU(cu.cuDeviceGetAttribute(&threadsPerSm, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, 0));
  ASSERT_CU(cu.cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, appendValue, 256, 0));
  EXPECT_GE(blocks, 1);
  EXPECT_LE(blocks * 256, threadsPerSm);
  int minGrid = 0, blockSize = 0;
  ASSERT_CU(cu.cuOccupancyMaxPotentialBlockSize(&minGrid, &blockSize, appendValue, nullptr, 0, 0));
  EXPECT_GT(blockSize, 0);
  EXPECT_LE(blockSize, 1024);
  EXPECT_GT(minGrid, 0);
  // A forged function and a missing output.
  EXPECT_EQ(cu.cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, reinterpret_cast<CUfunction>(0x999), 256, 0),
            CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(cu.cuOccupancyMaxActiveBlocksPerMultiprocessor(nullptr, appendValue, 256, 0), CUDA_ERROR_INVALID_VALUE);
}

// cuBLAS and cuDNN ask it while creating their handles (seen on an H200: cublasCreate failed
// when it was missing).
TEST_F(Interposer, AvailableDynamicSharedMemoryComesFromTheServersDriver) {
  CUfunction appendValue = testFunction("appendValue");
  ASSERT_NE(appendValue, nullptr);
  int perBlockOptIn = 0, perSm = 0;
  ASSERT_CU(cu.cuDeviceGetAttribute(&perBlockOptIn, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 0));
  ASSERT_CU(cu.cuDeviceGetAttribute(&perSm, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, 0));
  std::size_t one = 0, four = 0, impossible = 1;
  ASSERT_CU(cu.cuOccupancyAvailableDynamicSMemPerBlock(&one, appendValue, 1, 128));
  ASSERT_CU(cu.cuOccupancyAvailableDynamicSMemPerBlock(&four, appendValue, 4, 128));
  EXPECT_GT(one, 0u);
  EXPECT_LE(one, static_cast<std::size_t>(perBlockOptIn));
  EXPECT_LT(four, one);
  EXPECT_LE(4 * four, static_cast<std::size_t>(perSm));
  // More blocks than an SM holds leave nothing, never a wrapped-around size.
  ASSERT_CU(cu.cuOccupancyAvailableDynamicSMemPerBlock(&impossible, appendValue, 1000, 32));
  EXPECT_EQ(impossible, 0u);
  EXPECT_EQ(cu.cuOccupancyAvailableDynamicSMemPerBlock(&one, reinterpret_cast<CUfunction>(0x999), 1, 128),
            CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(cu.cuOccupancyAvailableDynamicSMemPerBlock(nullptr, appendValue, 1, 128), CUDA_ERROR_INVALID_VALUE);
}

// cuBLAS asks these for its Hopper kernels while it creates a handle (seen on an H200).
TEST_F(Interposer, ClusterOccupancyComesFromTheServersDriverWithTheAttributesTranslated) {
  CUfunction appendValue = testFunction("appendValue");
  ASSERT_NE(appendValue, nullptr);
  CUlaunchAttribute cluster{};
  cluster.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  cluster.value.clusterDim.x = 2;
  cluster.value.clusterDim.y = 1;
  cluster.value.clusterDim.z = 1;
  CUlaunchConfig config{};
  config.gridDimX = 8;
  config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = 128;
  config.blockDimY = config.blockDimZ = 1;
  config.attrs = &cluster;
  config.numAttrs = 1;
  int pairs = 0, quads = 0, size = 0;
  ASSERT_CU(cu.cuOccupancyMaxActiveClusters(&pairs, appendValue, &config));
  cluster.value.clusterDim.x = 4;
  ASSERT_CU(cu.cuOccupancyMaxActiveClusters(&quads, appendValue, &config));
  EXPECT_GE(quads, 1);
  EXPECT_GT(pairs, quads);
  ASSERT_CU(cu.cuOccupancyMaxPotentialClusterSize(&size, appendValue, &config));
  EXPECT_GE(size, 1);
  // cuBLAS probes sizes up to 32: one larger than the hardware's holds no clusters. The driver's
  // refusal comes back as it is; bad arguments are refused before any round trip.
  cluster.value.clusterDim.x = 32;
  ASSERT_CU(cu.cuOccupancyMaxActiveClusters(&pairs, appendValue, &config));
  EXPECT_EQ(pairs, 0);
  cluster.value.clusterDim.x = 0;
  EXPECT_EQ(cu.cuOccupancyMaxActiveClusters(&pairs, appendValue, &config), CUDA_ERROR_INVALID_CLUSTER_SIZE);
  EXPECT_EQ(cu.cuOccupancyMaxActiveClusters(&pairs, appendValue, nullptr), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cu.cuOccupancyMaxActiveClusters(nullptr, appendValue, &config), CUDA_ERROR_INVALID_VALUE);
  config.attrs = nullptr;
  EXPECT_EQ(cu.cuOccupancyMaxPotentialClusterSize(&size, appendValue, &config), CUDA_ERROR_INVALID_VALUE);
  config.numAttrs = 0;
  EXPECT_EQ(cu.cuOccupancyMaxActiveClusters(&pairs, reinterpret_cast<CUfunction>(0x999), &config),
            CUDA_ERROR_INVALID_HANDLE);
}

TEST_F(Interposer, RegisteredHostMemoryIsKnownAndCopiesThroughIt) {
  const std::size_t bytes = 4 * kMiB;
  auto* host = static_cast<std::uint8_t*>(std::aligned_alloc(4096, bytes));
  ASSERT_NE(host, nullptr);
  auto data = pattern(bytes, 9);
  std::memcpy(host, data.data(), bytes);
  ASSERT_CU(cu.cuMemHostRegister_v2(host, bytes, 0));
  // Registering it, part of it, or a range around it again is refused.
  EXPECT_EQ(cu.cuMemHostRegister_v2(host, bytes, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
  EXPECT_EQ(cu.cuMemHostRegister_v2(host + kMiB, kMiB, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
  CUmemorytype type{};
  ASSERT_CU(cu.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, reinterpret_cast<CUdeviceptr>(host + 100)));
  EXPECT_EQ(type, CU_MEMORYTYPE_HOST);
  // An asynchronous copy from it and back into a second registered buffer.
  CUdeviceptr device = 0;
  ASSERT_CU(cu.cuMemAlloc_v2(&device, bytes));
  CUstream stream = nullptr;
  ASSERT_CU(cu.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(cu.cuMemcpyHtoDAsync_v2(device, host, bytes, stream));
  std::vector<std::uint8_t> back(bytes);
  ASSERT_CU(cu.cuMemHostRegister_v2(back.data(), bytes, 0));
  ASSERT_CU(cu.cuMemcpyDtoHAsync_v2(back.data(), device, bytes, stream));
  ASSERT_CU(cu.cuStreamSynchronize(stream));
  EXPECT_EQ(back, data);
  ASSERT_CU(cu.cuMemHostUnregister(back.data()));
  ASSERT_CU(cu.cuMemHostUnregister(host));
  EXPECT_EQ(cu.cuMemHostUnregister(host), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
  // A range that contains what was registered before is refused while that one stands.
  ASSERT_CU(cu.cuMemHostRegister_v2(host + kMiB, kMiB, 0));
  EXPECT_EQ(cu.cuMemHostRegister_v2(host, bytes, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
  ASSERT_CU(cu.cuMemHostUnregister(host + kMiB));
  std::free(host);
}

// The permissions /proc/self/maps gives the mapping that contains [from, to), or "".
std::string mappingOf(std::uint64_t from, std::uint64_t to) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, permissions;
    fields >> range >> permissions;
    std::uint64_t start = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    std::uint64_t end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    if (start <= from && to <= end) return permissions;
  }
  return "";
}

TEST_F(Interposer, DeviceRangesAreReservedSoNoHostPointerAliasesThem) {
  CUdeviceptr device = 0;
  const std::size_t bytes = 3 * kMiB;
  ASSERT_CU(cu.cuMemAlloc_v2(&device, bytes));
  EXPECT_EQ(mappingOf(device, device + bytes), "---p") << "the device range is not reserved in the client";
  void* taken = mmap(reinterpret_cast<void*>(device + kMiB), 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  EXPECT_EQ(taken, MAP_FAILED) << "a host mapping landed inside a device allocation";
  // Lookups by table: a pointer inside the allocation is device memory of that allocation.
  CUmemorytype type{};
  ASSERT_CU(cu.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, device + kMiB));
  EXPECT_EQ(type, CU_MEMORYTYPE_DEVICE);
  CUdeviceptr base = 0;
  std::size_t size = 0;
  ASSERT_CU(cu.cuMemGetAddressRange_v2(&base, &size, device + bytes - 1));
  EXPECT_EQ(base, device);
  EXPECT_EQ(size, bytes);
  // Freed, the range is no allocation any more, and stays reserved (the server may reuse it).
  ASSERT_CU(cu.cuMemFree_v2(device));
  EXPECT_EQ(cu.cuMemGetAddressRange_v2(&base, &size, device), CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(mappingOf(device, device + bytes), "---p");
}

// The client computes 2-D shapes in checked arithmetic too: a wrapping one is the caller's error.
TEST_F(Interposer, TwoDimensionalShapesThatWrapAreRefusedInTheClient) {
  CUdeviceptr device = 0;
  std::size_t pitch = 0;
  EXPECT_EQ(cu.cuMemAllocPitch_v2(&device, &pitch, ~std::size_t{0} - 8, 2, 4), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cu.cuMemAllocPitch_v2(&device, &pitch, std::size_t{1} << 40, std::size_t{1} << 40, 4),
            CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(cu.cuMemAlloc_v2(&device, 16384));
  std::vector<std::uint8_t> host(16384, 7);
  CUDA_MEMCPY2D copy{};
  copy.srcMemoryType = CU_MEMORYTYPE_HOST;
  copy.srcHost = host.data();
  copy.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.dstDevice = device;
  copy.WidthInBytes = std::size_t{1} << 32;
  copy.Height = std::size_t{1} << 32;  // width × height wraps to 0
  EXPECT_EQ(cu.cuMemcpy2D_v2(&copy), CUDA_ERROR_INVALID_VALUE);
  copy.WidthInBytes = 16;
  copy.Height = 2;
  copy.dstPitch = ~std::size_t{4095};
  EXPECT_EQ(cu.cuMemcpy2D_v2(&copy), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(cu.cuMemFree_v2(device));
}

TEST_F(Interposer, PostedCallsReachTheServerWithoutASynchronizingCall) {
  // A second session watches the device's free memory while the interposer frees 64 MiB with a
  // posted call and then makes no call at all: only the batch timer can send it.
  RawClient observer(InterposerEnvironment::server->url());
  observer.retainPrimary();
  CUdeviceptr device = 0;
  std::uint64_t before = observer.freeMemory();
  ASSERT_CU(cu.cuMemAlloc_v2(&device, 64 * kMiB));
  ASSERT_LE(observer.freeMemory(), before - 64 * kMiB);
  ASSERT_CU(cu.cuMemFree_v2(device));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (observer.freeMemory() != before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling the server's state
  }
  EXPECT_EQ(observer.freeMemory(), before) << "the posted free did not reach the server within 5 s";
}

TEST_F(Interposer, CaptureQueriesCostNoRoundTrip) {
  // Asked before every allocation and on launch paths: answered in the client. With the server
  // frozen, a round trip would wait for FASTGPU_TIMEOUT.
  CUstream stream = nullptr;
  ASSERT_CU(cu.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  ASSERT_EQ(kill(InterposerEnvironment::server->pid(), SIGSTOP), 0);
  auto started = std::chrono::steady_clock::now();
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_ACTIVE;
  CUresult result = CUDA_SUCCESS;
  for (int i = 0; i < 1000 && result == CUDA_SUCCESS; ++i) {
    result = cu.cuStreamIsCapturing(i % 2 == 0 ? stream : CU_STREAM_LEGACY, &status);
    if (result == CUDA_SUCCESS) result = cu.cuStreamGetCaptureInfo_v3(stream, &status, nullptr, nullptr, nullptr, nullptr, nullptr);
  }
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(kill(InterposerEnvironment::server->pid(), SIGCONT), 0);
  EXPECT_CU(result);
  EXPECT_EQ(status, CU_STREAM_CAPTURE_STATUS_NONE);
  EXPECT_LT(took, std::chrono::seconds(1));
  EXPECT_CU(cu.cuStreamDestroy_v2(stream));
}

// Tensor maps come from the server's driver (here cudasim, whose layout the test reads), and a
// repeated request is answered from the client's cache: with the server frozen it still answers.
TEST_F(Interposer, TensorMapsAreEncodedByTheServerAndRepeatsCostNoRoundTrip) {
  CUdeviceptr matrix = 0;
  ASSERT_CU(cu.cuMemAlloc_v2(&matrix, 256 * 128 * 4));
  cuuint64_t dims[2] = {256, 128}, strides[1] = {1024};
  cuuint32_t box[2] = {32, 64}, elementStrides[2] = {1, 1};
  auto encode = [&](CUtensorMap* map, CUdeviceptr address) {
    return cu.cuTensorMapEncodeTiled(map, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 2, reinterpret_cast<void*>(address), dims,
                                     strides, box, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                     CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_NONE,
                                     CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  };
  CUtensorMap first, again, moved;
  ASSERT_CU(encode(&first, matrix));
  fastgpu_sim_tensor_map layout;
  std::memcpy(&layout, &first, sizeof(layout));
  EXPECT_EQ(layout.magic, FASTGPU_SIM_TENSOR_MAP_MAGIC) << "encoded by the server's driver";
  EXPECT_EQ(layout.global_address, matrix);
  EXPECT_EQ(layout.box_dim[1], 64);
  ASSERT_CU(cu.cuTensorMapReplaceAddress(&(moved = first), reinterpret_cast<void*>(matrix + 4096)));
  std::memcpy(&layout, &moved, sizeof(layout));
  EXPECT_EQ(layout.global_address, matrix + 4096);

  ASSERT_EQ(kill(InterposerEnvironment::server->pid(), SIGSTOP), 0);
  auto started = std::chrono::steady_clock::now();
  CUresult repeated = encode(&again, matrix);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(kill(InterposerEnvironment::server->pid(), SIGCONT), 0);
  EXPECT_CU(repeated);
  EXPECT_EQ(std::memcmp(&first, &again, sizeof(first)), 0);
  EXPECT_LT(took, std::chrono::seconds(1));

  // The driver's refusals come back; what cannot be read is refused in the client.
  EXPECT_EQ(encode(&again, matrix + 8), CUDA_ERROR_INVALID_VALUE) << "a misaligned address";
  EXPECT_EQ(cu.cuTensorMapEncodeTiled(&again, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 9, reinterpret_cast<void*>(matrix),
                                      dims, strides, box, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                                      CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_NONE,
                                      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
            CUDA_ERROR_INVALID_VALUE)
      << "rank 9";
  CUtensorMap garbage;
  std::memset(&garbage, 0x5a, sizeof(garbage));
  EXPECT_EQ(cu.cuTensorMapReplaceAddress(&garbage, reinterpret_cast<void*>(matrix)), CUDA_ERROR_INVALID_VALUE);
  EXPECT_CU(cu.cuMemFree_v2(matrix));
}

// PyTorch's expandable segments through FastGPU: the reserved range is reserved here too, a
// mapping is device memory to pointer queries and unified copies, and the queries answer from
// the client's mirror.
TEST_F(Interposer, VirtualMemoryIsMappedOnTheServerAndMirroredHere) {
  constexpr std::size_t kChunk = 2ULL << 20;
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  size_t granularity = 0;
  ASSERT_CU(cu.cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  ASSERT_EQ(granularity, kChunk);
  CUdeviceptr segment = 0;
  ASSERT_CU(cu.cuMemAddressReserve(&segment, 16 * kChunk, 0, 0, 0));
  errno = 0;
  void* alias = mmap(reinterpret_cast<void*>(segment), 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                     -1, 0);
  EXPECT_EQ(alias, MAP_FAILED) << "the reserved range is taken in this process";
  CUmemGenericAllocationHandle chunks[2] = {};
  for (int i = 0; i < 2; ++i) {
    ASSERT_CU(cu.cuMemCreate(&chunks[i], kChunk, &prop, 0));
    ASSERT_CU(cu.cuMemMap(segment + i * kChunk, kChunk, 0, chunks[i], 0));
  }
  CUmemAccessDesc access{};
  access.location = prop.location;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  ASSERT_CU(cu.cuMemSetAccess(segment, 2 * kChunk, &access, 1));
  std::vector<std::uint32_t> data(1024, 0xfeedf00d), back(1024);
  const CUdeviceptr across = segment + kChunk - 2048;
  ASSERT_CU(cu.cuMemcpy(across, reinterpret_cast<CUdeviceptr>(data.data()), 4096)) << "a unified copy";
  ASSERT_CU(cu.cuMemcpyDtoH_v2(back.data(), across, 4096));
  EXPECT_EQ(back, data);
  unsigned int memoryType = 0;
  ASSERT_CU(cu.cuPointerGetAttribute(&memoryType, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, segment + kChunk));
  EXPECT_EQ(memoryType, CU_MEMORYTYPE_DEVICE);
  unsigned long long flags = 0;
  ASSERT_CU(cu.cuMemGetAccess(&flags, &prop.location, segment + 5));
  EXPECT_EQ(flags, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
  CUmemGenericAllocationHandle retained = 0;
  ASSERT_CU(cu.cuMemRetainAllocationHandle(&retained, reinterpret_cast<void*>(segment + kChunk + 8)));
  EXPECT_EQ(retained, chunks[1]);
  ASSERT_CU(cu.cuMemRelease(retained));  // the retained reference; the creating one remains
  CUmemAllocationProp properties{};
  ASSERT_CU(cu.cuMemGetAllocationPropertiesFromHandle(&properties, chunks[1]));
  EXPECT_EQ(properties.location.id, 0);
  // Shrink and tear down; unmapped memory is no longer device memory.
  ASSERT_CU(cu.cuMemUnmap(segment, 2 * kChunk));
  EXPECT_EQ(cu.cuMemcpyDtoH_v2(back.data(), segment, 16), CUDA_ERROR_INVALID_VALUE);
  for (auto chunk : chunks) ASSERT_CU(cu.cuMemRelease(chunk));
  EXPECT_EQ(cu.cuMemRelease(chunks[0]), CUDA_ERROR_INVALID_VALUE) << "released twice";
  ASSERT_CU(cu.cuMemAddressFree(segment, 16 * kChunk));
  int supported = 0;
  ASSERT_CU(cu.cuDeviceGetAttribute(&supported, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 0));
  EXPECT_EQ(supported, 1) << "the attribute promises it now";
}

// Stream memory operations go posted, in stream order; a wait holds its stream on the server until
// a write from another stream satisfies it. Misuse fails at the call; memory that is not the
// session's is refused by the server and reported at the next synchronizing call.
TEST_F(Interposer, StreamMemoryOperationsRunInStreamOrderOnTheServer) {
  CUstream waiter = nullptr, writer = nullptr;
  CUdeviceptr flags = 0;
  ASSERT_CU(cu.cuStreamCreate(&waiter, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(cu.cuStreamCreate(&writer, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(cu.cuMemAlloc_v2(&flags, 64));
  ASSERT_CU(cu.cuMemsetD32_v2(flags, 0, 16));
  ASSERT_CU(cu.cuStreamWaitValue32_v2(waiter, flags, 3, CU_STREAM_WAIT_VALUE_EQ));
  ASSERT_CU(cu.cuStreamWriteValue32_v2(waiter, flags + 4, 42, 0));
  EXPECT_EQ(cu.cuStreamQuery(waiter), CUDA_ERROR_NOT_READY) << "the wait holds the stream";
  ASSERT_CU(cu.cuStreamWriteValue32_v2(writer, flags, 3, 0));
  ASSERT_CU(cu.cuStreamSynchronize(waiter));
  std::uint32_t written = 0;
  ASSERT_CU(cu.cuMemcpyDtoH_v2(&written, flags + 4, 4));
  EXPECT_EQ(written, 42u);
  EXPECT_EQ(cu.cuStreamWriteValue64_v2(waiter, flags + 4, 1, 0), CUDA_ERROR_INVALID_VALUE) << "misaligned";
  ASSERT_CU(cu.cuStreamWriteValue32_v2(waiter, flags + 4096, 1, 0));  // posted; outside the allocation
  EXPECT_EQ(cu.cuStreamSynchronize(waiter), CUDA_ERROR_INVALID_VALUE) << "refused by the server, reported here";
  int supported = 0;
  ASSERT_CU(cu.cuDeviceGetAttribute(&supported, CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS, 0));
  EXPECT_EQ(supported, 1);
  EXPECT_CU(cu.cuMemFree_v2(flags));
  EXPECT_CU(cu.cuStreamDestroy_v2(waiter));
  EXPECT_CU(cu.cuStreamDestroy_v2(writer));
}

// The real driver crashes on a destroyed handle (seen on an H200, so the end-to-end programs no
// longer try it natively); through FastGPU it is refused and the program goes on.
TEST_F(Interposer, DestroyedStreamsAndEventsAreRefusedNotFollowed) {
  CUstream stream = nullptr;
  CUevent event = nullptr;
  ASSERT_CU(cu.cuStreamCreate(&stream, 0));
  ASSERT_CU(cu.cuEventCreate(&event, 0));
  ASSERT_CU(cu.cuStreamDestroy_v2(stream));
  ASSERT_CU(cu.cuEventDestroy_v2(event));
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  EXPECT_EQ(cu.cuStreamIsCapturing(stream, &status), CUDA_ERROR_INVALID_HANDLE);
  CUcontext owner = nullptr;
  CUgreenCtx green = nullptr;
  EXPECT_EQ(cu.cuStreamGetCtx_v2(stream, &owner, &green), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(cu.cuStreamSynchronize(stream), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(cu.cuEventQuery(event), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(cu.cuEventSynchronize(event), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_CU(cu.cuCtxSynchronize());
}

TEST_F(Interposer, AttributesPromiseNothingARemoteSessionCannotDo) {
  // cudasim maps pinned host memory for its device (natively the attribute reads 1); a remote
  // device cannot reach this process's memory, so a session reads 0.
  int value = -1;
  ASSERT_CU(cu.cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, 0));
  EXPECT_EQ(value, 0);
  ASSERT_CU(cu.cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM, 0));
  EXPECT_EQ(value, 0);
  ASSERT_CU(cu.cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, 0));
  EXPECT_EQ(value, 0) << "managed memory is not implemented";
  ASSERT_CU(cu.cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, 0));
  EXPECT_EQ(value, 1) << "pools are remoted";
  ASSERT_CU(cu.cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED, 0));
  EXPECT_EQ(value, 1) << "registered host memory works remotely";
}

// A probe tells the truth (DESIGN.md decision 15): a driver function the client does not remote
// is absent to dlsym and to cuGetProcAddress alike, so frameworks take their fallbacks; one it
// remotes is the same function by either path.
TEST_F(Interposer, SymbolProbesFindOnlyWhatIsRemotedAndBothPathsAgree) {
  void* pfn = &context;
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SUCCESS;
  EXPECT_EQ(dlsym(InterposerEnvironment::handle, "cuGraphicsUnregisterResource"), nullptr);
  EXPECT_EQ(cu.cuGetProcAddress_v2("cuGraphicsUnregisterResource", &pfn, 13000, 0, &status), CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  EXPECT_EQ(pfn, nullptr);
  std::size_t found = 0, absent = 0;
  for (std::size_t i = 0; i < cudaabi::kDriverSymbolCount; ++i) {
    std::string symbol(cudaabi::driverSymbolName(i));
    void* direct = dlsym(InterposerEnvironment::handle, symbol.c_str());
    // The name a program asks cuGetProcAddress for: the symbol without its version or stream suffix.
    std::string name = symbol;
    for (const char* suffix : {"_ptds", "_ptsz"}) {
      if (name.ends_with(suffix)) name.resize(name.size() - 5);
    }
    if (auto v = name.rfind("_v"); v != std::string::npos && name.find_first_not_of("0123456789", v + 2) == std::string::npos) {
      name.resize(v);
    }
    for (std::uint64_t flags : {0u, 2u}) {
      auto answer = cudaabi::lookupProcAddress(name, 13000, flags);
      if (answer.status != CU_GET_PROC_ADDRESS_SUCCESS || answer.symbolIndex != i) continue;
      pfn = &context;
      CUresult result = cu.cuGetProcAddress_v2(name.c_str(), &pfn, 13000, flags, &status);
      EXPECT_EQ(pfn, direct) << name << " flags " << flags << " (" << symbol << ")";
      EXPECT_EQ(result, direct != nullptr ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND) << name;
      ++(direct != nullptr ? found : absent);
    }
  }
  EXPECT_GT(found, 300u) << "most of the surface frameworks use is remoted";
  // PyTorch's driver-API helper fails unless it finds these, at version 12000.
  for (const char* required :
       {"cuDeviceGet", "cuDeviceGetAttribute", "cuMemGetAddressRange", "cuMemAddressReserve", "cuMemRelease",
        "cuMemMap", "cuMemAddressFree", "cuMemSetAccess", "cuMemUnmap", "cuMemCreate", "cuMemGetAllocationGranularity",
        "cuMemExportToShareableHandle", "cuMemImportFromShareableHandle", "cuMemRetainAllocationHandle",
        "cuMemGetAllocationPropertiesFromHandle", "cuMemsetD32Async", "cuStreamWriteValue32", "cuGetErrorString"}) {
    EXPECT_EQ(cu.cuGetProcAddress_v2(required, &pfn, 12000, 0, &status), CUDA_SUCCESS) << required;
  }
  EXPECT_GT(absent, 100u) << "graphics interop, arrays, textures and more are not";
}

// A program that execs (a shell, a compiler, a DataLoader worker started fresh) does not hand
// its session's connection to the new program: every descriptor the client opens is
// close-on-exec.
TEST_F(Interposer, TheSessionsConnectionIsNotInheritedAcrossExec) {
  auto sockets = [](const std::string& listing) {
    std::size_t count = 0;
    for (auto at = listing.find("socket:"); at != std::string::npos; at = listing.find("socket:", at + 1)) ++count;
    return count;
  };
  std::string here;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    here += std::filesystem::read_symlink(entry.path(), error).string() + "\n";
  }
  ASSERT_GE(sockets(here), 1u) << "the session's connection is open here";
  std::FILE* child = popen("ls -l /proc/self/fd/", "r");
  ASSERT_NE(child, nullptr);
  std::string listing;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), child) != nullptr) listing += buffer;
  ASSERT_EQ(pclose(child), 0);
  EXPECT_EQ(sockets(listing), 0u) << listing;
}

}  // namespace
}  // namespace fastgpu::interposer

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new fastgpu::interposer::InterposerEnvironment);
  return RUN_ALL_TESTS();
}
