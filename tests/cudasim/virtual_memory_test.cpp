// cudasim's virtual memory management: the call sequence of PyTorch's expandable segments
// (reserve large, map chunks as the segment grows, unmap, release), what a mapping reaches, and
// every refusal the driver documents.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "sim_fixture.h"

namespace fastgpu::testing {
namespace {

constexpr std::size_t kChunk = 2ULL << 20;

class SimVirtualMemory : public SimTest {
 protected:
  static CUmemAllocationProp pinnedOnDevice0() {
    CUmemAllocationProp prop{};
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    return prop;
  }
  CUmemGenericAllocationHandle create(std::size_t bytes) {
    CUmemAllocationProp prop = pinnedOnDevice0();
    CUmemGenericAllocationHandle handle = 0;
    EXPECT_CU(d.cuMemCreate(&handle, bytes, &prop, 0));
    return handle;
  }
  CUresult grant(CUdeviceptr base, std::size_t bytes, CUmemAccess_flags flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE) {
    CUmemAccessDesc access{};
    access.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    access.location.id = 0;
    access.flags = flags;
    return d.cuMemSetAccess(base, bytes, &access, 1);
  }
  std::size_t freeMemory() {
    size_t free = 0, total = 0;
    EXPECT_CU(d.cuMemGetInfo_v2(&free, &total));
    return free;
  }
};

TEST_F(SimVirtualMemory, AnExpandableSegmentGrowsByMappedChunksAndShrinksBack) {
  CUmemAllocationProp prop = pinnedOnDevice0();
  size_t granularity = 0;
  ASSERT_CU(d.cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
  ASSERT_EQ(granularity, kChunk);
  const std::size_t before = freeMemory();
  CUdeviceptr segment = 0;
  ASSERT_CU(d.cuMemAddressReserve(&segment, 64 * kChunk, 0, 0, 0));
  EXPECT_EQ(freeMemory(), before) << "a reservation takes no memory";
  std::vector<CUmemGenericAllocationHandle> chunks;
  for (int i = 0; i < 3; ++i) {  // the tensor grows: one chunk more each time
    chunks.push_back(create(kChunk));
    ASSERT_CU(d.cuMemMap(segment + i * kChunk, kChunk, 0, chunks.back(), 0));
    ASSERT_CU(grant(segment + i * kChunk, kChunk));
  }
  EXPECT_EQ(freeMemory(), before - 3 * kChunk);
  // A tensor across the first chunk boundary: set, copied back, read by a kernel.
  const CUdeviceptr across = segment + kChunk - 1024;
  ASSERT_CU(d.cuMemsetD32_v2(across, 0x01020304, 512));
  std::vector<std::uint32_t> back(512);
  ASSERT_CU(d.cuMemcpyDtoH_v2(back.data(), across, 2048));
  EXPECT_EQ(back.front(), 0x01020304u);
  EXPECT_EQ(back.back(), 0x01020304u);
  CUdeviceptr base = 0;
  size_t size = 0;
  ASSERT_CU(d.cuMemGetAddressRange_v2(&base, &size, segment + kChunk + 5));
  EXPECT_EQ(base, segment + kChunk);
  EXPECT_EQ(size, kChunk);
  unsigned int memoryType = 0;
  ASSERT_CU(d.cuPointerGetAttribute(&memoryType, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, segment));
  EXPECT_EQ(memoryType, CU_MEMORYTYPE_DEVICE);
  // Shrink: unmap and release the last two chunks; the memory comes back.
  ASSERT_CU(d.cuMemUnmap(segment + kChunk, 2 * kChunk));
  for (int i = 1; i < 3; ++i) ASSERT_CU(d.cuMemRelease(chunks[i]));
  EXPECT_EQ(freeMemory(), before - kChunk);
  EXPECT_EQ(d.cuMemcpyDtoH_v2(back.data(), segment + kChunk, 16), CUDA_ERROR_INVALID_VALUE) << "unmapped";
  // Release before unmap: the memory stays until its last mapping goes.
  ASSERT_CU(d.cuMemRelease(chunks[0]));
  EXPECT_EQ(freeMemory(), before - kChunk);
  ASSERT_CU(d.cuMemcpyDtoH_v2(back.data(), segment, 16));
  ASSERT_CU(d.cuMemUnmap(segment, kChunk));
  EXPECT_EQ(freeMemory(), before);
  ASSERT_CU(d.cuMemAddressFree(segment, 64 * kChunk));
}

TEST_F(SimVirtualMemory, OneAllocationMappedTwiceIsTheSameMemory) {
  CUdeviceptr first = 0, second = 0;
  ASSERT_CU(d.cuMemAddressReserve(&first, kChunk, 0, 0, 0));
  ASSERT_CU(d.cuMemAddressReserve(&second, kChunk, 0, 0, 0));
  CUmemGenericAllocationHandle handle = create(kChunk);
  ASSERT_CU(d.cuMemMap(first, kChunk, 0, handle, 0));
  ASSERT_CU(d.cuMemMap(second, kChunk, 0, handle, 0));
  ASSERT_CU(grant(first, kChunk));
  ASSERT_CU(grant(second, kChunk, CU_MEM_ACCESS_FLAGS_PROT_READ));
  ASSERT_CU(d.cuMemsetD8_v2(first + 100, 0x5a, 1));
  unsigned char seen = 0;
  ASSERT_CU(d.cuMemcpyDtoH_v2(&seen, first + 100, 1));
  EXPECT_EQ(seen, 0x5a);
  EXPECT_EQ(d.cuMemsetD8_v2(second, 0, 1), CUDA_ERROR_INVALID_VALUE) << "read-only access is not read-write";
  unsigned long long flags = 0;
  CUmemLocation device0{CU_MEM_LOCATION_TYPE_DEVICE, 0};
  ASSERT_CU(d.cuMemGetAccess(&flags, &device0, second));
  EXPECT_EQ(flags, CU_MEM_ACCESS_FLAGS_PROT_READ);
  // The handle back from an address, with a reference of its own, and its properties.
  CUmemGenericAllocationHandle retained = 0;
  ASSERT_CU(d.cuMemRetainAllocationHandle(&retained, reinterpret_cast<void*>(second + 8)));
  EXPECT_EQ(retained, handle);
  CUmemAllocationProp prop{};
  ASSERT_CU(d.cuMemGetAllocationPropertiesFromHandle(&prop, handle));
  EXPECT_EQ(prop.location.id, 0);
  ASSERT_CU(d.cuMemRelease(retained));
  ASSERT_CU(d.cuMemUnmap(first, kChunk));
  ASSERT_CU(d.cuMemUnmap(second, kChunk));
  ASSERT_CU(d.cuMemRelease(handle));
  EXPECT_EQ(d.cuMemRelease(handle), CUDA_ERROR_INVALID_VALUE) << "released twice";
  ASSERT_CU(d.cuMemAddressFree(first, kChunk));
  ASSERT_CU(d.cuMemAddressFree(second, kChunk));
}

TEST_F(SimVirtualMemory, AShareableAllocationExportsADescriptorThatImportsAsTheSameMemory) {
  CUmemAllocationProp prop = pinnedOnDevice0();
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  std::size_t before = freeMemory();
  CUmemGenericAllocationHandle made = 0, imported = 0, plain = create(kChunk);
  ASSERT_CU(d.cuMemCreate(&made, kChunk, &prop, 0));
  CUmemAllocationProp asked{};
  ASSERT_CU(d.cuMemGetAllocationPropertiesFromHandle(&asked, made));
  EXPECT_EQ(asked.requestedHandleTypes, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  int fd = -1;
  ASSERT_CU(d.cuMemExportToShareableHandle(&fd, made, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0));
  ASSERT_GE(fd, 0);
  ASSERT_CU(d.cuMemImportFromShareableHandle(&imported, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)),
                                            CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR));
  close(fd);  // the import holds the memory itself
  EXPECT_EQ(freeMemory(), before - 2 * kChunk) << "imported memory is not charged again";
  CUdeviceptr mine = 0, theirs = 0;
  ASSERT_CU(d.cuMemAddressReserve(&mine, kChunk, 0, 0, 0));
  ASSERT_CU(d.cuMemAddressReserve(&theirs, kChunk, 0, 0, 0));
  ASSERT_CU(d.cuMemMap(mine, kChunk, 0, made, 0));
  ASSERT_CU(d.cuMemMap(theirs, kChunk, 0, imported, 0));
  ASSERT_CU(grant(mine, kChunk));
  ASSERT_CU(grant(theirs, kChunk));
  ASSERT_CU(d.cuMemsetD32_v2(mine + 4096, 0x1234, 1));
  unsigned seen = 0;
  ASSERT_CU(d.cuMemcpyDtoH_v2(&seen, theirs + 4096, sizeof(seen)));
  EXPECT_EQ(seen, 0x1234u) << "the imported allocation is the same memory";
  // Refused: exporting what was not made shareable, other handle types, descriptors that are not
  // cudasim's allocations.
  int other = -1;
  EXPECT_EQ(d.cuMemExportToShareableHandle(&other, plain, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
            CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d.cuMemExportToShareableHandle(&other, made, CU_MEM_HANDLE_TYPE_FABRIC, 0), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(d.cuMemExportToShareableHandle(&other, made, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 1),
            CUDA_ERROR_INVALID_VALUE);
  CUmemGenericAllocationHandle bogus = 0;
  int devNull = open("/dev/null", O_RDONLY);
  EXPECT_EQ(d.cuMemImportFromShareableHandle(&bogus, reinterpret_cast<void*>(static_cast<std::intptr_t>(devNull)),
                                             CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR),
            CUDA_ERROR_INVALID_VALUE);
  close(devNull);
  EXPECT_EQ(d.cuMemImportFromShareableHandle(&bogus, reinterpret_cast<void*>(static_cast<std::intptr_t>(-1)),
                                             CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR),
            CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(d.cuMemUnmap(mine, kChunk));
  ASSERT_CU(d.cuMemUnmap(theirs, kChunk));
  for (CUmemGenericAllocationHandle h : {made, imported, plain}) ASSERT_CU(d.cuMemRelease(h));
  EXPECT_EQ(freeMemory(), before) << "every chunk given back";
  ASSERT_CU(d.cuMemAddressFree(mine, kChunk));
  ASSERT_CU(d.cuMemAddressFree(theirs, kChunk));
}

TEST_F(SimVirtualMemory, EveryMisuseIsRefusedAndChangesNothing) {
  CUmemAllocationProp prop = pinnedOnDevice0();
  CUmemGenericAllocationHandle handle = 0;
  EXPECT_EQ(d.cuMemCreate(&handle, kChunk + 4096, &prop, 0), CUDA_ERROR_INVALID_VALUE) << "not granular";
  EXPECT_EQ(d.cuMemCreate(&handle, 2 * kSimMemoryBytes, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY) << "over capacity";
  CUmemAllocationProp shareable = prop;
  shareable.requestedHandleTypes = CU_MEM_HANDLE_TYPE_FABRIC;
  EXPECT_EQ(d.cuMemCreate(&handle, kChunk, &shareable, 0), CUDA_ERROR_NOT_SUPPORTED) << "fabric handles";
  CUmemAllocationProp elsewhere = prop;
  elsewhere.location.id = 7;
  EXPECT_EQ(d.cuMemCreate(&handle, kChunk, &elsewhere, 0), CUDA_ERROR_INVALID_DEVICE);
  CUdeviceptr range = 0;
  EXPECT_EQ(d.cuMemAddressReserve(&range, 4096, 0, 0, 0), CUDA_ERROR_INVALID_VALUE) << "not granular";
  EXPECT_EQ(d.cuMemAddressReserve(&range, kChunk, 3 * kChunk, 0, 0), CUDA_ERROR_INVALID_VALUE) << "alignment";
  ASSERT_CU(d.cuMemAddressReserve(&range, 4 * kChunk, 0, 0, 0));
  handle = create(2 * kChunk);
  EXPECT_EQ(d.cuMemMap(range + 3 * kChunk, 2 * kChunk, 0, handle, 0), CUDA_ERROR_INVALID_VALUE)
      << "past the reservation";
  EXPECT_EQ(d.cuMemMap(range, 2 * kChunk, kChunk, handle, 0), CUDA_ERROR_INVALID_VALUE) << "past the allocation";
  EXPECT_EQ(d.cuMemMap(range, kChunk, 0, 0x1234, 0), CUDA_ERROR_INVALID_VALUE) << "a forged handle";
  ASSERT_CU(d.cuMemMap(range, 2 * kChunk, 0, handle, 0));
  EXPECT_EQ(d.cuMemMap(range + kChunk, kChunk, 0, handle, 0), CUDA_ERROR_INVALID_VALUE) << "overlap";
  EXPECT_EQ(d.cuMemsetD8_v2(range, 0, 1), CUDA_ERROR_INVALID_VALUE) << "mapped without access";
  EXPECT_EQ(grant(range, 3 * kChunk), CUDA_ERROR_INVALID_VALUE) << "access past the mappings";
  EXPECT_EQ(d.cuMemUnmap(range, kChunk), CUDA_ERROR_INVALID_VALUE) << "half a mapping";
  EXPECT_EQ(d.cuMemAddressFree(range, 4 * kChunk), CUDA_ERROR_INVALID_VALUE) << "still mapped";
  EXPECT_EQ(d.cuMemAddressFree(range, 2 * kChunk), CUDA_ERROR_INVALID_VALUE) << "not the whole reservation";
  ASSERT_CU(d.cuMemUnmap(range, 2 * kChunk));
  ASSERT_CU(d.cuMemRelease(handle));
  EXPECT_EQ(d.cuMemMap(range, kChunk, 0, handle, 0), CUDA_ERROR_INVALID_VALUE) << "a released handle";
  ASSERT_CU(d.cuMemAddressFree(range, 4 * kChunk));
  EXPECT_EQ(d.cuMemAddressFree(range, 4 * kChunk), CUDA_ERROR_INVALID_VALUE) << "freed twice";
}

}  // namespace
}  // namespace fastgpu::testing
