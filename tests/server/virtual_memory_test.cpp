// Virtual memory management on the server: cuMemCreate charges the vGPU's quota exactly (and a
// reservation does not), mapped memory is the session's to copy to until it is unmapped, and
// what a client names that is not its own is refused.
#include "session_test_support.h"

namespace fastgpu::server {
namespace {

constexpr std::uint64_t kChunk = 2ULL << 20;

struct Vmm {
  RawClient& client;

  std::pair<CUresult, std::uint64_t> reserve(std::uint64_t size) {
    auto [result, values] = client.call([&](wire::Call::Builder c) { c.initMemAddressReserve().setSize(size); });
    return {result, values.empty() ? 0 : static_cast<std::uint64_t>(values[0])};
  }
  std::pair<CUresult, std::uint64_t> create(std::uint64_t size) {
    std::uint64_t handle = 0;
    CUresult result = client.call([&](wire::Call::Builder c) { c.initMemCreate().setSize(size); }, &handle).first;
    return {result, handle};
  }
  CUresult map(std::uint64_t address, std::uint64_t size, std::uint64_t handle) {
    return client
        .call([&](wire::Call::Builder c) {
          auto m = c.initMemMap();
          m.setAddress(address);
          m.setSize(size);
          m.setHandle(handle);
        })
        .first;
  }
  CUresult grant(std::uint64_t address, std::uint64_t size) {
    return client
        .call([&](wire::Call::Builder c) {
          auto a = c.initMemSetAccess();
          a.setAddress(address);
          a.setSize(size);
          a.initDevices(1).set(0, 0);
          a.initFlags(1).set(0, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
        })
        .first;
  }
  CUresult unmap(std::uint64_t address, std::uint64_t size) {
    return client
        .call([&](wire::Call::Builder c) {
          auto r = c.initMemUnmap();
          r.setAddress(address);
          r.setSize(size);
        })
        .first;
  }
  CUresult release(std::uint64_t handle) {
    return client.call([&](wire::Call::Builder c) { c.setMemRelease(handle); }).first;
  }
};

TEST_F(ServerTest, PhysicalAllocationsChargeTheQuotaExactlyAndReservationsDoNot) {
  RawClient client = startSmallVgpu();
  client.retainPrimary();
  Vmm vmm{client};
  const std::uint64_t before = client.freeMemory();
  auto [reserved, segment] = vmm.reserve(64 * kChunk);
  ASSERT_EQ(reserved, CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), before) << "a reservation is not memory";
  auto [first, a] = vmm.create(2 * kChunk);
  auto [second, b] = vmm.create(2 * kChunk);
  ASSERT_EQ(first, CUDA_SUCCESS);
  ASSERT_EQ(second, CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), before - 4 * kChunk);
  EXPECT_EQ(vmm.create(2 * kChunk).first, CUDA_ERROR_OUT_OF_MEMORY) << "8 MiB quota, 8 MiB asked in all";
  EXPECT_EQ(client.freeMemory(), before - 4 * kChunk) << "the refusal charged nothing";
  // Mapped and granted, the memory takes copies, across the two allocations' boundary too.
  ASSERT_EQ(vmm.map(segment, 2 * kChunk, a), CUDA_SUCCESS);
  ASSERT_EQ(vmm.map(segment + 2 * kChunk, 2 * kChunk, b), CUDA_SUCCESS);
  ASSERT_EQ(vmm.grant(segment, 4 * kChunk), CUDA_SUCCESS);
  std::vector<std::uint8_t> bytes(4096, 0x3c);
  EXPECT_EQ(client.write(segment + 2 * kChunk - 2048, bytes), CUDA_SUCCESS);
  EXPECT_EQ(client.read(segment + 2 * kChunk - 2048, 4096).second, bytes);
  // Released while mapped, the memory is charged until its mapping goes.
  ASSERT_EQ(vmm.release(b), CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), before - 4 * kChunk);
  ASSERT_EQ(vmm.unmap(segment + 2 * kChunk, 2 * kChunk), CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), before - 2 * kChunk);
  EXPECT_EQ(client.write(segment + 2 * kChunk, bytes), CUDA_ERROR_INVALID_VALUE) << "unmapped memory";
  ASSERT_EQ(vmm.unmap(segment, 2 * kChunk), CUDA_SUCCESS);
  ASSERT_EQ(vmm.release(a), CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), before);
}

