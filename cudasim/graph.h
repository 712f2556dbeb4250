// CUDA graphs in cudasim: a graph of nodes (kernels, copies, memsets, host calls, event records and
// waits, empty nodes, child graphs) with dependency edges, and the executable graph instantiated
// from it.
//
// A node holds its parameters as checked descriptions (stream_work.h), so the operations it runs
// are the same as those of the stream calls. An executable graph holds a private clone of its graph
// and the clone's nodes in one topological order, child graphs flattened into it; a launch queues
// that order on the stream, which is one valid schedule of the graph. (A GPU may overlap
// independent nodes; a program cannot tell the difference except in timing.)
//
// Threading: graphs are not thread-safe objects in CUDA; cudasim guards every graph call with the
// driver's one graph mutex (GraphRegistry::mutex()) so that concurrent captures adding nodes
// from several streams stay consistent.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <functional>
#include <variant>
#include <vector>

#include "cudaabi/kernel_node_attributes.h"
#include "cudasim/graph_memory.h"
#include "cudasim/handle_table.h"
#include "cudasim/stream_work.h"

namespace fastgpu::sim {

class Graph;

struct KernelNode {
  KernelLaunch launch;
  std::vector<void*> argumentPointers;  // into launch.parameters, for the "get params" calls
  cudaabi::KernelNodeAttributes attributes;  // scheduling hints: kept, and change nothing a twin does
};
struct CopyNode {
  CUDA_MEMCPY3D params{};
  StridedCopy copy;
};
struct MemsetNode {
  CUDA_MEMSET_NODE_PARAMS params{};
};
struct HostNode {
  CUhostFn function = nullptr;
  void* userData = nullptr;
};
struct EventNode {  // an event record or an event wait node
  CUevent event = nullptr;
};
struct ChildGraphNode {
  std::shared_ptr<Graph> graph;  // the node's own copy
};
struct EmptyNode {};
struct MemAllocNode {
  CUDA_MEM_ALLOC_NODE_PARAMS params{};  // as asked, with dptr set; accessDescs not kept
  std::shared_ptr<GraphAllocation> allocation;
};
struct MemFreeNode {
  CUdeviceptr address = 0;
};
struct MemOpNode {  // stream memory operations captured (cuStreamWriteValue*, WaitValue*, BatchMemOp)
  std::function<CUresult()> run;  // the batch, its operations checked when captured
};

using NodeParams = std::variant<KernelNode, CopyNode, MemsetNode, HostNode, EventNode, ChildGraphNode, EmptyNode,
                                MemAllocNode, MemFreeNode, MemOpNode>;

class GraphNode : public HandleObject {
 public:
  GraphNode(CUgraphNodeType type, NodeParams params, Graph& graph)
      : type_(type), params_(std::move(params)), graph_(&graph) {}

  CUgraphNodeType type() const { return type_; }
  Graph& graph() const { return *graph_; }
  NodeParams& params() { return params_; }
  const NodeParams& params() const { return params_; }
  const std::vector<GraphNode*>& dependencies() const { return dependencies_; }
  const std::vector<GraphNode*>& dependents() const { return dependents_; }
  bool enabled() const { return enabled_; }
  void setEnabled(bool enabled) { enabled_ = enabled; }

 private:
  friend class Graph;
  CUgraphNodeType type_;
  NodeParams params_;
  Graph* graph_;
  std::vector<GraphNode*> dependencies_;
  std::vector<GraphNode*> dependents_;
  bool enabled_ = true;  // meaningful in an executable graph's clone
};

class Graph : public HandleObject {
 public:
  // The nodes, in the order they were added.
  const std::vector<std::shared_ptr<GraphNode>>& nodes() const { return nodes_; }
  bool contains(const GraphNode& node) const { return &node.graph() == this; }

  // Adds a node after `dependencies` (nodes of this graph, no repeats).
  Result<std::shared_ptr<GraphNode>> add(CUgraphNodeType type, NodeParams params,
                                         const std::vector<GraphNode*>& dependencies);
  Status addEdge(GraphNode& from, GraphNode& to);
  Status removeEdge(GraphNode& from, GraphNode& to);
  // Removes a node and its edges; returns it (its handle is for the caller to forget).
  std::shared_ptr<GraphNode> remove(GraphNode& node);

  // Every node after all of its dependencies; an error when the edges form a cycle.
  Result<std::vector<GraphNode*>> topologicalOrder() const;
  // A deep copy (child graphs included); `mapping` receives original -> copy for every node of
  // this graph (not of child graphs). Copies carry no handles.
  std::shared_ptr<Graph> clone(std::map<const GraphNode*, GraphNode*>* mapping = nullptr) const;
  // Whether `other` has the same node types and edges, node for node in order of addition
  // (cuGraphExecUpdate's condition); `mismatch` names the first node that differs.
  bool sameTopology(const Graph& other, const GraphNode** mismatch) const;

  // For a graph made by cuGraphClone: its node for each node (handle) of the original.
  std::map<std::uint64_t, GraphNode*> clonedFrom;

 private:
  std::vector<std::shared_ptr<GraphNode>> nodes_;
};

// An instantiated graph.
class GraphExec : public HandleObject {
 public:
  GraphExec(std::shared_ptr<Graph> graph, std::map<std::uint64_t, GraphNode*> byOriginal,
            std::vector<GraphNode*> order, unsigned long long flags, std::uint64_t contextHandle)
      : graph_(std::move(graph)),
        byOriginal_(std::move(byOriginal)),
        order_(std::move(order)),
        flags_(flags),
        contextHandle_(contextHandle) {}

  Graph& graph() const { return *graph_; }
  // The executable's node for a node (handle) of the graph it was instantiated from.
  GraphNode* nodeFor(std::uint64_t originalHandle) const;
  const std::vector<GraphNode*>& order() const { return order_; }
  unsigned long long flags() const { return flags_; }
  std::uint64_t contextHandle() const { return contextHandle_; }
  // Launches of one executable run one after another (the driver orders them too).
  std::shared_ptr<Completion>& lastLaunch() { return lastLaunch_; }

 private:
  std::shared_ptr<Graph> graph_;
  std::map<std::uint64_t, GraphNode*> byOriginal_;
  std::vector<GraphNode*> order_;
  const unsigned long long flags_;
  const std::uint64_t contextHandle_;
  std::shared_ptr<Completion> lastLaunch_;
};

// The pointers "get params" hands out for a kernel node's arguments.
void refreshArgumentPointers(KernelNode& node);
// Gives `node` new parameters of its type; a kernel node keeps its attributes (which its
// parameters do not carry).
void replaceParams(GraphNode& node, NodeParams params);

// Whether two graphs of the same topology allocate and free the same graph memory (an executable
// cannot be updated to other memory nodes).
bool sameMemoryNodes(const Graph& a, const Graph& b);

// The order in which an executable runs `graph`'s nodes, child graphs expanded in place.
Result<std::vector<GraphNode*>> executionOrder(const Graph& graph);

// cuGraphDebugDotPrint's text.
std::string dotText(const Graph& graph);

}  // namespace fastgpu::sim
