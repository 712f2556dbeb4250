// Device attributes that must not promise what FastGPU cannot do (DESIGN.md decision 15): a
// framework that trusts an attribute (memory pools, virtual memory management, managed memory,
// ...) and then gets CUDA_ERROR_NOT_SUPPORTED fails late; one that reads 0 takes its fallback.
// One list for cudasim and the server; a feature leaves it in the change that implements it.
#pragma once

#include "cudaabi/cuda_api.h"

namespace fastgpu::cudaabi {

// Whether `attribute` announces a feature whose driver functions FastGPU does not implement yet
// (cudasim's and the interposer's stubs answer CUDA_ERROR_NOT_SUPPORTED): it reads 0 wherever
// FastGPU answers.
bool announcesUnimplementedFeature(CUdevice_attribute attribute);

// What a remote session reads for `attribute` when the server's driver says `value`: 0 for
// announced features FastGPU does not implement, and for what cannot cross the network (the
// device reaching the client's host memory directly, unless `sharedHostMemory`: the session's
// page-locked memory is shared with the server and mapped); else `value`.
int remoteSessionAttribute(CUdevice_attribute attribute, int value, bool sharedHostMemory = false);

}  // namespace fastgpu::cudaabi
