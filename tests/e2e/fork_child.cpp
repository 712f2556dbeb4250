// A forked child uses CUDA on its own connection: the parent initializes and allocates, forks,
// the child initializes again and allocates (the parent's objects are not the child's, as with
// CUDA), and both check their own memory.
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
  if (cuInit(0) != CUDA_SUCCESS || !roundTrip(1)) {
    std::printf("parent: CUDA failed before fork\n");
    return 1;
  }
  std::fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    bool ok = cuInit(0) == CUDA_SUCCESS && roundTrip(2);
    std::printf("child: %s\n", ok ? "own connection works" : "FAILED");
    return ok ? 0 : 1;
  }
  int status = 0;
  waitpid(child, &status, 0);
  bool parentOk = roundTrip(3);
  std::printf("parent after fork: %s\n", parentOk ? "still works" : "FAILED");
  bool childOk = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::printf("fork_child: %s\n", parentOk && childOk ? "both correct" : "WRONG");
  return parentOk && childOk ? 0 : 1;
}
