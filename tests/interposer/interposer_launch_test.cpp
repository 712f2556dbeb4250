// The interposer's launch paths that no example program reaches: cooperative launches, occupancy
// and cluster queries answered by the server's driver, posted calls, capture queries and tensor
// maps answered without a round trip, and the attributes a remote session reports.
#include "tests/interposer/interposer_test_support.h"

namespace fastgpu::interposer {
namespace {

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

// What the server's welcome says of its devices is read without end: a long program asks device
// attributes and launches kernels millions of times (each launch checks its geometry against
// them). A capnp reader counts every read against its traversal limit (64 MiB of words), so
// reading a kept one this often failed after some hundred thousand calls.
TEST_F(Interposer, DeviceAttributesCanBeReadWithoutEnd) {
  int value = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    ASSERT_EQ(cu.cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 0), CUDA_SUCCESS) << "call " << i;
  }
  EXPECT_GT(value, 0);
}

}  // namespace
}  // namespace fastgpu::interposer
