// A forked child uses CUDA on its own connection: the parent initializes, allocates and forks;
// the child makes CUDA calls without cuInit (its first call must open a session of its own),
// cannot reach the parent's memory (as with CUDA, the parent's objects are not the child's),
// and both check their own memory.
#include <cuda.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

static bool roundTrip(unsigned char value) {
  CUcontext context;
  CUdeviceptr memory;
  unsigned char back = 0;
  return cuDevicePrimaryCtxRetain(&context, 0) == CUDA_SUCCESS && cuCtxSetCurrent(context) == CUDA_SUCCESS &&
         cuMemAlloc(&memory, 64) == CUDA_SUCCESS && cuMemsetD8(memory, value, 64) == CUDA_SUCCESS &&
         cuMemcpyDtoH(&back, memory + 63, 1) == CUDA_SUCCESS && back == value && cuMemFree(memory) == CUDA_SUCCESS;
}

int main() {
  CUdeviceptr parentMemory = 0;
  if (cuInit(0) != CUDA_SUCCESS || !roundTrip(1) || cuMemAlloc(&parentMemory, 64) != CUDA_SUCCESS ||
      cuMemsetD8(parentMemory, 7, 64) != CUDA_SUCCESS) {
    std::printf("parent: CUDA failed before fork\n");
    return 1;
  }
  std::fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    bool own = roundTrip(2);
    unsigned char back = 0;
    bool parentsUnreachable = cuMemcpyDtoH(&back, parentMemory, 1) != CUDA_SUCCESS;
    std::printf("child: %s, %s\n", own ? "own connection works" : "FAILED",
                parentsUnreachable ? "the parent's memory is not reachable" : "REACHED THE PARENT'S MEMORY");
    return own && parentsUnreachable ? 0 : 1;
  }
  int status = 0;
  waitpid(child, &status, 0);
  unsigned char back = 0;
  bool parentOk = roundTrip(3) && cuMemcpyDtoH(&back, parentMemory, 1) == CUDA_SUCCESS && back == 7;
  std::printf("parent after fork: %s\n", parentOk ? "still works" : "FAILED");
  bool childOk = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::printf("fork_child: %s\n", parentOk && childOk ? "both correct" : "WRONG");
  return parentOk && childOk ? 0 : 1;
}
