// FastGPU's session table in the client (cudaabi/session_table.h): a device as the session's vGPU
// shows it, asked of the server. FastGPU's NVML library reads it.
#include "interposer/remote.h"

namespace fastgpu::interposer {

CUresult Runtime::vgpuStatus(int device, cudaabi::VgpuStatus& status) {
  Client* connection = client();
  if (connection == nullptr) return initError();
  if (device < 0 || device >= deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
  CallMessage call(currentContextId());
  call->setVgpuStatus(static_cast<std::uint32_t>(device));
  auto reply = ask(*connection, call);
  if (!reply) return resultOf(*connection, reply, false);
  auto values = valuesOf(**reply);
  if (values.size() < 5 || (values.size() - 5) % 2 != 0) return CUDA_ERROR_UNKNOWN;
  status.usedBytes = static_cast<std::uint64_t>(values[0]);
  status.totalBytes = static_cast<std::uint64_t>(values[1]);
  status.metered = values[2] != 0;
  status.gpuNanos = static_cast<std::uint64_t>(values[3]);
  status.atNanos = static_cast<std::uint64_t>(values[4]);
  for (std::size_t i = 5; i + 1 < values.size() && status.processCount < cudaabi::VgpuStatus::kMaxProcesses; i += 2) {
    status.processes[status.processCount++] = {static_cast<std::uint32_t>(values[i]),
                                               static_cast<std::uint64_t>(values[i + 1])};
  }
  return CUDA_SUCCESS;
}

}  // namespace fastgpu::interposer
