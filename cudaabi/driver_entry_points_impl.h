// The driver entry points that every FastGPU driver answers the same way, locally:
// cuGetProcAddress (both forms), cuGetExportTable, cuGetErrorName and cuGetErrorString.
// Include in exactly one .cpp of a driver library, not the one that includes
// driver_exports_impl.h.
#pragma once

#include "cudaabi/cuda_api.h"
#include "cudaabi/driver_exports.h"
#include "cudaabi/error_strings.h"
#include "cudaabi/export_tables.h"
#include "cudaabi/proc_address.h"

#ifndef FASTGPU_DRIVER_EXPORT
#define FASTGPU_DRIVER_EXPORT extern "C" __attribute__((visibility("default")))
#endif

FASTGPU_DRIVER_EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                                                   CUdriverProcAddressQueryResult* symbolStatus) {
  return ::fastgpu::cudaabi::getProcAddress(symbol, pfn, cudaVersion, flags, symbolStatus,
                                            ::fastgpu::cudaabi::driverExportAddresses());
}

// The CUDA 11.3 form, without the status pointer.
FASTGPU_DRIVER_EXPORT CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  return cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, nullptr);
}

FASTGPU_DRIVER_EXPORT CUresult cuGetExportTable(const void** table, const CUuuid* tableId) {
  return ::fastgpu::cudaabi::getExportTable(table, tableId);
}

FASTGPU_DRIVER_EXPORT CUresult cuGetErrorName(CUresult error, const char** name) {
  return ::fastgpu::cudaabi::errorName(error, name);
}

FASTGPU_DRIVER_EXPORT CUresult cuGetErrorString(CUresult error, const char** text) {
  return ::fastgpu::cudaabi::errorString(error, text);
}
