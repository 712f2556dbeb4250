// cudasim: memory allocation, out-of-memory at the configured size, range checks on copies and
// memsets, pointer attributes.
#include <cstring>
#include <vector>

#include "sim_fixture.h"

namespace fastgpu::testing {
namespace {

using SimMemory = SimTest;

TEST_F(SimMemory, AllocationBeyondTheConfiguredSizeFailsAndChangesNothing) {
  std::size_t freeBefore = 0, total = 0;
  ASSERT_CU(d.cuMemGetInfo_v2(&freeBefore, &total));
  EXPECT_EQ(total, kSimMemoryBytes);
  CUdeviceptr tooBig = 0;
  EXPECT_EQ(d.cuMemAlloc_v2(&tooBig, freeBefore + 1), CUDA_ERROR_OUT_OF_MEMORY);
  std::size_t freeAfter = 0;
  ASSERT_CU(d.cuMemGetInfo_v2(&freeAfter, &total));
  EXPECT_EQ(freeAfter, freeBefore);
  // Fill most of the device, then find it full, then free it.
  CUdeviceptr big = 0;
  ASSERT_CU(d.cuMemAlloc_v2(&big, freeBefore - (4 << 20)));
  CUdeviceptr more = 0;
  EXPECT_EQ(d.cuMemAlloc_v2(&more, 8 << 20), CUDA_ERROR_OUT_OF_MEMORY);
  ASSERT_CU(d.cuMemGetInfo_v2(&freeAfter, &total));
  EXPECT_LE(freeAfter, 4u << 20);
  ASSERT_CU(d.cuMemFree_v2(big));
  ASSERT_CU(d.cuMemAlloc_v2(&more, 8 << 20));
  ASSERT_CU(d.cuMemFree_v2(more));
  ASSERT_CU(d.cuMemGetInfo_v2(&freeAfter, &total));
  EXPECT_EQ(freeAfter, freeBefore);
  EXPECT_EQ(d.cuMemAlloc_v2(&more, 0), CUDA_ERROR_INVALID_VALUE);
}

TEST_F(SimMemory, CopiesOutsideAllocationsAreRejected) {
  CUdeviceptr buffer = 0;
  ASSERT_CU(d.cuMemAlloc_v2(&buffer, 4096));
  std::vector<unsigned char> host(8192, 7);
  ASSERT_CU(d.cuMemcpyHtoD_v2(buffer, host.data(), 4096));
  // Receive a copy that runs past the end. Expect: CUDA_ERROR_INVALID_VALUE, memory untouched.
  std::vector<unsigned char> other(8192, 9);
  EXPECT_EQ(d.cuMemcpyHtoD_v2(buffer + 4000, other.data(), 200), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuMemcpyDtoH_v2(other.data(), buffer, 4097), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuMemcpyDtoD_v2(buffer, buffer + 2048, 4096), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuMemsetD32_v2(buffer + 4092, 0, 2), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuMemsetD32_v2(buffer + 2, 0, 1), CUDA_ERROR_INVALID_VALUE) << "misaligned";
  EXPECT_EQ(d.cuMemcpyHtoDAsync_v2(buffer + 4096, other.data(), 1, nullptr), CUDA_ERROR_INVALID_VALUE);
  // An address in the device's window that was never allocated, and a plain host address.
  EXPECT_EQ(d.cuMemcpyDtoH_v2(other.data(), buffer + (64 << 20), 4), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuMemcpyDtoH_v2(other.data(), reinterpret_cast<CUdeviceptr>(host.data()), 4), CUDA_ERROR_INVALID_VALUE);
  std::vector<unsigned char> check(4096);
  ASSERT_CU(d.cuMemcpyDtoH_v2(check.data(), buffer, 4096));
  EXPECT_EQ(check, std::vector<unsigned char>(4096, 7));
  // A freed allocation.
  ASSERT_CU(d.cuMemFree_v2(buffer));
  EXPECT_EQ(d.cuMemcpyDtoH_v2(check.data(), buffer, 4), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuMemFree_v2(buffer), CUDA_ERROR_INVALID_VALUE) << "double free";
}

TEST_F(SimMemory, CopiesAndMemsetsMoveTheRightBytes) {
  CUdeviceptr a = 0, b = 0;
  ASSERT_CU(d.cuMemAlloc_v2(&a, 1024));
  ASSERT_CU(d.cuMemAlloc_v2(&b, 1024));
  ASSERT_CU(d.cuMemsetD8_v2(a, 0xab, 1024));
  ASSERT_CU(d.cuMemsetD16_v2(a, 0x1234, 4));
  ASSERT_CU(d.cuMemsetD32Async(a + 16, 0xdeadbeef, 2, nullptr));
  ASSERT_CU(d.cuMemcpyDtoD_v2(b, a, 1024));
  std::vector<unsigned char> host(1024);
  ASSERT_CU(d.cuMemcpy(reinterpret_cast<CUdeviceptr>(host.data()), b, 1024));  // unified
  EXPECT_EQ(host[0], 0x34);
  EXPECT_EQ(host[1], 0x12);
  EXPECT_EQ(host[8], 0xab);
  EXPECT_EQ(host[16], 0xef);
  EXPECT_EQ(host[23], 0xde);
  EXPECT_EQ(host[24], 0xab);
}

TEST_F(SimMemory, PinnedAsyncCopiesRespectStreamOrder) {
  // A device-to-host copy into a pinned buffer followed by a host-to-device copy from it must
  // see the new data.
  void* pinned = nullptr;
  ASSERT_CU(d.cuMemAllocHost_v2(&pinned, 256));
  std::memset(pinned, 0, 256);
  CUdeviceptr source = 0, target = 0;
  ASSERT_CU(d.cuMemAlloc_v2(&source, 256));
  ASSERT_CU(d.cuMemAlloc_v2(&target, 256));
  ASSERT_CU(d.cuMemsetD8_v2(source, 0x5c, 256));
  CUstream stream;
  ASSERT_CU(d.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(d.cuMemcpyDtoHAsync_v2(pinned, source, 256, stream));
  ASSERT_CU(d.cuMemcpyHtoDAsync_v2(target, pinned, 256, stream));
  ASSERT_CU(d.cuStreamSynchronize(stream));
  std::vector<unsigned char> host(256);
  ASSERT_CU(d.cuMemcpyDtoH_v2(host.data(), target, 256));
  EXPECT_EQ(host, std::vector<unsigned char>(256, 0x5c));
  ASSERT_CU(d.cuStreamDestroy_v2(stream));
  ASSERT_CU(d.cuMemFreeHost(pinned));
  EXPECT_EQ(d.cuMemFreeHost(pinned), CUDA_ERROR_INVALID_VALUE);
}

TEST_F(SimMemory, PointerAttributesTellDeviceFromHost) {
  CUdeviceptr device = 0;
  ASSERT_CU(d.cuMemAlloc_v2(&device, 1000));
  unsigned type = 0;
  ASSERT_CU(d.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, device + 10));
  EXPECT_EQ(type, CU_MEMORYTYPE_DEVICE);
  CUdeviceptr asked = 0;
  ASSERT_CU(d.cuPointerGetAttribute(&asked, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, device + 10));
  EXPECT_EQ(asked, device + 10) << "a pointer inside an allocation is its own device pointer";
  CUdeviceptr base = 0;
  std::size_t size = 0;
  ASSERT_CU(d.cuMemGetAddressRange_v2(&base, &size, device + 999));
  EXPECT_EQ(base, device);
  EXPECT_EQ(size, 1000u);
  void* pinned = nullptr;
  ASSERT_CU(d.cuMemHostAlloc(&pinned, 64, CU_MEMHOSTALLOC_DEVICEMAP));
  ASSERT_CU(d.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, reinterpret_cast<CUdeviceptr>(pinned)));
  EXPECT_EQ(type, CU_MEMORYTYPE_HOST);
  CUdeviceptr mapped = 0;
  ASSERT_CU(d.cuMemHostGetDevicePointer_v2(&mapped, pinned, 0));
  EXPECT_EQ(mapped, reinterpret_cast<CUdeviceptr>(pinned));
  // An unknown pointer: the single query fails, the multi-attribute query succeeds with zeros.
  int plain = 0;
  EXPECT_EQ(d.cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, reinterpret_cast<CUdeviceptr>(&plain)),
            CUDA_ERROR_INVALID_VALUE);
  CUpointer_attribute attributes[] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_DEVICE_POINTER};
  unsigned memoryType = 99;
  CUdeviceptr devicePointer = 99;
  void* values[] = {&memoryType, &devicePointer};
  ASSERT_CU(d.cuPointerGetAttributes(2, attributes, values, reinterpret_cast<CUdeviceptr>(&plain)));
  EXPECT_EQ(memoryType, 0u);
  EXPECT_EQ(devicePointer, 0u);
  // Registered host memory.
  std::vector<char> page(8192);
  ASSERT_CU(d.cuMemHostRegister_v2(page.data(), page.size(), 0));
  EXPECT_EQ(d.cuMemHostRegister_v2(page.data() + 100, 10, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
  ASSERT_CU(d.cuMemHostUnregister(page.data()));
  EXPECT_EQ(d.cuMemHostUnregister(page.data()), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
  ASSERT_CU(d.cuMemFreeHost(pinned));
  ASSERT_CU(d.cuMemFree_v2(device));
}

TEST_F(SimMemory, DevicesHaveDisjointAddressRanges) {
  CUdeviceptr onZero = 0, onOne = 0;
  ASSERT_CU(d.cuMemAlloc_v2(&onZero, 64));
  CUcontext other = nullptr;
  ASSERT_CU(d.cuDevicePrimaryCtxRetain(&other, 1));
  ASSERT_CU(d.cuCtxPushCurrent_v2(other));
  ASSERT_CU(d.cuMemAlloc_v2(&onOne, 64));
  int ordinal = -1;
  ASSERT_CU(d.cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, onOne));
  EXPECT_EQ(ordinal, 1);
  ASSERT_CU(d.cuMemsetD8_v2(onOne, 3, 64));
  ASSERT_CU(d.cuMemcpyPeer(onZero, context, onOne, other, 64));
  unsigned char byte = 0;
  ASSERT_CU(d.cuMemcpyDtoH_v2(&byte, onZero + 63, 1));
  EXPECT_EQ(byte, 3);
  ASSERT_CU(d.cuCtxPopCurrent_v2(nullptr));
  ASSERT_CU(d.cuDevicePrimaryCtxRelease_v2(1));
}

// The per-thread forms (--default-stream per-thread) of peer copies and 2-D memsets.
TEST_F(SimMemory, PerThreadFormsOfPeerCopiesAnd2DMemsetsWork) {
  CUdeviceptr first = 0, second = 0;
  ASSERT_CU(d.cuMemAlloc_v2(&first, 64));
  ASSERT_CU(d.cuMemAlloc_v2(&second, 64));
  ASSERT_CU(d.cuMemsetD8_v2(first, 0, 64));
  ASSERT_CU(d.cuMemsetD2D8_v2_ptds(first, 16, 1, 4, 4));
  ASSERT_CU(d.cuMemsetD2D16Async_ptsz(first + 4, 16, 0x0202, 2, 4, nullptr));
  ASSERT_CU(d.cuMemsetD2D32_v2_ptds(first + 8, 16, 0x03030303, 1, 4));
  ASSERT_CU(d.cuMemsetD2D32Async_ptsz(first + 12, 16, 0x04040404, 1, 3, nullptr));
  ASSERT_CU(d.cuMemcpyPeerAsync_ptsz(second, context, first, context, 64, nullptr));
  ASSERT_CU(d.cuStreamSynchronize_ptsz(nullptr));
  std::vector<unsigned char> expected(64);
  for (std::size_t i = 0; i < 64; ++i) expected[i] = i >= 60 ? 0 : static_cast<unsigned char>(i % 16 / 4 + 1);
  std::vector<unsigned char> back(64);
  ASSERT_CU(d.cuMemcpyDtoH_v2(back.data(), second, 64));
  EXPECT_EQ(back, expected);
  ASSERT_CU(d.cuMemsetD8_v2(second, 0, 64));
  ASSERT_CU(d.cuMemcpyPeer_ptds(second, context, first, context, 64));
  ASSERT_CU(d.cuMemcpyDtoH_v2(back.data(), second, 64));
  EXPECT_EQ(back, expected);
  EXPECT_EQ(d.cuMemsetD2D8_v2_ptds(first, 4, 5, 8, 2), CUDA_ERROR_INVALID_VALUE);
}

}  // namespace
}  // namespace fastgpu::testing

