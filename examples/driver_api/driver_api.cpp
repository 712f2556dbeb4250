// A CUDA driver API program: creates a context, loads a fatbin with cuModuleLoadData, reads the
// kernels' parameter layouts, packs parameters both ways (kernelParams and the `extra` buffer),
// launches with cuLaunchKernel and cuLaunchKernelEx, and checks every result.
#include <cuda.h>

#include <cstdio>
#include <cstring>
#include <vector>

extern "C" const unsigned char kDriverApiKernelsFatbin[];

#define CHECK(call)                                                  \
  do {                                                               \
    CUresult status_ = (call);                                       \
    if (status_ != CUDA_SUCCESS) {                                   \
      const char* name_ = nullptr;                                   \
      cuGetErrorName(status_, &name_);                               \
      std::printf("%s failed: %s (%d)\n", #call, name_, (int)status_); \
      return 1;                                                      \
    }                                                                \
  } while (0)

struct Affine {
  float scale;
  float offset;
  int pad[2];
};

static void CUDA_CB markDone(void* flag) { *static_cast<int*>(flag) = 1; }

int main() {
  CHECK(cuInit(0));
  int version = 0;
  CHECK(cuDriverGetVersion(&version));
  CUdevice device;
  CHECK(cuDeviceGet(&device, 0));
  char name[128];
  CHECK(cuDeviceGetName(name, sizeof(name), device));
  std::printf("driver version >= 13000: %s\n", version >= 13000 ? "yes" : "no");
  CUcontext context;
  CHECK(cuCtxCreate(&context, nullptr, 0, device));

  CUmodule module;
  CHECK(cuModuleLoadData(&module, kDriverApiKernelsFatbin));
  CUfunction affine, addRow;
  CHECK(cuModuleGetFunction(&affine, module, "affine"));
  CHECK(cuModuleGetFunction(&addRow, module, "addRow"));

  // The parameter layout, as the driver reports it.
  std::printf("affine parameters:");
  size_t offsets[8], sizes[8], count = 0;
  while (count < 8 && cuFuncGetParamInfo(affine, count, &offsets[count], &sizes[count]) == CUDA_SUCCESS) {
    std::printf(" [%zu: offset %zu size %zu]", count, offsets[count], sizes[count]);
    ++count;
  }
  std::printf("\n");
  if (count != 3) return 1;

  const unsigned n = 1000;
  std::vector<float> host(n);
  for (unsigned i = 0; i < n; ++i) host[i] = static_cast<float>(i);
  CUdeviceptr data;
  CHECK(cuMemAlloc(&data, n * sizeof(float)));
  CHECK(cuMemcpyHtoD(data, host.data(), n * sizeof(float)));

  // Launch 1: kernelParams.
  Affine doubleIt{2.0f, 0.0f, {0, 0}};
  void* params[] = {&data, &doubleIt, const_cast<unsigned*>(&n)};
  CHECK(cuLaunchKernel(affine, (n + 127) / 128, 1, 1, 128, 1, 1, 0, nullptr, params, nullptr));

  // Launch 2: the extra buffer, packed by hand at the offsets the driver reported.
  Affine addOne{1.0f, 1.0f, {0, 0}};
  std::vector<unsigned char> buffer(offsets[2] + sizes[2]);
  std::memcpy(buffer.data() + offsets[0], &data, sizes[0]);
  std::memcpy(buffer.data() + offsets[1], &addOne, sizes[1]);
  std::memcpy(buffer.data() + offsets[2], &n, sizes[2]);
  size_t bufferSize = buffer.size();
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buffer.data(), CU_LAUNCH_PARAM_BUFFER_SIZE, &bufferSize,
                   CU_LAUNCH_PARAM_END};
  CHECK(cuLaunchKernel(affine, (n + 127) / 128, 1, 1, 128, 1, 1, 0, nullptr, nullptr, extra));

  // Launch 3: cuLaunchKernelEx on a created stream, then a host function and an event.
  CUstream stream;
  CHECK(cuStreamCreate(&stream, CU_STREAM_DEFAULT));
  Affine negate{-1.0f, 0.0f, {0, 0}};
  void* negateParams[] = {&data, &negate, const_cast<unsigned*>(&n)};
  CUlaunchConfig config{};
  config.gridDimX = (n + 255) / 256;
  config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = 256;
  config.blockDimY = config.blockDimZ = 1;
  config.hStream = stream;
  CHECK(cuLaunchKernelEx(&config, affine, negateParams, nullptr));
  int hostFunctionRan = 0;
  CHECK(cuLaunchHostFunc(stream, markDone, &hostFunctionRan));
  CUevent done;
  CHECK(cuEventCreate(&done, CU_EVENT_DEFAULT));
  CHECK(cuEventRecord(done, stream));
  CHECK(cuEventSynchronize(done));

  CHECK(cuMemcpyDtoH(host.data(), data, n * sizeof(float)));
  for (unsigned i = 0; i < n; ++i) {
    float expected = -(2.0f * i + 1.0f);
    if (host[i] != expected) {
      std::printf("affine: wrong result at %u: %f, expected %f\n", i, host[i], expected);
      return 1;
    }
  }
  CUdeviceptr counter;
  size_t counterBytes = 0;
  CHECK(cuModuleGetGlobal(&counter, &counterBytes, module, "launchCount"));
  int launches = 0;
  CHECK(cuMemcpyDtoH(&launches, counter, sizeof(launches)));
  std::printf("affine: %u elements correct, launchCount=%d (%zu bytes), host function ran: %s\n", n, launches,
              counterBytes, hostFunctionRan ? "yes" : "no");
  if (launches != 3 || !hostFunctionRan) return 1;

  // A pitched 2-D array: memset, a 2-D launch, a 2-D copy back.
  const unsigned width = 37, height = 11;
  CUdeviceptr grid;
  size_t pitch = 0;
  CHECK(cuMemAllocPitch(&grid, &pitch, width * sizeof(int), height, sizeof(int)));
  CHECK(cuMemsetD2D32(grid, pitch, 5, width, height));
  void* rowParams[] = {&grid, &pitch, const_cast<unsigned*>(&width), const_cast<unsigned*>(&height)};
  CHECK(cuLaunchKernel(addRow, (width + 15) / 16, (height + 15) / 16, 1, 16, 16, 1, 0, nullptr, rowParams, nullptr));
  std::vector<int> rows(width * height);
  CUDA_MEMCPY2D copy{};
  copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.srcDevice = grid;
  copy.srcPitch = pitch;
  copy.dstMemoryType = CU_MEMORYTYPE_HOST;
  copy.dstHost = rows.data();
  copy.dstPitch = width * sizeof(int);
  copy.WidthInBytes = width * sizeof(int);
  copy.Height = height;
  CHECK(cuMemcpy2D(&copy));
  for (unsigned y = 0; y < height; ++y) {
    for (unsigned x = 0; x < width; ++x) {
      if (rows[y * width + x] != 5 + static_cast<int>(y)) {
        std::printf("addRow: wrong result at (%u, %u)\n", x, y);
        return 1;
      }
    }
  }
  std::printf("addRow: %ux%u pitched array correct (pitch is a multiple of 256: %s)\n", width, height,
              pitch % 256 == 0 ? "yes" : "no");

  CHECK(cuEventDestroy(done));
  CHECK(cuStreamDestroy(stream));
  CHECK(cuMemFree(grid));
  CHECK(cuMemFree(data));
  CHECK(cuModuleUnload(module));
  CHECK(cuCtxDestroy(context));
  std::printf("driver_api: all results correct\n");
  return 0;
}
