// 2-D and 3-D copies of host memory inside graphs, as image code captures them: cuMemcpy2DAsync
// and cuMemcpy3DAsync on a capturing stream with the host side strided (rows and slices apart),
// and the same as memcpy nodes added by hand; and a unified cuMemcpyAsync (host pointers found
// by unified addressing) captured both ways. Each replay reads the host memory as it is then and
// writes the device's bytes into the strided host memory after it, leaving the gaps alone; a run
// through FastGPU must print the same.
#include <cuda.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "call_report.h"
#include "volume_support.h"

using fastgpu::e2e::checksum;
using fastgpu::e2e::failures;
using fastgpu::e2e::openContextAndStream;
using fastgpu::e2e::report;

namespace {

void fill(std::vector<std::uint8_t>& bytes, unsigned seed) {
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>((i * 37 + seed * 11 + i / 97) & 0xff);
}

// Shapes: rows of 24 bytes; the host keeps them 40 bytes apart in slices of 7 rows (6 used), the
// device 32 bytes apart in slices of 6 rows; 3 slices.
constexpr std::size_t kWidth = 24, kHeight = 6, kDepth = 3;
constexpr std::size_t kHostPitch = 40, kHostRows = 7, kDevicePitch = 32;
constexpr std::size_t kHostBytes = kHostPitch * kHostRows * kDepth;
constexpr std::size_t kDeviceBytes = kDevicePitch * kHeight * kDepth;

// A copy between `host` (strided) and `device` (pitched) of `depth` slices, either way.
CUDA_MEMCPY3D between(std::uint8_t* host, CUdeviceptr device, std::size_t depth, bool toHost) {
  CUDA_MEMCPY3D p{};
  CUmemorytype& hostType = toHost ? p.dstMemoryType : p.srcMemoryType;
  CUmemorytype& deviceType = toHost ? p.srcMemoryType : p.dstMemoryType;
  hostType = CU_MEMORYTYPE_HOST;
  deviceType = CU_MEMORYTYPE_DEVICE;
  if (toHost) {
    p.dstHost = host;
    p.srcDevice = device;
  } else {
    p.srcHost = host;
    p.dstDevice = device;
  }
  (toHost ? p.dstPitch : p.srcPitch) = kHostPitch;
  (toHost ? p.dstHeight : p.srcHeight) = kHostRows;
  (toHost ? p.srcPitch : p.dstPitch) = kDevicePitch;
  (toHost ? p.srcHeight : p.dstHeight) = kHeight;
  p.WidthInBytes = kWidth;
  p.Height = kHeight;
  p.Depth = depth;
  return p;
}

// One plane of the device's volume into strided host memory, as a 2-D copy.
CUDA_MEMCPY2D planeToHost(CUdeviceptr device, std::uint8_t* host) {
  CUDA_MEMCPY2D q{};
  q.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  q.srcDevice = device;
  q.srcPitch = kDevicePitch;
  q.dstMemoryType = CU_MEMORYTYPE_HOST;
  q.dstHost = host;
  q.dstPitch = kHostPitch;
  q.WidthInBytes = kWidth;
  q.Height = kHeight;
  return q;
}

// Replays `exec` twice, the input changed in between; prints what the outputs hold each time.
void replayTwice(const char* what, CUgraphExec exec, CUstream stream, std::vector<std::uint8_t>& in,
                 const std::vector<std::uint8_t>& planeOut, const std::vector<std::uint8_t>& volumeOut,
                 const std::vector<std::uint8_t>& flatOut) {
  for (unsigned round = 0; round < 2; ++round) {
    fill(in, 10 + round);
    report("cuGraphLaunch", cuGraphLaunch(exec, stream));
    report("cuStreamSynchronize", cuStreamSynchronize(stream));
    std::printf("%s, replay %u: plane %016llx volume %016llx flat %016llx\n", what, round,
                static_cast<unsigned long long>(checksum(planeOut)),
                static_cast<unsigned long long>(checksum(volumeOut)),
                static_cast<unsigned long long>(checksum(flatOut)));
  }
}

}  // namespace