namespace fastgpu::testing {
namespace {

// Shapes chosen to wrap around 64 bits fail instead of turning into small, plausible ranges.
TEST_F(SimTest, TwoDimensionalShapesThatWrapAreRefused) {
  CUdeviceptr buffer = 0;
  ASSERT_CU(d.cuMemAlloc_v2(&buffer, 16384));
  ASSERT_CU(d.cuMemsetD8_v2(buffer, 0, 16384));  // device memory is not zeroed: a reused page keeps old bytes
  std::vector<std::uint8_t> host(16384, 7);
  CUDA_MEMCPY2D copy{};
  copy.srcMemoryType = CU_MEMORYTYPE_HOST;
  copy.srcHost = host.data();
  copy.srcPitch = 4104;
  copy.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.dstDevice = buffer + 8192;
  copy.dstPitch = ~std::size_t{4095};  // "-4096": the second row would be before the buffer
  copy.WidthInBytes = 4104;
  copy.Height = 2;
  EXPECT_EQ(d.cuMemcpy2D_v2(&copy), CUDA_ERROR_INVALID_VALUE);
  copy.dstPitch = std::size_t{1} << 63;
  copy.WidthInBytes = 16;
  EXPECT_EQ(d.cuMemcpy2D_v2(&copy), CUDA_ERROR_INVALID_VALUE);
  copy.dstPitch = 0;
  copy.dstY = std::size_t{1} << 62;  // an offset that wraps
  EXPECT_EQ(d.cuMemcpy2D_v2(&copy), CUDA_ERROR_INVALID_VALUE);
  // A row of 2^62 + 4 four-byte elements: its size in bytes wraps to 16.
  EXPECT_EQ(d.cuMemsetD2D32_v2(buffer, 0, 0x41414141, (std::size_t{1} << 62) + 4, 1), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuMemsetD2D8_v2(buffer, std::size_t{1} << 62, 0x41, 4, 3), CUDA_ERROR_INVALID_VALUE);
  std::vector<std::uint8_t> back(16384);
  ASSERT_CU(d.cuMemcpyDtoH_v2(back.data(), buffer, back.size()));
  EXPECT_EQ(back, std::vector<std::uint8_t>(16384, 0)) << "a refused shape wrote something";
  ASSERT_CU(d.cuMemFree_v2(buffer));
}

}  // namespace
}  // namespace fastgpu::testing
