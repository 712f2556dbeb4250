// The attributes a graph's kernel node carries (cuGraphKernelNodeSetAttribute / GetAttribute /
// CopyAttributes): the launch attributes the driver documents as valid for graph nodes. Which ids
// a node takes and which values are valid, for cudasim (which keeps them: they are scheduling
// hints that change nothing a twin computes) and for the server (which checks a client's values
// before its driver sees them). A node made by capturing a launch carries its stream's attributes
// (priority, access policy window, memory sync domain and map) and, over them, cuLaunchKernelEx's.
#pragma once

#include <map>

#include "cudaabi/cuda_api.h"

namespace fastgpu::cudaabi {

// Whether `attribute` is one a kernel node carries.
bool isKernelNodeAttribute(CUlaunchAttributeID attribute);
// CUDA_SUCCESS when `value` is valid for `attribute`; CUDA_ERROR_INVALID_VALUE for an id a kernel
// node does not carry or a value out of range; CUDA_ERROR_NOT_SUPPORTED for device-updatable
// nodes (updates from the device are not implemented). The priority is clamped, not refused.
CUresult checkKernelNodeAttribute(CUlaunchAttributeID attribute, const CUlaunchAttributeValue& value);

class KernelNodeAttributes {
 public:
  // Sets one attribute (checked first by the caller).
  void set(CUlaunchAttributeID attribute, const CUlaunchAttributeValue& value) { values_[attribute] = value; }
  // What was set, or the attribute's default: zeros, and the default domain map {0, 1}.
  CUlaunchAttributeValue get(CUlaunchAttributeID attribute) const;
  // Every attribute `other` set replaces this one's.
  void overrideWith(const KernelNodeAttributes& other) {
    for (const auto& [attribute, value] : other.values_) values_[attribute] = value;
  }

 private:
  std::map<CUlaunchAttributeID, CUlaunchAttributeValue> values_;
};

}  // namespace fastgpu::cudaabi
