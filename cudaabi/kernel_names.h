// The names nvcc gives kernels of internal linkage, mapped back to the name the kernel would have
// with external linkage (what a host twin is registered under, what `nm` shows for the source):
//   __nv_static_<n>__<n characters: file tag ending in '_'><name>   (file-static, -rdc=true; the
//                                                                     tag holds a hash of the path)
//   _ZN<n>_GLOBAL__N_<...><k><name>E<params>  ->  _Z<k><name><params>  (anonymous namespace)
// and both at once (an anonymous namespace's kernel under -rdc=true).
#pragma once

#include <optional>
#include <string>

namespace fastgpu::cudaabi {

// The base name of a kernel of internal linkage, or nothing for other names (and malformed ones).
std::optional<std::string> internalLinkageBaseName(const std::string& mangledName);

}  // namespace fastgpu::cudaabi
