// `fastgpu_bench transport`: one transport (whatever FASTGPU_SERVER and FASTGPU_TRANSPORT give the
// interposer) against native cudasim in the same process and run — round trip, launch
// throughput, 256 MiB copies from pinned and pageable memory, an asyncAPI-style sequence of
// asynchronous calls, and the CPU an idle session costs (issue 11, point 7).
#pragma once

#include <string>

namespace fastgpu::bench {

struct TransportBenchOptions {
  std::string label;       // printed before every line: the transport's name
  std::string interposer;  // FastGPU's libcuda.so.1
  std::string cudasim;     // cudasim's, for the native baseline
  std::string fatbin;      // the test kernels (fastgpu_spin)
  int serverPid = 0;       // fastgpu-server: its process tree's CPU while the session idles (0: not measured)
  int launches = 100000;
  int roundTrips = 2000;
};

int transportAgainstNative(const TransportBenchOptions& options);

}  // namespace fastgpu::bench
