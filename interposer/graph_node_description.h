// Graph nodes described for the server from the program's parameters, for nodes added
// (api_graph_build.cpp) and nodes whose parameters change (api_graph_params.cpp).
//
// A copy node as the server takes it (wire GraphCopy), from the program's CUDA_MEMCPY3D:
// offsets folded into addresses, and a side in this process's memory (host or unified memory the
// client does not know as device memory) sent as a staging buffer the server stands in with. That
// side must be one packed block of at most protocol::kMaxCopyChunkBytes; what the client then does
// around a replay is the node's host effect.
#pragma once

#include <optional>

#include "interposer/capture_mirror.h"
#include "interposer/runtime.h"
#include "protocol/schema/fastgpu.capnp.h"

namespace fastgpu::interposer {

// Fills `node` with copy `p`; `effect` is what a replay does here (none between device addresses).
// A refusal is the driver's error, or CUDA_ERROR_NOT_SUPPORTED (logged) for what FastGPU does not
// remote: arrays, host-to-host, strided or large copies of this process's memory.
CUresult describeCopyNode(Runtime& rt, wire::GraphNodeAdd::Builder node, const CUDA_MEMCPY3D* p,
                          std::optional<HostEffect>& effect);

// Names graph `child` as a child graph node's in `node`. A graph with copies of this process's
// memory cannot be a child: CUDA_ERROR_NOT_SUPPORTED, logged. Its host work (host functions, host
// points) goes to `hostWork` for the holding graph's record; without `hostWork` (an executable's
// child replaced) a child with host work is refused the same way.
CUresult describeChildNode(Runtime& rt, wire::GraphNodeAdd::Builder node, CUgraph child,
                           HostEffects* hostWork = nullptr);

}  // namespace fastgpu::interposer