TEST_F(ServerTest, AllocationsAreMadeShareableAsDescriptorsOnlyAndChargedAlike) {
  RawClient client(url);
  client.retainPrimary();
  auto create = [&](std::uint32_t handleTypes) {
    std::uint64_t handle = 0;
    CUresult result = client
                          .call(
                              [&](wire::Call::Builder c) {
                                auto create = c.initMemCreate();
                                create.setSize(kChunk);
                                create.setHandleTypes(handleTypes);
                              },
                              &handle)
                          .first;
    return std::pair{result, handle};
  };
  std::uint64_t before = client.freeMemory();
  auto [shareable, handle] = create(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  EXPECT_EQ(shareable, CUDA_SUCCESS) << "PyTorch's expandable segments ask for POSIX descriptors";
  EXPECT_EQ(client.freeMemory(), before - kChunk);
  EXPECT_EQ(create(CU_MEM_HANDLE_TYPE_FABRIC).first, CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(create(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR | CU_MEM_HANDLE_TYPE_FABRIC).first, CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(create(0x40000).first, CUDA_ERROR_NOT_SUPPORTED) << "an unknown type";
  EXPECT_EQ(client.freeMemory(), before - kChunk) << "nothing charged for the refusals";
  EXPECT_EQ(client.call([&](wire::Call::Builder c) { c.setMemRelease(handle); }).first, CUDA_SUCCESS);
  EXPECT_EQ(client.freeMemory(), before);
}

TEST_F(ServerTest, VirtualMemoryTheSessionDoesNotHoldIsRefused) {
  RawClient client(url);
  client.retainPrimary();
  Vmm vmm{client};
  auto [reserved, segment] = vmm.reserve(4 * kChunk);
  ASSERT_EQ(reserved, CUDA_SUCCESS);
  auto [created, handle] = vmm.create(kChunk);
  ASSERT_EQ(created, CUDA_SUCCESS);
  EXPECT_EQ(vmm.map(segment, kChunk, 0x7777777777), CUDA_ERROR_INVALID_VALUE) << "a forged handle";
  EXPECT_EQ(vmm.map(segment + 8 * kChunk, kChunk, handle), CUDA_ERROR_INVALID_VALUE) << "not reserved";
  EXPECT_EQ(vmm.map(0x7f0000000000, kChunk, handle), CUDA_ERROR_INVALID_VALUE) << "somewhere else entirely";
  ASSERT_EQ(vmm.map(segment, kChunk, handle), CUDA_SUCCESS);
  EXPECT_EQ(vmm.unmap(segment, 2 * kChunk), CUDA_ERROR_INVALID_VALUE) << "more than was mapped";
  EXPECT_EQ(vmm.grant(segment + kChunk, kChunk), CUDA_ERROR_INVALID_VALUE) << "access to unmapped addresses";
  auto tooMany = client.call([&](wire::Call::Builder c) {
    auto a = c.initMemSetAccess();
    a.setAddress(segment);
    a.setSize(kChunk);
    a.initDevices(2);
    a.initFlags(1);
  });
  EXPECT_EQ(tooMany.first, CUDA_ERROR_INVALID_VALUE) << "devices and flags of different lengths";
  auto freeMapped = client.call([&](wire::Call::Builder c) {
    auto r = c.initMemAddressFree();
    r.setAddress(segment);
    r.setSize(4 * kChunk);
  });
  EXPECT_EQ(freeMapped.first, CUDA_ERROR_INVALID_VALUE) << "a reservation with a mapping";
  ASSERT_EQ(vmm.unmap(segment, kChunk), CUDA_SUCCESS);
  ASSERT_EQ(vmm.release(handle), CUDA_SUCCESS);
  EXPECT_EQ(vmm.release(handle), CUDA_ERROR_INVALID_VALUE) << "released twice";
  EXPECT_EQ(vmm.map(segment, kChunk, handle), CUDA_ERROR_INVALID_VALUE) << "a released handle";
  EXPECT_GT(client.freeMemory(), 0u) << "the session still serves";
}

}  // namespace
}  // namespace fastgpu::server
