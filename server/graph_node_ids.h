// The ids a session's graph nodes have on the wire. A node gets an id when the client first hears
// of it (it added the node, or a query listed it) and keeps it while its graph lives; ids are never
// reused. Nodes are not in the session's handle table: a graph may hold up to kMaxGraphNodes of
// them, and destroying a graph forgets its nodes in time proportional to their number.
//
// Threading: the session's thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>

#include "cudaabi/cuda_api.h"

namespace fastgpu::server {

class GraphNodeIds {
 public:
  struct Node {
    std::uint64_t graph;  // the graph's session id
    CUgraphNode node;
  };

  // `kindBits`: the id's kind tag (HandleKind::kGraphNode << 40), so a node id is never taken for
  // another object's.
  explicit GraphNodeIds(std::uint64_t kindBits) : kindBits_(kindBits) {}

  // The id of `node` of graph `graph`, given one if it has none.
  std::uint64_t idOf(std::uint64_t graph, CUgraphNode node) {
    auto& ids = byGraph_[graph];
    if (auto it = ids.find(node); it != ids.end()) return it->second;
    std::uint64_t id = kindBits_ | (++serial_ << 4);
    ids.emplace(node, id);
    nodes_.emplace(id, Node{graph, node});
    return id;
  }
  std::optional<Node> find(std::uint64_t id) const {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return std::nullopt;
    return it->second;
  }
  // A node was destroyed.
  void forget(std::uint64_t id) {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return;
    if (auto graph = byGraph_.find(it->second.graph); graph != byGraph_.end()) graph->second.erase(it->second.node);
    nodes_.erase(it);
  }
  // A graph was destroyed: its nodes' ids go with it.
  void forgetGraph(std::uint64_t graph) {
    auto it = byGraph_.find(graph);
    if (it == byGraph_.end()) return;
    for (const auto& [node, id] : it->second) nodes_.erase(id);
    byGraph_.erase(it);
  }

 private:
  const std::uint64_t kindBits_;
  std::uint64_t serial_ = 0;
  std::unordered_map<std::uint64_t, Node> nodes_;
  std::unordered_map<std::uint64_t, std::unordered_map<CUgraphNode, std::uint64_t>> byGraph_;
};

}  // namespace fastgpu::server
