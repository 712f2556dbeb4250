// The stream a copy or memset names, as the wire carries it: its id, whether the call may return
// before the work is done (an ...Async call), and whether a null stream means the per-thread one.
#pragma once

#include <cstdint>

namespace fastgpu::interposer {

struct StreamArg {
  std::uint64_t id;
  bool async;
  bool perThread;
};

}  // namespace fastgpu::interposer
