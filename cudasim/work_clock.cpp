#include "cudasim/work_clock.h"

#include <optional>

namespace fastgpu::sim {
namespace {

thread_local std::optional<Clock::time_point> currentStart;

}  // namespace

Clock::time_point simulatedWorkStart() { return currentStart.value_or(Clock::now()); }

SimulatedWorkStart::SimulatedWorkStart(Clock::time_point start) { currentStart = start; }

SimulatedWorkStart::~SimulatedWorkStart() { currentStart.reset(); }

}  // namespace fastgpu::sim
