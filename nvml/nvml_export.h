// How FastGPU's NVML library exports a function: C linkage, default visibility. The version
// script (nvml_exports.map) exports nvml* and nothing else.
#pragma once

#define FASTGPU_NVML_EXPORT extern "C" __attribute__((visibility("default")))
