// cuGetProcAddress, cuGetExportTable and the error strings, shared by every FastGPU driver.
#include "cudaabi/driver_entry_points_impl.h"
