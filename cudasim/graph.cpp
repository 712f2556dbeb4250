#include "cudasim/graph.h"

#include <algorithm>
#include <deque>

#include <fmt/format.h>

#include "cudaabi/graph_node_types.h"
#include "cudasim/module.h"

namespace fastgpu::sim {

Result<std::shared_ptr<GraphNode>> Graph::add(CUgraphNodeType type, NodeParams params,
                                              const std::vector<GraphNode*>& dependencies) {
  for (std::size_t i = 0; i < dependencies.size(); ++i) {
    if (dependencies[i] == nullptr || !contains(*dependencies[i])) {
      return Status(CUDA_ERROR_INVALID_VALUE, "a dependency is not a node of this graph");
    }
    if (std::find(dependencies.begin(), dependencies.begin() + i, dependencies[i]) != dependencies.begin() + i) {
      return Status(CUDA_ERROR_INVALID_VALUE, "a dependency is listed twice");
    }
  }
  auto node = std::make_shared<GraphNode>(type, std::move(params), *this);
  if (auto* kernel = std::get_if<KernelNode>(&node->params())) refreshArgumentPointers(*kernel);
  for (GraphNode* dependency : dependencies) {
    node->dependencies_.push_back(dependency);
    dependency->dependents_.push_back(node.get());
  }
  nodes_.push_back(node);
  return node;
}

Status Graph::addEdge(GraphNode& from, GraphNode& to) {
  if (!contains(from) || !contains(to) || &from == &to) return Status(CUDA_ERROR_INVALID_VALUE, "not an edge of this graph");
  if (std::find(to.dependencies_.begin(), to.dependencies_.end(), &from) != to.dependencies_.end()) {
    return Status(CUDA_ERROR_INVALID_VALUE, "the edge exists already");
  }
  to.dependencies_.push_back(&from);
  from.dependents_.push_back(&to);
  return Status::ok();
}

Status Graph::removeEdge(GraphNode& from, GraphNode& to) {
  auto in = std::find(to.dependencies_.begin(), to.dependencies_.end(), &from);
  if (!contains(from) || !contains(to) || in == to.dependencies_.end()) {
    return Status(CUDA_ERROR_INVALID_VALUE, "no such edge in this graph");
  }
  to.dependencies_.erase(in);
  from.dependents_.erase(std::find(from.dependents_.begin(), from.dependents_.end(), &to));
  return Status::ok();
}

std::shared_ptr<GraphNode> Graph::remove(GraphNode& node) {
  for (GraphNode* dependency : node.dependencies_) std::erase(dependency->dependents_, &node);
  for (GraphNode* dependent : node.dependents_) std::erase(dependent->dependencies_, &node);
  node.dependencies_.clear();
  node.dependents_.clear();
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const auto& n) { return n.get() == &node; });
  std::shared_ptr<GraphNode> removed = std::move(*it);
  nodes_.erase(it);
  return removed;
}

Result<std::vector<GraphNode*>> Graph::topologicalOrder() const {
  // Kahn's algorithm, taking ready nodes in order of addition so the order is deterministic.
  std::map<const GraphNode*, std::size_t> waiting;
  std::deque<GraphNode*> ready;
  for (const auto& node : nodes_) {
    waiting[node.get()] = node->dependencies_.size();
    if (node->dependencies_.empty()) ready.push_back(node.get());
  }
  std::vector<GraphNode*> order;
  while (!ready.empty()) {
    GraphNode* node = ready.front();
    ready.pop_front();
    order.push_back(node);
    for (GraphNode* dependent : node->dependents_) {
      if (--waiting[dependent] == 0) ready.push_back(dependent);
    }
  }
  if (order.size() != nodes_.size()) return Status(CUDA_ERROR_INVALID_VALUE, "the graph's edges form a cycle");
  return order;
}

std::shared_ptr<Graph> Graph::clone(std::map<const GraphNode*, GraphNode*>* mapping) const {
  auto copy = std::make_shared<Graph>();
  std::map<const GraphNode*, GraphNode*> local;
  auto& map = mapping != nullptr ? *mapping : local;
  for (const auto& node : nodes_) {
    NodeParams params = node->params_;
    if (auto* child = std::get_if<ChildGraphNode>(&params)) child->graph = child->graph->clone();
    auto added = std::make_shared<GraphNode>(node->type_, std::move(params), *copy);
    if (auto* kernel = std::get_if<KernelNode>(&added->params())) refreshArgumentPointers(*kernel);
    added->enabled_ = node->enabled_;
    map[node.get()] = added.get();
    copy->nodes_.push_back(std::move(added));
  }
  for (const auto& node : nodes_) {
    for (GraphNode* dependency : node->dependencies_) {
      map[node.get()]->dependencies_.push_back(map[dependency]);
      map[dependency]->dependents_.push_back(map[node.get()]);
    }
  }
  return copy;
}

