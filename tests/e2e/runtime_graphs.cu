// CUDA graphs through the runtime API, as the CUDA samples make them (simpleCudaGraphs: copy nodes
// from and to pageable memory given as cudaMemcpy3DParms and 1-D, a memset node, a host node, a
// clone; a capture of pageable copies, a stream-ordered allocation and a host function), so that
// the driver entry points libcudart really calls are the ones exercised. No kernels: it runs on
// cudasim without twins. A run through FastGPU must print the same.
#include <cuda_runtime.h>
#include <cstdio>
#define CHECK(x) do { cudaError_t err_ = (x); std::printf("%-40s %s\n", #x, cudaGetErrorName(err_)); } while (0)
static int calls = 0;
static void CUDART_CB onHost(void* p) { calls += *(int*)p; }
int main() {
  int one = 1;
  static float hostIn[256], hostOut[256];
  for (int i = 0; i < 256; ++i) hostIn[i] = i;
  float *a, *b;
  CHECK(cudaMalloc(&a, sizeof hostIn)); CHECK(cudaMalloc(&b, sizeof hostIn));
  cudaStream_t s; CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cudaGraph_t g; CHECK(cudaGraphCreate(&g, 0));
  cudaGraphNode_t in, set, mid, out, host;
  cudaMemcpy3DParms p = {};
  p.srcPtr = make_cudaPitchedPtr(hostIn, sizeof hostIn, 256, 1);
  p.dstPtr = make_cudaPitchedPtr(a, sizeof hostIn, 256, 1);
  p.extent = make_cudaExtent(sizeof hostIn, 1, 1);
  p.kind = cudaMemcpyHostToDevice;
  CHECK(cudaGraphAddMemcpyNode(&in, g, nullptr, 0, &p));
  cudaMemsetParams m = {}; m.dst = b; m.value = 0; m.elementSize = 4; m.width = 256; m.height = 1;
  CHECK(cudaGraphAddMemsetNode(&set, g, nullptr, 0, &m));
  cudaGraphNode_t deps[] = {in, set};
  CHECK(cudaGraphAddMemcpyNode1D(&mid, g, deps, 2, b, a, 128 * sizeof(float), cudaMemcpyDeviceToDevice));
  CHECK(cudaGraphAddMemcpyNode1D(&out, g, &mid, 1, hostOut, b, sizeof hostOut, cudaMemcpyDefault));
  cudaHostNodeParams h = {onHost, &one};
  CHECK(cudaGraphAddHostNode(&host, g, &out, 1, &h));
  size_t n = 0; CHECK(cudaGraphGetNodes(g, nullptr, &n)); std::printf("nodes %zu\n", n);
  cudaGraph_t c; CHECK(cudaGraphClone(&c, g));
  cudaGraphExec_t e, ce; CHECK(cudaGraphInstantiate(&e, g, 0)); CHECK(cudaGraphInstantiate(&ce, c, 0));
  for (int r = 0; r < 2; ++r) {
    hostIn[5] = 100 + r;
    CHECK(cudaGraphLaunch(e, s)); CHECK(cudaStreamSynchronize(s));
    std::printf("out[5]=%g out[200]=%g calls=%d\n", hostOut[5], hostOut[200], calls);
  }
  CHECK(cudaGraphLaunch(ce, s)); CHECK(cudaStreamSynchronize(s));
  std::printf("clone: out[5]=%g calls=%d\n", hostOut[5], calls);
  cudaGraph_t cg; float* scratch;
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  CHECK(cudaMemcpyAsync(a, hostIn, sizeof hostIn, cudaMemcpyDefault, s));
  CHECK(cudaMallocAsync(&scratch, 4096, s));
  CHECK(cudaMemcpyAsync(scratch, a + 4, sizeof(float), cudaMemcpyDefault, s));
  CHECK(cudaMemcpyAsync(&hostOut[0], scratch, sizeof(float), cudaMemcpyDefault, s));
  CHECK(cudaFreeAsync(scratch, s));
  CHECK(cudaLaunchHostFunc(s, onHost, &one));
  CHECK(cudaStreamEndCapture(s, &cg));
  cudaGraphExec_t cge; CHECK(cudaGraphInstantiateWithFlags(&cge, cg, 0));
  for (int r = 0; r < 2; ++r) {
    hostIn[4] = 40 + r;
    CHECK(cudaGraphLaunch(cge, s)); CHECK(cudaStreamSynchronize(s));
    std::printf("captured: out[0]=%g calls=%d\n", hostOut[0], calls);
  }
  CHECK(cudaGraphExecDestroy(e)); CHECK(cudaGraphExecDestroy(ce)); CHECK(cudaGraphExecDestroy(cge));
  CHECK(cudaGraphDestroy(g)); CHECK(cudaGraphDestroy(c)); CHECK(cudaGraphDestroy(cg));
  std::printf("runtime_graphs: done\n");
}
