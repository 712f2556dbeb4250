// A stream-ordered memory pool shared between two processes, as the streamOrderedAllocationIPC
// sample and torch.multiprocessing's cudaMallocAsync backend share them: the parent makes a pool
// shareable as POSIX descriptors, allocates from it and fills the memory, exports the pool
// (cuMemPoolExportToShareableHandle) and the allocation (cuMemPoolExportPointer) and sends both to
// a child process it starts; the child imports the pool and, through it, the allocation, reads
// the parent's bytes, writes its own, and frees its import. A run through FastGPU (both processes
// remote, one vGPU) must print the same.
//   pool_ipc            (the parent)
//   pool_ipc child FD   (the child, started with the socket's descriptor)
#include <cuda.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "call_report.h"
#include "two_processes.h"

using fastgpu::e2e::asHandle;
using fastgpu::e2e::failures;
using fastgpu::e2e::receiveDescriptor;
using fastgpu::e2e::report;
using fastgpu::e2e::sendDescriptor;
using fastgpu::e2e::setUpPrimaryContext;
using fastgpu::e2e::startChild;

namespace {

constexpr std::size_t kBytes = 1 << 20;

CUmemPoolProps poolOnDevice0(CUmemAllocationHandleType types) {
  CUmemPoolProps props{};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  props.location.id = 0;
  props.handleTypes = types;
  return props;
}

int child(int socket) {
  CUcontext context;
  if (!setUpPrimaryContext(context)) return 1;
  int fd = receiveDescriptor(socket);
  CUmemPoolPtrExportData data{};
  bool received = read(socket, data.reserved, sizeof(data.reserved)) == static_cast<ssize_t>(sizeof(data.reserved));
  std::printf("child: received the pool's descriptor and the allocation's export: %d %d\n", fd >= 0, received);
  CUmemoryPool imported = nullptr, own = nullptr;
  report("child: cuMemPoolImportFromShareableHandle",
         cuMemPoolImportFromShareableHandle(&imported, asHandle(fd), CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0));
  close(fd);  // the import holds the pool
  CUstream stream = nullptr;
  report("child: cuStreamCreate", cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CUdeviceptr pointer = 0;
  report("child: cuMemAllocFromPoolAsync(imported pool)", cuMemAllocFromPoolAsync(&pointer, 4096, imported, stream),
         CUDA_ERROR_INVALID_VALUE);
  CUmemPoolProps props = poolOnDevice0(CU_MEM_HANDLE_TYPE_NONE);
  report("child: cuMemPoolCreate", cuMemPoolCreate(&own, &props));
  report("child: cuMemPoolImportPointer(through its own pool)", cuMemPoolImportPointer(&pointer, own, &data),
         CUDA_ERROR_INVALID_VALUE);
  CUmemPoolPtrExportData forged = data;
  forged.reserved[0] ^= 0xff;
  report("child: cuMemPoolImportPointer(forged)", cuMemPoolImportPointer(&pointer, imported, &forged),
         CUDA_ERROR_INVALID_VALUE);
  report("child: cuMemPoolImportPointer", cuMemPoolImportPointer(&pointer, imported, &data));
  unsigned words[3] = {};
  report("child: cuMemcpyDtoH", cuMemcpyDtoH(words, pointer + 64, sizeof(words)));
  std::printf("child: reads the parent's %u %u %u\n", words[0], words[1], words[2]);
  report("child: cuMemsetD32Async(pointer + 4096, 4242, 2)", cuMemsetD32Async(pointer + 4096, 4242, 2, stream));
  report("child: cuMemFreeAsync(its import)", cuMemFreeAsync(pointer, stream));
  report("child: cuStreamSynchronize", cuStreamSynchronize(stream));
  report("child: cuMemFree(freed already)", cuMemFree(pointer), CUDA_ERROR_INVALID_VALUE);
  report("child: cuMemPoolDestroy(imported)", cuMemPoolDestroy(imported));
  report("child: cuMemPoolDestroy(own)", cuMemPoolDestroy(own));
  report("child: cuStreamDestroy", cuStreamDestroy(stream));
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}

// What may not be shared, or imported here: each refused.
void refusals(CUmemoryPool shared, int fd, CUstream stream) {
  CUmemPoolProps props = poolOnDevice0(CU_MEM_HANDLE_TYPE_NONE);
  CUmemoryPool plain = nullptr, again = nullptr;
  report("cuMemPoolCreate(not shareable)", cuMemPoolCreate(&plain, &props));
  int other = -1;
  report("cuMemPoolExportToShareableHandle(not shareable)",
         cuMemPoolExportToShareableHandle(&other, plain, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
         CUDA_ERROR_INVALID_VALUE);
  report("cuMemPoolExportToShareableHandle(flags)",
         cuMemPoolExportToShareableHandle(&other, shared, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 1),
         CUDA_ERROR_INVALID_VALUE);
  CUdeviceptr fromPlain = 0, allocated = 0;
  report("cuMemAllocFromPoolAsync(not shareable)", cuMemAllocFromPoolAsync(&fromPlain, 4096, plain, stream));
  report("cuMemAlloc", cuMemAlloc(&allocated, 4096));
  CUmemPoolPtrExportData data{};
  report("cuMemPoolExportPointer(pool not shareable)", cuMemPoolExportPointer(&data, fromPlain), CUDA_ERROR_INVALID_VALUE);
  report("cuMemPoolExportPointer(not a pool's)", cuMemPoolExportPointer(&data, allocated), CUDA_ERROR_INVALID_VALUE);
  int devNull = open("/dev/null", O_RDONLY);
  report("cuMemPoolImportFromShareableHandle(/dev/null)",
         cuMemPoolImportFromShareableHandle(&again, asHandle(devNull), CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
         CUDA_ERROR_INVALID_VALUE);
  close(devNull);
  report("cuMemPoolImportFromShareableHandle(its own)",
         cuMemPoolImportFromShareableHandle(&again, asHandle(fd), CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0),
         CUDA_ERROR_INVALID_VALUE);
  report("cuMemFreeAsync(not shareable)", cuMemFreeAsync(fromPlain, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  report("cuMemFree", cuMemFree(allocated));
  report("cuMemPoolDestroy(not shareable)", cuMemPoolDestroy(plain));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "child") return child(std::stoi(argv[2]));
  CUcontext context;
  if (!setUpPrimaryContext(context)) {
    std::printf("pool_ipc: setup failed\n");
    return 1;
  }
  int types = 0;
  cuDeviceGetAttribute(&types, CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES, 0);
  std::printf("pools shareable as POSIX descriptors: %d\n", (types & CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) != 0);
  CUmemPoolProps props = poolOnDevice0(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  CUmemoryPool pool = nullptr;
  report("cuMemPoolCreate(shareable)", cuMemPoolCreate(&pool, &props));
  CUstream stream = nullptr;
  report("cuStreamCreate", cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  CUdeviceptr base = 0;
  report("cuMemAllocFromPoolAsync", cuMemAllocFromPoolAsync(&base, kBytes, pool, stream));
  report("cuMemsetD32Async(7)", cuMemsetD32Async(base, 7, kBytes / 4, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  int fd = -1;
  report("cuMemPoolExportToShareableHandle",
         cuMemPoolExportToShareableHandle(&fd, pool, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0));
  CUmemPoolPtrExportData data{};
  report("cuMemPoolExportPointer", cuMemPoolExportPointer(&data, base));
  refusals(pool, fd, stream);

  int channel = -1;
  pid_t pid = startChild(argv[0], &channel);
  if (pid < 0) return 1;
  bool sent = sendDescriptor(channel, fd) &&
              write(channel, data.reserved, sizeof(data.reserved)) == static_cast<ssize_t>(sizeof(data.reserved));
  std::printf("sent the pool's descriptor and the allocation's export: %d\n", sent);
  close(fd);  // the child holds its own
  int status = 0;
  waitpid(pid, &status, 0);
  close(channel);
  std::printf("the child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  unsigned written[3] = {};
  report("cuMemcpyDtoH", cuMemcpyDtoH(written, base + 4096, sizeof(written)));
  std::printf("the parent sees the child's %u %u, and its own %u after them\n", written[0], written[1], written[2]);
  report("cuMemFreeAsync", cuMemFreeAsync(base, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  report("cuMemPoolDestroy", cuMemPoolDestroy(pool));
  report("cuStreamDestroy", cuStreamDestroy(stream));
  if (failures == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) std::printf("pool_ipc: done\n");
  return failures == 0 ? 0 : 1;
}
