// 2-D and 3-D copies as image and volume code makes them (cudaMemcpy3D, cudaMemcpy2D of whole
// frames): pitched device memory with slices taller than the copy, offsets on every axis, host
// memory packed and strided, device to device, asynchronous on a stream, host to host, copies far
// larger than one message (16 MiB of rows, rows of 9 MiB), and the shapes the driver refuses.
// A run through FastGPU must print the same.
#include <cuda.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "call_report.h"
#include "volume_support.h"

using fastgpu::e2e::checksum;
using fastgpu::e2e::failures;
using fastgpu::e2e::openContextAndStream;
using fastgpu::e2e::report;

namespace {

std::vector<std::uint8_t> pattern(std::size_t bytes, unsigned seed) {
  std::vector<std::uint8_t> out(bytes);
  for (std::size_t i = 0; i < bytes; ++i) out[i] = static_cast<std::uint8_t>((i * 131 + seed * 7 + i / 251) & 0xff);
  return out;
}

// A 3-D copy of `width` x `height` x `depth` with the sides left to the caller.
CUDA_MEMCPY3D volume(std::size_t width, std::size_t height, std::size_t depth) {
  CUDA_MEMCPY3D p{};
  p.WidthInBytes = width;
  p.Height = height;
  p.Depth = depth;
  return p;
}

}  // namespace

