// The interposer's memory paths that no example program reaches: peer and registered-host copies,
// the client's reservation of device ranges, checked 2-D shapes, virtual memory, stream memory
// operations, and handles that are gone.
#include "tests/interposer/interposer_test_support.h"

namespace fastgpu::interposer {
namespace {

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

// A program built with --default-stream per-thread reaches peer copies and 2-D memsets through
// their _ptds / _ptsz forms; each works as the legacy form does, on the per-thread stream.
TEST_F(Interposer, PerThreadFormsOfPeerCopiesAnd2DMemsetsWork) {
  constexpr std::size_t kPitch = 256, kWidth = 64, kHeight = 4;
  CUdeviceptr first = 0, second = 0;
  ASSERT_CU(cu.cuMemAlloc_v2(&first, kPitch * kHeight));
  ASSERT_CU(cu.cuMemAlloc_v2(&second, kPitch * kHeight));
  ASSERT_CU(cu.cuMemsetD8_v2(first, 0, kPitch * kHeight));
  ASSERT_CU(cu.cuMemsetD2D8_v2_ptds(first, kPitch, 0x11, kWidth, kHeight));
  ASSERT_CU(cu.cuMemsetD2D16Async_ptsz(first + kWidth, kPitch, 0x2222, kWidth / 2, kHeight, nullptr));
  ASSERT_CU(cu.cuMemsetD2D32Async_ptsz(first + 2 * kWidth, kPitch, 0x33333333, kWidth / 4, kHeight, nullptr));
  ASSERT_CU(cu.cuMemsetD2D32_v2_ptds(first + 3 * kWidth, kPitch, 0x44444444, kWidth / 4, kHeight - 1));
  ASSERT_CU(cu.cuMemcpyPeerAsync_ptsz(second, context, first, context, kPitch * kHeight, nullptr));
  ASSERT_CU(cu.cuStreamSynchronize_ptsz(nullptr));
  std::vector<std::uint8_t> expected(kPitch * kHeight, 0);
  for (std::size_t row = 0; row < kHeight; ++row) {
    for (std::size_t column = 0; column < kPitch; ++column) {
      std::size_t quarter = column / kWidth;
      bool unset = quarter == 3 && row == kHeight - 1;
      expected[row * kPitch + column] = unset ? 0 : static_cast<std::uint8_t>(0x11 * (quarter + 1));
    }
  }
  EXPECT_EQ(readDevice(second, kPitch * kHeight), expected);
  ASSERT_CU(cu.cuMemsetD8_v2(second, 0, kPitch * kHeight));
  ASSERT_CU(cu.cuMemcpyPeer_ptds(second, context, first, context, kPitch * kHeight));
  EXPECT_EQ(readDevice(second, kPitch * kHeight), expected);
  // Their checks are the legacy forms': a row longer than the pitch, a copy past its source.
  EXPECT_EQ(cu.cuMemsetD2D8_v2_ptds(first, 4, 0x55, 8, 2), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cu.cuMemcpyPeer_ptds(second, context, first + 1, context, kPitch * kHeight), CUDA_ERROR_INVALID_VALUE);
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

}  // namespace
}  // namespace fastgpu::interposer
