// Device memory shared between two processes (torch.multiprocessing's CUDA tensors): the parent
// allocates and fills a buffer and exports it (cuIpcGetMemHandle), a child process it starts opens
// the handle, reads the buffer and writes into it, and the parent sees the child's writes. The
// mistakes: opening a handle in its own process, freeing opened memory with cuMemFree, a forged
// handle. An interprocess event orders their work, as PyTorch's shared CUDA tensors carry one: the
// parent records it after its write, the child's stream waits for it, the child records it after
// its own write and the parent synchronizes with it. A run through FastGPU (both processes remote)
// must print the same.
//   ipc                       (the parent)
//   ipc child MEMORY EVENT    (the child, started by the parent with the handles in hex)
#include <cuda.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "call_report.h"

using fastgpu::e2e::failures;
using fastgpu::e2e::report;

namespace {

constexpr std::size_t kWords = 1024;

template <typename Handle>
std::string toHex(const Handle& handle) {
  std::string hex;
  char digits[3];
  for (char byte : handle.reserved) {
    std::snprintf(digits, sizeof(digits), "%02x", static_cast<unsigned char>(byte));
    hex += digits;
  }
  return hex;
}

template <typename Handle>
Handle fromHex(const std::string& hex) {
  Handle handle{};
  for (std::size_t i = 0; i < sizeof(handle.reserved) && 2 * i + 1 < hex.size(); ++i) {
    handle.reserved[i] = static_cast<char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return handle;
}

bool setUp(CUcontext& context) {
  return cuInit(0) == CUDA_SUCCESS && cuDevicePrimaryCtxRetain(&context, 0) == CUDA_SUCCESS &&
         cuCtxSetCurrent(context) == CUDA_SUCCESS;
}

// The child's side of the event: wait for the parent's record, write, record.
void childEvent(const std::string& hex, CUdeviceptr shared) {
  CUevent event = nullptr;
  CUstream stream = nullptr;
  report("child: cuStreamCreate", cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  report("child: cuIpcOpenEventHandle", cuIpcOpenEventHandle(&event, fromHex<CUipcEventHandle>(hex)));
  report("child: cuStreamWaitEvent(the parent's record)", cuStreamWaitEvent(stream, event, 0));
  unsigned word = 0;
  report("child: cuMemcpyDtoHAsync", cuMemcpyDtoHAsync(&word, shared + 16, sizeof(word), stream));
  report("child: cuStreamSynchronize", cuStreamSynchronize(stream));
  std::printf("child: after the parent's record reads %u\n", word);
  report("child: cuEventQuery", cuEventQuery(event));
  report("child: cuMemsetD32Async(shared + 20, 99, 1)", cuMemsetD32Async(shared + 20, 99, 1, stream));
  report("child: cuEventRecord", cuEventRecord(event, stream));
  report("child: cuEventSynchronize", cuEventSynchronize(event));
  float ms = 0;
  report("child: cuEventElapsedTime (interprocess)", cuEventElapsedTime(&ms, event, event), CUDA_ERROR_INVALID_HANDLE);
  report("child: cuEventDestroy", cuEventDestroy(event));
  report("child: cuStreamDestroy", cuStreamDestroy(stream));
  CUipcEventHandle forged{};
  std::memset(forged.reserved, 0x5a, sizeof(forged.reserved));
  CUresult refused = cuIpcOpenEventHandle(&event, forged);
  std::printf("child: a forged event handle is refused: %d\n", refused != CUDA_SUCCESS);
}

int child(const std::string& hex, const std::string& eventHex) {
  CUcontext context;
  if (!setUp(context)) return 1;
  CUdeviceptr shared = 0;
  report("child: cuIpcOpenMemHandle", cuIpcOpenMemHandle(&shared, fromHex<CUipcMemHandle>(hex), CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
  CUdeviceptr again = 0;
  report("child: cuIpcOpenMemHandle (again)", cuIpcOpenMemHandle(&again, fromHex<CUipcMemHandle>(hex), 0));
  std::printf("child: opened twice at the same address: %d\n", again == shared);
  std::vector<unsigned> words(kWords);
  report("child: cuMemcpyDtoH", cuMemcpyDtoH(words.data(), shared, kWords * sizeof(unsigned)));
  std::printf("child: reads %u %u %u\n", words[0], words[1], words[kWords - 1]);
  report("child: cuMemsetD32(shared + 8, 77, 2)", cuMemsetD32(shared + 8, 77, 2));
  childEvent(eventHex, shared);
  report("child: cuMemFree (opened memory)", cuMemFree(shared), CUDA_ERROR_INVALID_VALUE);
  report("child: cuIpcCloseMemHandle", cuIpcCloseMemHandle(shared));
  report("child: cuIpcCloseMemHandle (the second opening)", cuIpcCloseMemHandle(again));
  report("child: cuIpcCloseMemHandle (closed)", cuIpcCloseMemHandle(again), CUDA_ERROR_INVALID_VALUE);
  CUipcMemHandle forged{};
  std::memset(forged.reserved, 0x5a, sizeof(forged.reserved));
  CUdeviceptr none = 0;
  CUresult refused = cuIpcOpenMemHandle(&none, forged, 0);
  std::printf("child: a forged handle is refused: %d\n", refused != CUDA_SUCCESS);
  std::fflush(stdout);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "child") return child(argv[2], argv[3]);
  CUcontext context;
  CUdeviceptr buffer = 0;
  if (!setUp(context) || cuMemAlloc(&buffer, kWords * sizeof(unsigned)) != CUDA_SUCCESS) {
    std::printf("ipc: setup failed\n");
    return 1;
  }
  std::vector<unsigned> words(kWords);
  for (std::size_t i = 0; i < kWords; ++i) words[i] = static_cast<unsigned>(i * 3);
  report("cuMemcpyHtoD", cuMemcpyHtoD(buffer, words.data(), kWords * sizeof(unsigned)));
  CUipcMemHandle handle{};
  report("cuIpcGetMemHandle", cuIpcGetMemHandle(&handle, buffer));
  CUipcMemHandle again{};
  report("cuIpcGetMemHandle (again)", cuIpcGetMemHandle(&again, buffer));
  std::printf("the same handle twice: %d\n", std::memcmp(&handle, &again, sizeof(handle)) == 0);
  report("cuIpcGetMemHandle (not an allocation's start)", cuIpcGetMemHandle(&again, buffer + 4), CUDA_ERROR_INVALID_VALUE);
  CUdeviceptr own = 0;
  report("cuIpcOpenMemHandle (in its own process)", cuIpcOpenMemHandle(&own, handle, 0), CUDA_ERROR_INVALID_CONTEXT);

  // The event: the parent's write, then its record, before the child starts.
  CUevent timed = nullptr, event = nullptr, opened = nullptr;
  CUstream stream = nullptr;
  report("cuEventCreate(interprocess, timed)", cuEventCreate(&timed, CU_EVENT_INTERPROCESS), CUDA_ERROR_INVALID_VALUE);
  report("cuEventCreate", cuEventCreate(&timed, CU_EVENT_DEFAULT));
  CUipcEventHandle eventHandle{};
  report("cuIpcGetEventHandle (not interprocess)", cuIpcGetEventHandle(&eventHandle, timed), CUDA_ERROR_INVALID_VALUE);
  report("cuEventCreate(interprocess)", cuEventCreate(&event, CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING));
  report("cuIpcGetEventHandle", cuIpcGetEventHandle(&eventHandle, event));
  report("cuIpcOpenEventHandle (in its own process)", cuIpcOpenEventHandle(&opened, eventHandle),
         CUDA_ERROR_INVALID_CONTEXT);
  report("cuStreamCreate", cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  report("cuMemsetD32Async(buffer + 16, 55, 1)", cuMemsetD32Async(buffer + 16, 55, 1, stream));
  report("cuEventRecord", cuEventRecord(event, stream));

  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    std::string hex = toHex(handle), eventHex = toHex(eventHandle);
    execl("/proc/self/exe", argv[0], "child", hex.c_str(), eventHex.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::printf("the child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  report("cuMemcpyDtoH", cuMemcpyDtoH(words.data(), buffer, kWords * sizeof(unsigned)));
  std::printf("the parent sees %u %u %u %u\n", words[1], words[2], words[3], words[4]);
  report("cuEventSynchronize (the child's record)", cuEventSynchronize(event));
  report("cuEventQuery", cuEventQuery(event));
  std::printf("the parent sees the child's write after its record: %u\n", words[5]);
  report("cuEventDestroy", cuEventDestroy(event));
  report("cuEventDestroy(timed)", cuEventDestroy(timed));
  report("cuStreamDestroy", cuStreamDestroy(stream));
  report("cuMemFree", cuMemFree(buffer));
  if (failures == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) std::printf("ipc: done\n");
  return failures == 0 ? 0 : 1;
}
