// Virtual-memory allocations shared between two processes as POSIX descriptors, as PyTorch shares
// expandable segments' chunks with torch.multiprocessing: the parent makes a shareable chunk, maps
// and fills it, exports a descriptor (cuMemExportToShareableHandle) and sends it over a Unix socket
// (SCM_RIGHTS) to a child process it starts; the child imports it
// (cuMemImportFromShareableHandle), maps it, reads the parent's bytes and writes its own, which
// the parent then sees. A run through FastGPU (both processes remote, one vGPU) must print the same.
//   shareable_memory            (the parent)
//   shareable_memory child FD   (the child, started with the socket's descriptor)
#include <cuda.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "call_report.h"
#include "two_processes.h"

using fastgpu::e2e::asHandle;
using fastgpu::e2e::failures;
using fastgpu::e2e::receiveDescriptor;
using fastgpu::e2e::sendDescriptor;
using fastgpu::e2e::setUpPrimaryContext;
using fastgpu::e2e::startChild;
using fastgpu::e2e::report;

namespace {

CUmemAllocationProp shareableOnDevice0() {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = 0;
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  return prop;
}

// Maps `handle` at a new reservation of `bytes`, read-write on device 0.
CUdeviceptr mapped(CUmemGenericAllocationHandle handle, std::size_t bytes, const char* who) {
  CUdeviceptr base = 0;
  CUmemAccessDesc access{};
  access.location = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  std::string what = std::string(who) + "cuMemAddressReserve";
  report(what.c_str(), cuMemAddressReserve(&base, bytes, 0, 0, 0));
  what = std::string(who) + "cuMemMap";
  report(what.c_str(), cuMemMap(base, bytes, 0, handle, 0));
  what = std::string(who) + "cuMemSetAccess";
  report(what.c_str(), cuMemSetAccess(base, bytes, &access, 1));
  return base;
}

int child(int socket) {
  CUcontext context;
  if (!setUpPrimaryContext(context)) return 1;
  int fd = receiveDescriptor(socket);
  std::printf("child: received a descriptor: %d\n", fd >= 0);
  CUmemGenericAllocationHandle handle = 0;
  report("child: cuMemImportFromShareableHandle", cuMemImportFromShareableHandle(&handle, asHandle(fd),
                                                                                  CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR));
  close(fd);  // the import holds the memory
  CUmemAllocationProp prop{};
  report("child: cuMemGetAllocationPropertiesFromHandle", cuMemGetAllocationPropertiesFromHandle(&prop, handle));
  std::printf("child: on device %d, shareable %d\n", prop.location.id,
              prop.requestedHandleTypes == CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
  std::size_t chunk = 2 << 20;
  CUdeviceptr base = mapped(handle, chunk, "child: ");
  unsigned words[3] = {};
  report("child: cuMemcpyDtoH", cuMemcpyDtoH(words, base + 4096, sizeof(words)));
  std::printf("child: reads the parent's %u %u %u\n", words[0], words[1], words[2]);
  report("child: cuMemsetD32(base + 8192, 4242, 2)", cuMemsetD32(base + 8192, 4242, 2));
  report("child: cuCtxSynchronize", cuCtxSynchronize());
  report("child: cuMemUnmap", cuMemUnmap(base, chunk));
  report("child: cuMemRelease", cuMemRelease(handle));
  report("child: cuMemAddressFree", cuMemAddressFree(base, chunk));
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "child") return child(std::stoi(argv[2]));
  CUcontext context;
  if (!setUpPrimaryContext(context)) {
    std::printf("shareable_memory: setup failed\n");
    return 1;
  }
  int supported = 0;
  cuDeviceGetAttribute(&supported, CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED, 0);
  std::printf("POSIX descriptor handles supported: %d\n", supported);
  CUmemAllocationProp prop = shareableOnDevice0();
  std::size_t chunk = 0;
  report("cuMemGetAllocationGranularity", cuMemGetAllocationGranularity(&chunk, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  CUmemGenericAllocationHandle handle = 0, plain = 0, own = 0;
  report("cuMemCreate(shareable)", cuMemCreate(&handle, chunk, &prop, 0));
  CUdeviceptr base = mapped(handle, chunk, "");
  unsigned words[3] = {11, 22, 33};
  report("cuMemcpyHtoD", cuMemcpyHtoD(base + 4096, words, sizeof(words)));
  int fd = -1;
  report("cuMemExportToShareableHandle", cuMemExportToShareableHandle(&fd, handle, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0));
  std::printf("a descriptor came back: %d\n", fd >= 0);

  // Refusals: memory not made shareable, other handle types, descriptors of anything else.
  CUmemAllocationProp unshared = prop;
  unshared.requestedHandleTypes = CU_MEM_HANDLE_TYPE_NONE;
  report("cuMemCreate(not shareable)", cuMemCreate(&plain, chunk, &unshared, 0));
  int other = -1;
  report("cuMemExportToShareableHandle(not shareable)",
         cuMemExportToShareableHandle(&other, plain, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0), CUDA_ERROR_INVALID_VALUE);
  report("cuMemExportToShareableHandle(flags)",
         cuMemExportToShareableHandle(&other, handle, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 1), CUDA_ERROR_INVALID_VALUE);
  int devNull = open("/dev/null", O_RDONLY);
  CUmemGenericAllocationHandle bogus = 0;
  report("cuMemImportFromShareableHandle(/dev/null)",
         cuMemImportFromShareableHandle(&bogus, asHandle(devNull), CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR),
         CUDA_ERROR_INVALID_VALUE);
  close(devNull);
  report("cuMemRelease(not shareable)", cuMemRelease(plain));
  // Imported in its own process: the same memory.
  report("cuMemImportFromShareableHandle(its own)",
         cuMemImportFromShareableHandle(&own, asHandle(fd), CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR));
  CUdeviceptr again = mapped(own, chunk, "");
  unsigned seen = 0;
  report("cuMemcpyDtoH(through its own import)", cuMemcpyDtoH(&seen, again + 4096 + 4, sizeof(seen)));
  std::printf("its own import reads %u\n", seen);

  int channel = -1;
  pid_t pid = startChild(argv[0], &channel);
  if (pid < 0) return 1;
  std::printf("sent the descriptor: %d\n", sendDescriptor(channel, fd));
  close(fd);  // the child holds its own
  int status = 0;
  waitpid(pid, &status, 0);
  close(channel);
  std::printf("the child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  unsigned written[2] = {};
  report("cuMemcpyDtoH", cuMemcpyDtoH(written, base + 8192, sizeof(written)));
  std::printf("the parent sees the child's %u %u\n", written[0], written[1]);
  for (CUdeviceptr at : {base, again}) {
    report("cuMemUnmap", cuMemUnmap(at, chunk));
    report("cuMemAddressFree", cuMemAddressFree(at, chunk));
  }
  report("cuMemRelease", cuMemRelease(handle));
  report("cuMemRelease(its own import)", cuMemRelease(own));
  if (failures == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) std::printf("shareable_memory: done\n");
  return failures == 0 ? 0 : 1;
}
