// Peer access between two devices (a client whose devices are two GPUs of one server): what the
// driver says about the pair, enabling and disabling access with its errors, and a peer copy. A
// run through FastGPU must print the same. Needs two devices (FASTGPU_SIM_DEVICES=2).
#include <cuda.h>

#include <cstdio>
#include <vector>

#include "call_report.h"

using fastgpu::e2e::failures;
using fastgpu::e2e::report;

int main() {
  CUcontext first, second;
  int count = 0;
  if (cuInit(0) != CUDA_SUCCESS || cuDeviceGetCount(&count) != CUDA_SUCCESS || count < 2 ||
      cuDevicePrimaryCtxRetain(&first, 0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&second, 1) != CUDA_SUCCESS) {
    std::printf("peer_access: needs two devices\n");
    return 1;
  }
  int value = -1;
  report("cuDeviceCanAccessPeer(0, 1)", cuDeviceCanAccessPeer(&value, 0, 1));
  std::printf("device 0 can access device 1: %d\n", value);
  report("cuDeviceCanAccessPeer(0, 0)", cuDeviceCanAccessPeer(&value, 0, 0));
  std::printf("device 0 can access itself as a peer: %d\n", value);
  const CUdevice_P2PAttribute attributes[] = {CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK,
                                              CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED,
                                              CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED,
                                              CU_DEVICE_P2P_ATTRIBUTE_CUDA_ARRAY_ACCESS_SUPPORTED};
  for (CUdevice_P2PAttribute attribute : attributes) {
    report("cuDeviceGetP2PAttribute(0, 1)", cuDeviceGetP2PAttribute(&value, attribute, 0, 1));
    std::printf("  attribute %d: %d\n", static_cast<int>(attribute), value);
  }
  report("cuDeviceGetP2PAttribute(0, 0)",
         cuDeviceGetP2PAttribute(&value, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 0, 0), CUDA_ERROR_INVALID_DEVICE);

  report("cuCtxSetCurrent(device 0)", cuCtxSetCurrent(first));
  report("cuCtxEnablePeerAccess(device 1)", cuCtxEnablePeerAccess(second, 0));
  report("cuCtxEnablePeerAccess(device 1, again)", cuCtxEnablePeerAccess(second, 0),
         CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED);
  report("cuCtxEnablePeerAccess(its own device)", cuCtxEnablePeerAccess(first, 0), CUDA_ERROR_INVALID_DEVICE);
  report("cuCtxEnablePeerAccess(flags 1)", cuCtxEnablePeerAccess(second, 1), CUDA_ERROR_INVALID_VALUE);

  CUdeviceptr source = 0, destination = 0;
  std::vector<int> words = {1, 2, 3, 4};
  report("cuMemAlloc(device 0)", cuMemAlloc(&source, sizeof(int) * words.size()));
  report("cuMemcpyHtoD", cuMemcpyHtoD(source, words.data(), sizeof(int) * words.size()));
  report("cuCtxSetCurrent(device 1)", cuCtxSetCurrent(second));
  report("cuMemAlloc(device 1)", cuMemAlloc(&destination, sizeof(int) * words.size()));
  report("cuMemcpyPeer", cuMemcpyPeer(destination, second, source, first, sizeof(int) * words.size()));
  std::vector<int> back(words.size(), 0);
  report("cuMemcpyDtoH(device 1)", cuMemcpyDtoH(back.data(), destination, sizeof(int) * back.size()));
  std::printf("copied to device 1: %d %d %d %d\n", back[0], back[1], back[2], back[3]);

  report("cuCtxSetCurrent(device 0)", cuCtxSetCurrent(first));
  report("cuCtxDisablePeerAccess(device 1)", cuCtxDisablePeerAccess(second));
  report("cuCtxDisablePeerAccess(device 1, again)", cuCtxDisablePeerAccess(second), CUDA_ERROR_PEER_ACCESS_NOT_ENABLED);
  report("cuMemFree(device 0)", cuMemFree(source));
  report("cuMemFree(device 1)", cuMemFree(destination));
  if (failures == 0) std::printf("peer_access: done\n");
  return failures == 0 ? 0 : 1;
}
