// Kernels of the driver-API example, built into a fatbin that driver_api.cpp loads with
// cuModuleLoadData.
struct Affine {
  float scale;
  float offset;
  int pad[2];
};

__device__ int launchCount = 0;

// Applies an affine map to each element; parameters include a struct passed by value.
extern "C" __global__ void affine(float* data, Affine map, unsigned n) {
  unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) data[i] = data[i] * map.scale + map.offset;
  if (i == 0) atomicAdd(&launchCount, 1);
}

// Adds a row index to each element of a 2-D pitched array.
extern "C" __global__ void addRow(char* base, size_t pitch, unsigned width, unsigned height) {
  unsigned x = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x < width && y < height) reinterpret_cast<int*>(base + y * pitch)[x] += static_cast<int>(y);
}
