// The spin kernel: occupies a GPU for a given number of microseconds. On a real GPU it spins on
// the global timer; on cudasim its built-in host twin holds the simulated device for that long.
// Scheduler tests and benchmarks use it to create GPU time of a known length.
#pragma once

extern "C" __global__ void fastgpu_spin(unsigned long long micros) {
  unsigned long long start;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  unsigned long long now = start;
  while (now - start < micros * 1000ULL) {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  }
}
