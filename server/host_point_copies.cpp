// Which copies between a graph and the client's memory stand before or after its host points
// (host_points.h): a copy to the client that precedes a point is done when the replay reaches it,
// so the client reads it then, before its function runs; a copy from the client that follows a
// point reads what the function left, so the client fills it again before the replay goes on.
#include <functional>
#include <set>

#include "server/session.h"

namespace fastgpu::server {
namespace {

// Bounds on the walk a client's graph shape could make long, and on the answer.
constexpr std::uint64_t kMaxSteps = 1 << 20;
constexpr std::size_t kMaxPairs = 1 << 16;

}  // namespace

Status Session::hostPointCopies(CUgraph graph, std::vector<std::int64_t>& values) {
  std::size_t count = 0;
  if (CUresult result = driver_.cuGraphGetNodes(graph, nullptr, &count); result != CUDA_SUCCESS) {
    return driverResult(result, "cuGraphGetNodes");
  }
  std::vector<CUgraphNode> nodes(count);
  driver_.cuGraphGetNodes(graph, nodes.data(), &count);
  auto typeOf = [&](CUgraphNode node) {
    CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
    driver_.cuGraphNodeGetType(node, &type);
    return type;
  };
  // The staging buffer a copy node writes (toHost) or reads, 0 for none.
  auto staging = [&](CUgraphNode node, bool toHost) -> std::uint64_t {
    CUDA_MEMCPY3D copy{};
    if (typeOf(node) != CU_GRAPH_NODE_TYPE_MEMCPY || driver_.cuGraphMemcpyNodeGetParams(node, &copy) != CUDA_SUCCESS) {
      return 0;
    }
    CUmemorytype type = toHost ? copy.dstMemoryType : copy.srcMemoryType;
    std::uint64_t host = reinterpret_cast<std::uintptr_t>(toHost ? copy.dstHost : copy.srcHost);
    std::uint64_t address = type == CU_MEMORYTYPE_HOST ? host : (toHost ? copy.dstDevice : copy.srcDevice);
    auto buffer = state_->stagingStartingAt(address);
    return buffer ? buffer->first : 0;
  };
  std::uint64_t steps = 0;
  // The host points of `graph`'s nodes and of the child graphs in them, at any depth.
  std::function<void(CUgraph, std::vector<std::uint32_t>&)> pointsIn = [&](CUgraph in, std::vector<std::uint32_t>& found) {
    std::size_t many = 0;
    driver_.cuGraphGetNodes(in, nullptr, &many);
    std::vector<CUgraphNode> inner(many);
    driver_.cuGraphGetNodes(in, inner.data(), &many);
    steps += many;
    for (CUgraphNode node : inner) {
      CUDA_HOST_NODE_PARAMS host{};
      CUgraph child = nullptr;
      if (typeOf(node) == CU_GRAPH_NODE_TYPE_HOST && driver_.cuGraphHostNodeGetParams(node, &host) == CUDA_SUCCESS) {
        if (auto point = hostPoints_.pointOf(host.fn, host.userData)) found.push_back(*point);
      } else if (typeOf(node) == CU_GRAPH_NODE_TYPE_GRAPH && steps <= kMaxSteps &&
                 driver_.cuGraphChildGraphNodeGetGraph(node, &child) == CUDA_SUCCESS) {
        pointsIn(child, found);
      }
    }
  };
  // Each point stands where its node does, or the child graph node that holds it.
  std::vector<std::pair<CUgraphNode, std::uint32_t>> points;
  bool clientCopies = false;
  for (CUgraphNode node : nodes) {
    std::vector<std::uint32_t> found;
    CUDA_HOST_NODE_PARAMS host{};
    CUgraph child = nullptr;
    if (typeOf(node) == CU_GRAPH_NODE_TYPE_HOST && driver_.cuGraphHostNodeGetParams(node, &host) == CUDA_SUCCESS) {
      if (auto point = hostPoints_.pointOf(host.fn, host.userData)) found.push_back(*point);
    } else if (typeOf(node) == CU_GRAPH_NODE_TYPE_GRAPH && driver_.cuGraphChildGraphNodeGetGraph(node, &child) == CUDA_SUCCESS) {
      pointsIn(child, found);
    }
    for (std::uint32_t point : found) points.emplace_back(node, point);
    clientCopies = clientCopies || staging(node, true) != 0 || staging(node, false) != 0;
  }
  if (steps > kMaxSteps) {
    return Status(CUDA_ERROR_NOT_SUPPORTED, "the graph is too large to order its copies of client memory around its host nodes");
  }
  if (points.empty() || !clientCopies) return Status::ok();
  // Walks from `start` against the edges (toward what precedes it) or along them.
  auto walk = [&](CUgraphNode start, bool back, std::uint32_t point) -> Status {
    std::set<CUgraphNode> seen;
    std::vector<CUgraphNode> frontier{start};
    while (!frontier.empty()) {
      CUgraphNode node = frontier.back();
      frontier.pop_back();
      std::size_t next = 0;
      back ? driver_.cuGraphNodeGetDependencies(node, nullptr, &next) : driver_.cuGraphNodeGetDependentNodes(node, nullptr, &next);
      std::vector<CUgraphNode> neighbours(next);
      back ? driver_.cuGraphNodeGetDependencies(node, neighbours.data(), &next)
           : driver_.cuGraphNodeGetDependentNodes(node, neighbours.data(), &next);
      steps += next + 1;
      if (steps > kMaxSteps) {
        return Status(CUDA_ERROR_NOT_SUPPORTED, "the graph is too large to order its copies of client memory around its host nodes");
      }
      for (CUgraphNode neighbour : neighbours) {
        if (!seen.insert(neighbour).second) continue;
        frontier.push_back(neighbour);
        std::uint64_t buffer = staging(neighbour, back);
        if (buffer == 0) continue;
        if (values.size() >= 1 + 2 * kMaxPairs) {
          return Status(CUDA_ERROR_NOT_SUPPORTED, "the graph has too many copies of client memory around its host nodes");
        }
        values.push_back(point);
        values.push_back(static_cast<std::int64_t>(buffer));
      }
    }
    return Status::ok();
  };
  for (const auto& [node, point] : points) {
    if (Status before = walk(node, true, point); !before) return before;
    if (Status after = walk(node, false, point); !after) return after;
  }
  return Status::ok();
}

}  // namespace fastgpu::server
