// The simulated start of the device work running on this thread (see stream.h: simulated
// time), for twins that model a kernel's duration, such as the built-in spin kernel.
//
// Threading: thread-local; set by a stream's worker around each piece of device work.
#pragma once

#include "cudasim/completion.h"

namespace fastgpu::sim {

// The start of the current piece of device work; Clock::now() outside one.
Clock::time_point simulatedWorkStart();

// Sets the start for its lifetime (one piece of device work).
class SimulatedWorkStart {
 public:
  explicit SimulatedWorkStart(Clock::time_point start);
  ~SimulatedWorkStart();
  SimulatedWorkStart(const SimulatedWorkStart&) = delete;
  SimulatedWorkStart& operator=(const SimulatedWorkStart&) = delete;
};

}  // namespace fastgpu::sim
