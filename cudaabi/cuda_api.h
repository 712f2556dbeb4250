// The CUDA driver API as a driver sees it.
//
// FastGPU's libraries *are* CUDA drivers, so they see the exact exported symbols: with
// __CUDA_API_VERSION_INTERNAL defined, cuda.h renames nothing (`cuMemAlloc` is the legacy
// 32-bit symbol, `cuMemAlloc_v2` the current one) and cudaTypedefs.h declares the PFN types of
// every legacy version too. Include the CUDA headers only through this file.
#pragma once

#if defined(__cuda_cuda_h__) && !defined(__CUDA_API_VERSION_INTERNAL)
#error "cuda.h was included before cudaabi/cuda_api.h: FastGPU code must see the driver's symbol names"
#endif
#ifndef __CUDA_API_VERSION_INTERNAL
#define __CUDA_API_VERSION_INTERNAL 1
#endif
#include <cuda.h>
#include <cudaProfilerTypedefs.h>
#include <cudaTypedefs.h>
