/*
 * cudasim host twins: the plugin interface (stable C ABI, version 2).
 *
 * cudasim runs a kernel by calling its *host twin*: a C or C++ function, registered under the
 * kernel's mangled name, that does on the CPU what the kernel does on the GPU. Twins live in
 * plugin libraries listed, colon-separated, in FASTGPU_SIM_KERNELS. Each plugin exports
 *
 *     int fastgpu_sim_plugin_init(const fastgpu_sim_host* host);
 *
 * which registers its twins with host->register_twin and returns 0 (non-zero fails cuInit with
 * CUDA_ERROR_SHARED_OBJECT_INIT_FAILED). See docs/cudasim.md for a worked example.
 *
 * Threading: a twin runs on the worker thread of the stream it was launched on, while it holds
 * its simulated device (one kernel at a time per device). Twins of different devices may run
 * concurrently. A twin must not call the CUDA API.
 *
 * ABI rules: fields are only ever appended; a plugin checks abi_version before reading fields
 * newer than the version it was built against. Version 2 added device_printf, assert_failed and
 * device_attribute.
 */
#ifndef FASTGPU_SIM_TWIN_H_
#define FASTGPU_SIM_TWIN_H_

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FASTGPU_SIM_TWIN_ABI_VERSION 2u

typedef struct fastgpu_dim3 {
  uint32_t x, y, z;
} fastgpu_dim3;

/* One launch, as the twin sees it. Valid only during the twin call. */
typedef struct fastgpu_sim_launch {
  uint32_t abi_version;      /* FASTGPU_SIM_TWIN_ABI_VERSION of the host */
  const char* kernel_name;   /* mangled name */
  fastgpu_dim3 grid_dim;     /* gridDim */
  fastgpu_dim3 block_dim;    /* blockDim */
  uint32_t dynamic_shared_bytes;
  uint32_t param_count;
  void* const* params;       /* params[i] points to parameter i, laid out as on the GPU */
  const void* param_buffer;  /* all parameters, packed as in the kernel's parameter buffer */
  uint32_t param_buffer_bytes;
  int device_ordinal;
  /* The address and size of a __device__ variable of the kernel's module, or NULL. */
  void* (*global_address)(const struct fastgpu_sim_launch* launch, const char* name, size_t* size);
  void* host_private; /* the host's; do not touch */

  /* ---- since ABI version 2 (check launch->abi_version >= 2 before use) ---- */

  /* The kernel's printf: formats as printf does into the device's output buffer, which reaches
   * the process's stdout at the driver's flush points (synchronizations, blocking copies, the next
   * launch, module loads, context destruction), as a GPU's printf does. Output past 1 MiB (a
   * GPU's default printf FIFO size) between two flushes is dropped, as on a GPU. Returns the
   * number of characters formatted, or -1. */
  int (*device_printf)(const struct fastgpu_sim_launch* launch, const char* format, ...)
#if defined(__GNUC__)
      __attribute__((format(printf, 2, 3)))
#endif
      ;
  /* A failed device assert(expression) at file:line in thread `thread` of block `block`: the
   * message a GPU prints goes to the process's stderr at the next flush point. The twin then
   * returns CUDA_ERROR_ASSERT (710), which is sticky, as a GPU's failed assert is. */
  void (*assert_failed)(const struct fastgpu_sim_launch* launch, const char* expression, const char* file, int line,
                        fastgpu_dim3 block, fastgpu_dim3 thread);
  /* A device attribute (a CUdevice_attribute value) of the launch's device, as
   * cuDeviceGetAttribute gives it (clock rate, multiprocessor count, ...). Returns 0, or a
   * CUresult value when the attribute is unknown. */
  int (*device_attribute)(const struct fastgpu_sim_launch* launch, int attribute, int* value);
} fastgpu_sim_launch;

/* A twin returns 0 (CUDA_SUCCESS) or a CUresult value, which becomes the launch's asynchronous
 * error (sticky for CUDA_ERROR_ILLEGAL_ADDRESS and the other sticky codes). */
typedef int (*fastgpu_sim_twin_fn)(const fastgpu_sim_launch* launch);

typedef struct fastgpu_sim_host {
  uint32_t abi_version;
  /* Registers `twin` under `mangled_name` (copied). A name registered again, by the same plugin or
   * a later one in FASTGPU_SIM_KERNELS, takes the later twin (logged once), so a plugin of your own
   * can replace a shipped twin. Returns 0, or -1 for a NULL name or twin. */
  int (*register_twin)(const struct fastgpu_sim_host* host, const char* mangled_name, fastgpu_sim_twin_fn twin);
  void* host_private;
} fastgpu_sim_host;

typedef int (*fastgpu_sim_plugin_init_fn)(const fastgpu_sim_host* host);
#define FASTGPU_SIM_PLUGIN_INIT_SYMBOL "fastgpu_sim_plugin_init"

/* ---- per-block iteration helpers ---- */

typedef void (*fastgpu_sim_block_fn)(const fastgpu_sim_launch* launch, fastgpu_dim3 block_idx, void* shared_memory,
                                     void* user);

/* Calls `body` once per block, in block order (x fastest), each with a zeroed dynamic shared
 * memory buffer of launch->dynamic_shared_bytes. Returns 0, or 2 (CUDA_ERROR_OUT_OF_MEMORY). */
static inline int fastgpu_sim_for_each_block(const fastgpu_sim_launch* launch, fastgpu_sim_block_fn body, void* user) {
  size_t shared_bytes = launch->dynamic_shared_bytes;
  void* shared = shared_bytes ? malloc(shared_bytes) : NULL;
  if (shared_bytes && !shared) return 2;
  fastgpu_dim3 b;
  for (b.z = 0; b.z < launch->grid_dim.z; ++b.z)
    for (b.y = 0; b.y < launch->grid_dim.y; ++b.y)
      for (b.x = 0; b.x < launch->grid_dim.x; ++b.x) {
        if (shared) memset(shared, 0, shared_bytes);
        body(launch, b, shared, user);
      }
  free(shared);
  return 0;
}

/* The number of threads in the whole grid. */
static inline uint64_t fastgpu_sim_thread_count(const fastgpu_sim_launch* launch) {
  return (uint64_t)launch->grid_dim.x * launch->grid_dim.y * launch->grid_dim.z * launch->block_dim.x *
         launch->block_dim.y * launch->block_dim.z;
}

/* blockIdx.x * blockDim.x + threadIdx.x for a 1-D launch, given a block and a thread. */
static inline uint64_t fastgpu_sim_global_x(const fastgpu_sim_launch* launch, fastgpu_dim3 block, uint32_t thread_x) {
  return (uint64_t)block.x * launch->block_dim.x + thread_x;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FASTGPU_SIM_TWIN_H_ */
