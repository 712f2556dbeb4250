// Kernels of internal linkage, built with -rdc=true: nvcc names them with a hash of this file's
// path (__nv_static_..., _ZN.._GLOBAL__N_...), which `fastgpu kernels` shows with the name a twin
// is registered under.
static __global__ void scale(float* data, float factor) { data[threadIdx.x] *= factor; }
namespace {
__global__ void shift(float* data) { data[threadIdx.x] += 1; }
}  // namespace

void launchAll(float* data) {
  scale<<<1, 1>>>(data, 2.0f);
  shift<<<1, 1>>>(data);
}

int main() { return 0; }
