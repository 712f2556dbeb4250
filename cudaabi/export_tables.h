// cuGetExportTable: the private driver tables that libcudart (and every library embedding a
// copy of it) asks for. Their layouts are undocumented; what is known, and what each slot does
// here, is in docs/driver-abi.md. Both driver libraries (cudasim and the interposer) serve the
// same tables from this file; what differs between them goes through DriverServices.
#pragma once

#include <vector>

#include "cudaabi/cuda_api.h"
#include "cudaabi/integrity_check.h"
#include "cudaabi/session_table.h"

namespace fastgpu::cudaabi {

// What the private tables need from the driver that serves them. Implemented once per driver
// library and installed before the first cuGetExportTable answer. Every method may be called
// from any thread, concurrently.
class DriverServices {
 public:
  virtual ~DriverServices() = default;

  // What cuDriverGetVersion reports.
  virtual int driverVersion() = 0;
  // The devices in ordinal order, as cuDeviceGetUuid and the PCI attributes report them. An
  // uninitialized or failed driver reports none.
  virtual std::vector<IntegrityDeviceRecord> integrityDevices() = 0;
  // Slot 2 of the cudart interface: the runtime takes the device's primary context from here
  // (retaining it) instead of calling cuDevicePrimaryCtxRetain.
  virtual CUresult retainPrimaryContextForRuntime(CUcontext* context, CUdevice device) = 0;
  // Slots 1, 6 and 8: load a module from a __fatBinC_Wrapper_t or a bare fatbin into the
  // current context.
  virtual CUresult loadModuleForRuntime(CUmodule* module, const void* fatbinOrWrapper) = 0;
  // The calling thread's current context, or null.
  virtual CUcontext currentContext() = 0;
  // FastGPU's session table (session_table.h): device `device` as the program's session sees it.
  virtual CUresult vgpuStatus(int device, VgpuStatus& status) = 0;
};

// Installs the services; `services` must live for the rest of the process. Thread-safe; the
// last installation wins.
void installDriverServices(DriverServices* services);

// The cuGetExportTable entry point.
CUresult getExportTable(const void** table, const CUuuid* tableId);

// Runs the destructors that the runtime registered in context-local storage for `context`
// and forgets its entries. Drivers call it when a context is destroyed or a primary context
// is reset.
void destroyContextLocalStorage(CUcontext context);

}  // namespace fastgpu::cudaabi