int main() {
  CUcontext context;
  CUstream stream;
  if (!openContextAndStream("strided_copies", context, stream)) return 1;

  // A volume of 5 slices of 12 rows of 40 bytes in device memory with a 64-byte pitch and 16 rows
  // per slice; the copy covers 30 x 10 x 4 bytes of it from (x 3, y 1, z 1).
  constexpr std::size_t kPitch = 64, kSliceRows = 16, kSlices = 5;
  CUdeviceptr vol = 0, other = 0;
  report("cuMemAlloc(volume)", cuMemAlloc(&vol, kPitch * kSliceRows * kSlices));
  report("cuMemAlloc(other)", cuMemAlloc(&other, kPitch * kSliceRows * kSlices));
  report("cuMemsetD8(volume)", cuMemsetD8(vol, 0xee, kPitch * kSliceRows * kSlices));
  report("cuMemsetD8(other)", cuMemsetD8(other, 0xdd, kPitch * kSliceRows * kSlices));
  std::vector<std::uint8_t> packed = pattern(30 * 10 * 4, 1);
  CUDA_MEMCPY3D in = volume(30, 10, 4);
  in.srcMemoryType = CU_MEMORYTYPE_HOST;
  in.srcHost = packed.data();
  in.srcPitch = 30;
  in.srcHeight = 10;
  in.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  in.dstDevice = vol;
  in.dstXInBytes = 3;
  in.dstY = 1;
  in.dstZ = 1;
  in.dstPitch = kPitch;
  in.dstHeight = kSliceRows;
  report("cuMemcpy3D(packed host to pitched device)", cuMemcpy3D(&in));
  std::vector<std::uint8_t> whole(kPitch * kSliceRows * kSlices);
  report("cuMemcpyDtoH(the whole volume)", cuMemcpyDtoH(whole.data(), vol, whole.size()));
  std::printf("the volume after the copy in: %016llx\n", static_cast<unsigned long long>(checksum(whole)));

  // Device to device with other offsets, asynchronously; then back to strided host memory.
  CUDA_MEMCPY3D across = volume(30, 10, 4);
  across.srcMemoryType = across.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  across.srcDevice = vol;
  across.srcXInBytes = 3;
  across.srcY = 1;
  across.srcZ = 1;
  across.srcPitch = kPitch;
  across.srcHeight = kSliceRows;
  across.dstDevice = other;
  across.dstXInBytes = 10;
  across.dstY = 2;
  across.dstPitch = kPitch;
  across.dstHeight = kSliceRows;
  report("cuMemcpy3DAsync(device to device)", cuMemcpy3DAsync(&across, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  report("cuMemcpyDtoH(the other volume)", cuMemcpyDtoH(whole.data(), other, whole.size()));
  std::printf("the other volume: %016llx\n", static_cast<unsigned long long>(checksum(whole)));
  std::vector<std::uint8_t> strided(48 * 11 * 4, 0x55);
  CUDA_MEMCPY3D out = across;
  out.srcDevice = other;
  out.srcXInBytes = 10;
  out.srcY = 2;
  out.srcZ = 0;
  out.dstMemoryType = CU_MEMORYTYPE_HOST;
  out.dstHost = strided.data();
  out.dstXInBytes = 2;
  out.dstY = 0;
  out.dstPitch = 48;
  out.dstHeight = 11;
  report("cuMemcpy3D(pitched device to strided host)", cuMemcpy3D(&out));
  std::printf("the strided host volume: %016llx\n", static_cast<unsigned long long>(checksum(strided)));
  bool same = true;
  for (std::size_t z = 0; z < 4; ++z) {
    for (std::size_t y = 0; y < 10; ++y) {
      for (std::size_t x = 0; x < 30; ++x) same &= strided[z * 48 * 11 + y * 48 + 2 + x] == packed[z * 300 + y * 30 + x];
    }
  }
  std::printf("the bytes came back where they started: %d\n", same);

  // Host to host, in stream order.
  std::vector<std::uint8_t> copyOfStrided(strided.size(), 0);
  CUDA_MEMCPY3D hostToHost = volume(48, 11, 4);
  hostToHost.srcMemoryType = hostToHost.dstMemoryType = CU_MEMORYTYPE_HOST;
  hostToHost.srcHost = strided.data();
  hostToHost.dstHost = copyOfStrided.data();
  hostToHost.srcPitch = hostToHost.dstPitch = 48;
  hostToHost.srcHeight = hostToHost.dstHeight = 11;
  report("cuMemcpy3DAsync(host to host)", cuMemcpy3DAsync(&hostToHost, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  std::printf("host to host copied it all: %d\n", copyOfStrided == strided);

  // A frame of 16 MiB (4096 rows of 4 KiB in a 4608-byte pitch), and two rows of 9 MiB.
  constexpr std::size_t kRow = 4096, kRows = 4096, kFramePitch = 4608;
  CUdeviceptr frame = 0;
  report("cuMemAlloc(frame)", cuMemAlloc(&frame, kFramePitch * kRows));
  std::vector<std::uint8_t> image = pattern(kRow * kRows, 2), back(kRow * kRows, 0);
  CUDA_MEMCPY2D up{};
  up.srcMemoryType = CU_MEMORYTYPE_HOST;
  up.srcHost = image.data();
  up.srcPitch = kRow;
  up.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  up.dstDevice = frame;
  up.dstPitch = kFramePitch;
  up.WidthInBytes = kRow;
  up.Height = kRows;
  report("cuMemcpy2D(16 MiB frame up)", cuMemcpy2D(&up));
  CUDA_MEMCPY2D down{};
  down.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  down.srcDevice = frame;
  down.srcPitch = kFramePitch;
  down.dstMemoryType = CU_MEMORYTYPE_HOST;
  down.dstHost = back.data();
  down.dstPitch = kRow;
  down.WidthInBytes = kRow;
  down.Height = kRows;
  report("cuMemcpy2DAsync(16 MiB frame down)", cuMemcpy2DAsync(&down, stream));
  report("cuStreamSynchronize", cuStreamSynchronize(stream));
  std::printf("the frame came back whole: %d\n", back == image);
  constexpr std::size_t kWide = 9 << 20;
  CUdeviceptr wide = 0;
  report("cuMemAlloc(two wide rows)", cuMemAlloc(&wide, 2 * (kWide + 64)));
  std::vector<std::uint8_t> rows = pattern(2 * kWide, 3), rowsBack(2 * kWide, 0);
  up.srcHost = rows.data();
  up.srcPitch = kWide;
  up.dstDevice = wide;
  up.dstPitch = kWide + 64;
  up.WidthInBytes = kWide;
  up.Height = 2;
  report("cuMemcpy2D(rows of 9 MiB up)", cuMemcpy2D(&up));
  down.srcDevice = wide;
  down.srcPitch = kWide + 64;
  down.dstHost = rowsBack.data();
  down.dstPitch = kWide;
  down.WidthInBytes = kWide;
  down.Height = 2;
  report("cuMemcpy2D(rows of 9 MiB down)", cuMemcpy2D(&down));
  std::printf("the wide rows came back whole: %d\n", rowsBack == rows);

  // Shapes the driver refuses.
  CUDA_MEMCPY3D bad = in;
  bad.dstPitch = 16;  // narrower than a row
  report("cuMemcpy3D(pitch smaller than the width)", cuMemcpy3D(&bad), CUDA_ERROR_INVALID_VALUE);
  bad = in;
  bad.dstHeight = 4;  // slices shorter than the copy
  report("cuMemcpy3D(slices shorter than the height)", cuMemcpy3D(&bad), CUDA_ERROR_INVALID_VALUE);
  bad = in;
  bad.dstLOD = 1;
  report("cuMemcpy3D(a level of detail)", cuMemcpy3D(&bad), CUDA_ERROR_INVALID_VALUE);
  bad = in;
  bad.dstZ = kSlices;  // past the last slice
  report("cuMemcpy3D(past the allocation)", cuMemcpy3D(&bad), CUDA_ERROR_INVALID_VALUE);
  bad = in;
  bad.dstXInBytes = ~std::size_t{0} - 8;
  report("cuMemcpy3D(an offset that wraps)", cuMemcpy3D(&bad), CUDA_ERROR_INVALID_VALUE);
  report("cuMemcpy3D(null)", cuMemcpy3D(nullptr), CUDA_ERROR_INVALID_VALUE);
  bad = in;
  bad.Depth = 0;
  report("cuMemcpy3D(nothing to copy)", cuMemcpy3D(&bad));

  for (CUdeviceptr p : {vol, other, frame, wide}) report("cuMemFree", cuMemFree(p));
  if (failures == 0) std::printf("strided_copies: done\n");
  return failures == 0 ? 0 : 1;
}
