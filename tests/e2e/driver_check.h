// CHECK(call) for end-to-end programs: a driver call that fails prints its name and result, and
// the program (main) returns 1.
#pragma once

#include <cuda.h>

#include <cstdio>

#define CHECK(call)                                                     \
  do {                                                                  \
    CUresult status_ = (call);                                          \
    if (status_ != CUDA_SUCCESS) {                                      \
      std::printf("%s failed: %d\n", #call, static_cast<int>(status_)); \
      return 1;                                                         \
    }                                                                   \
  } while (0)