bool Graph::sameTopology(const Graph& other, const GraphNode** mismatch) const {
  auto indexIn = [](const Graph& graph) {
    std::map<const GraphNode*, std::size_t> index;
    for (std::size_t i = 0; i < graph.nodes_.size(); ++i) index[graph.nodes_[i].get()] = i;
    return index;
  };
  auto mine = indexIn(*this);
  auto theirs = indexIn(other);
  for (std::size_t i = 0; i < std::max(nodes_.size(), other.nodes_.size()); ++i) {
    *mismatch = i < other.nodes_.size() ? other.nodes_[i].get() : nullptr;
    if (i >= nodes_.size() || i >= other.nodes_.size() || nodes_[i]->type_ != other.nodes_[i]->type_) return false;
    std::vector<std::size_t> a, b;
    for (GraphNode* d : nodes_[i]->dependencies_) a.push_back(mine[d]);
    for (GraphNode* d : other.nodes_[i]->dependencies_) b.push_back(theirs[d]);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a != b) return false;
    const auto* childA = std::get_if<ChildGraphNode>(&nodes_[i]->params_);
    const auto* childB = std::get_if<ChildGraphNode>(&other.nodes_[i]->params_);
    const GraphNode* inner = nullptr;
    if (childA != nullptr && !childA->graph->sameTopology(*childB->graph, &inner)) return false;
  }
  *mismatch = nullptr;
  return true;
}

GraphNode* GraphExec::nodeFor(std::uint64_t originalHandle) const {
  auto it = byOriginal_.find(originalHandle);
  return it == byOriginal_.end() ? nullptr : it->second;
}

void refreshArgumentPointers(KernelNode& node) {
  const auto& info = node.launch.function->info();
  node.argumentPointers.resize(info.params.size());
  for (std::size_t i = 0; i < info.params.size(); ++i) {
    node.argumentPointers[i] = node.launch.parameters.data() + info.params[i].offset;
  }
}

void replaceParams(GraphNode& node, NodeParams params) {
  auto* before = std::get_if<KernelNode>(&node.params());
  auto* after = std::get_if<KernelNode>(&params);
  if (before != nullptr && after != nullptr) after->attributes = before->attributes;
  node.params() = std::move(params);
  if (auto* kernel = std::get_if<KernelNode>(&node.params())) refreshArgumentPointers(*kernel);
}

bool sameMemoryNodes(const Graph& a, const Graph& b) {
  for (std::size_t i = 0; i < a.nodes().size(); ++i) {
    const NodeParams& x = a.nodes()[i]->params();
    const NodeParams& y = b.nodes()[i]->params();
    if (const auto* alloc = std::get_if<MemAllocNode>(&x)) {
      if (alloc->allocation != std::get<MemAllocNode>(y).allocation) return false;
    } else if (const auto* free = std::get_if<MemFreeNode>(&x)) {
      if (free->address != std::get<MemFreeNode>(y).address) return false;
    } else if (const auto* child = std::get_if<ChildGraphNode>(&x)) {
      if (!sameMemoryNodes(*child->graph, *std::get<ChildGraphNode>(y).graph)) return false;
    }
  }
  return true;
}

Result<std::vector<GraphNode*>> executionOrder(const Graph& graph) {
  auto order = graph.topologicalOrder();
  if (!order) return order.status();
  std::vector<GraphNode*> expanded;
  for (GraphNode* node : *order) {
    if (auto* child = std::get_if<ChildGraphNode>(&node->params())) {
      auto inner = executionOrder(*child->graph);
      if (!inner) return inner.status();
      expanded.insert(expanded.end(), inner->begin(), inner->end());
    } else {
      expanded.push_back(node);
    }
  }
  return expanded;
}

namespace {

std::string nodeLabel(const GraphNode& node) {
  if (const auto* kernel = std::get_if<KernelNode>(&node.params())) {
    const auto& l = kernel->launch;
    return fmt::format("kernel {}\\n<<<({},{},{}), ({},{},{}), {}>>>", l.function->info().name, l.grid.x, l.grid.y,
                       l.grid.z, l.block.x, l.block.y, l.block.z, l.sharedBytes);
  }
  if (const auto* copy = std::get_if<CopyNode>(&node.params())) {
    return fmt::format("memcpy {:#x} -> {:#x}\\n{} x {} x {} bytes", copy->copy.src, copy->copy.dst, copy->copy.width,
                       copy->copy.height, copy->copy.depth);
  }
  if (const auto* memset = std::get_if<MemsetNode>(&node.params())) {
    return fmt::format("memset {:#x}\\nvalue {:#x}, {} x {} of {} bytes", memset->params.dst, memset->params.value,
                       memset->params.width, memset->params.height, memset->params.elementSize);
  }
  return cudaabi::graphNodeTypeName(node.type());
}

void appendDot(const Graph& graph, const std::string& prefix, std::string& out) {
  std::map<const GraphNode*, std::size_t> index;
  for (std::size_t i = 0; i < graph.nodes().size(); ++i) index[graph.nodes()[i].get()] = i;
  for (const auto& node : graph.nodes()) {
    std::string id = fmt::format("{}n{}", prefix, index[node.get()]);
    if (const auto* child = std::get_if<ChildGraphNode>(&node->params())) {
      out += fmt::format("subgraph cluster_{} {{\nlabel=\"child graph\";\n", id);
      appendDot(*child->graph, id + "_", out);
      out += "}\n";
    }
    out += fmt::format("\"{}\" [shape=box, label=\"{}\"];\n", id, nodeLabel(*node));
    for (const GraphNode* dependency : node->dependencies()) {
      out += fmt::format("\"{}n{}\" -> \"{}\";\n", prefix, index[dependency], id);
    }
  }
}

}  // namespace

std::string dotText(const Graph& graph) {
  std::string out = "digraph cudasim_graph {\n";
  appendDot(graph, "", out);
  out += "}\n";
  return out;
}

}  // namespace fastgpu::sim