int main() {
  CUcontext context;
  CUstream stream;
  if (!openContextAndStream("graph_strided_copies", context, stream)) return 1;
  CUdeviceptr volume = 0;
  report("cuMemAlloc", cuMemAlloc(&volume, kDeviceBytes));
  report("cuMemsetD8", cuMemsetD8(volume, 0x5a, kDeviceBytes));
  std::vector<std::uint8_t> in(kHostBytes), planeOut(kHostBytes, 0xcc), volumeOut(kHostBytes, 0xdd), flatOut(96, 0xee);
  CUdeviceptr flat = 0;
  report("cuMemAlloc(flat)", cuMemAlloc(&flat, flatOut.size()));

  // Captured: the whole volume in, then one plane out (2-D) and the volume out (3-D).
  report("cuStreamBeginCapture", cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUDA_MEMCPY3D load = between(in.data(), volume, kDepth, false);
  report("cuMemcpy3DAsync(host to device, captured)", cuMemcpy3DAsync(&load, stream));
  CUDA_MEMCPY2D plane = planeToHost(volume + kDevicePitch * kHeight, planeOut.data());
  report("cuMemcpy2DAsync(device to host, captured)", cuMemcpy2DAsync(&plane, stream));
  CUDA_MEMCPY3D store = between(volumeOut.data(), volume, kDepth, true);
  report("cuMemcpy3DAsync(device to host, captured)", cuMemcpy3DAsync(&store, stream));
  auto address = [](const void* host) { return static_cast<CUdeviceptr>(reinterpret_cast<std::uintptr_t>(host)); };
  report("cuMemcpyAsync(unified, host to device, captured)", cuMemcpyAsync(flat, address(in.data() + 5), 80, stream));
  report("cuMemcpyAsync(unified, device to host, captured)",
         cuMemcpyAsync(address(flatOut.data() + 8), flat, 80, stream));
  CUgraph captured = nullptr;
  report("cuStreamEndCapture", cuStreamEndCapture(stream, &captured));
  std::printf("gaps untouched during capture: %s\n", planeOut[kWidth] == 0xcc && volumeOut[0] == 0xdd ? "yes" : "no");
  CUgraphExec exec = nullptr;
  report("cuGraphInstantiate(captured)", cuGraphInstantiate(&exec, captured, 0));
  replayTwice("captured", exec, stream, in, planeOut, volumeOut, flatOut);
  std::printf("gaps kept: %s\n", planeOut[kWidth] == 0xcc && volumeOut[kHostPitch * kHeight] == 0xdd ? "yes" : "no");

  // The same as nodes added by hand, in a chain.
  std::fill(planeOut.begin(), planeOut.end(), 0xcc);
  std::fill(volumeOut.begin(), volumeOut.end(), 0xdd);
  CUgraph built = nullptr;
  report("cuGraphCreate", cuGraphCreate(&built, 0));
  CUgraphNode nodes[3] = {};
  CUDA_MEMCPY3D copies[3] = {between(in.data(), volume, kDepth, false),
                             between(planeOut.data(), volume + kDevicePitch * kHeight, 1, true),
                             between(volumeOut.data(), volume, kDepth, true)};
  for (int i = 0; i < 3; ++i) {
    report("cuGraphAddMemcpyNode(strided host memory)",
           cuGraphAddMemcpyNode(&nodes[i], built, i == 0 ? nullptr : &nodes[i - 1], i == 0 ? 0 : 1, &copies[i], context));
  }
  CUgraphExec builtExec = nullptr;
  report("cuGraphInstantiate(built)", cuGraphInstantiate(&builtExec, built, 0));
  replayTwice("built", builtExec, stream, in, planeOut, volumeOut, flatOut);

  // What the driver reads back of a node: the program's own description.
  CUDA_MEMCPY3D readBack{};
  report("cuGraphMemcpyNodeGetParams", cuGraphMemcpyNodeGetParams(nodes[2], &readBack));
  std::printf("node reads back its host pitch %zu and rows %zu\n", readBack.dstPitch, readBack.dstHeight);

  report("cuGraphExecDestroy", cuGraphExecDestroy(exec));
  report("cuGraphExecDestroy", cuGraphExecDestroy(builtExec));
  report("cuGraphDestroy", cuGraphDestroy(captured));
  report("cuGraphDestroy", cuGraphDestroy(built));
  report("cuMemFree", cuMemFree(volume));
  report("cuMemFree", cuMemFree(flat));
  if (failures == 0) std::printf("graph_strided_copies: done\n");
  return failures == 0 ? 0 : 1;
}
