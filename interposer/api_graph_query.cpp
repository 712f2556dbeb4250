// What can be asked of any graph's nodes through the server (DESIGN.md decision 12): nodes,
// roots, edges, node types, dependencies and dependents, answered by the server's driver (for
// captured graphs too: their nodes get ids as they are listed); a dot print made from them.
#include <cstdio>
#include <string>

#include "cudaabi/graph_node_types.h"
#include "interposer/remote.h"
#include "protocol/graph_edge_data.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

using Query = wire::GraphQuery::What;

// A graph of this process, or a child graph borrowed from one of its nodes.
bool readable(Runtime& rt, std::uint64_t graph) { return rt.hasGraphObject(graph) || rt.isBorrowedGraph(graph); }

// A query answered with values.
CUresult askValues(Runtime& rt, Client& client, std::uint64_t subject, Query what, std::vector<std::int64_t>& values) {
  CallMessage call(rt.currentContextId());
  auto query = call->initGraphQuery();
  query.setSubject(subject);
  query.setWhat(what);
  auto reply = ask(client, call);
  if (!reply) return resultOf(client, reply, false);
  values = valuesOf(**reply);
  return CUDA_SUCCESS;
}

// The driver's way of listing: with no array, the count; else up to *count entries, and *count
// lowered to what there is. Entries are `stride` values each; `write` writes entry i.
template <typename Write>
CUresult listOut(const std::vector<std::int64_t>& values, std::size_t stride, bool wantEntries, std::size_t* count,
                 Write&& write) {
  std::size_t entries = values.size() / stride;
  if (!wantEntries) {
    *count = entries;
    return CUDA_SUCCESS;
  }
  std::size_t written = std::min(*count, entries);
  for (std::size_t i = 0; i < written; ++i) write(i, &values[i * stride]);
  *count = written;
  return CUDA_SUCCESS;
}

CUresult listNodes(const char* name, std::uint64_t graph, Query what, CUgraphNode* nodes, std::size_t* count) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (count == nullptr || !readable(rt, graph)) return CUDA_ERROR_INVALID_VALUE;
    if (nodes == nullptr && what == Query::NODES) {  // the count alone, as PyTorch asks it
      CallMessage call(rt.currentContextId());
      call->setGraphNodeCount(graph);
      return askValue(client, call, count);
    }
    std::vector<std::int64_t> values;
    if (CUresult result = askValues(rt, client, graph, what, values); result != CUDA_SUCCESS) return result;
    return listOut(values, 1, nodes != nullptr, count,
                   [&](std::size_t i, const std::int64_t* v) { nodes[i] = handleOf<CUgraphNode>(v[0]); });
  });
}

CUresult neighbours(const char* name, CUgraphNode node, Query what, CUgraphNode* out, CUgraphEdgeData* data,
                    std::size_t* count) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (count == nullptr || node == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::vector<std::int64_t> values;
    if (CUresult result = askValues(rt, client, idOf(node), what, values); result != CUDA_SUCCESS) return result;
    bool lossy = false;
    CUresult result = listOut(values, 2, out != nullptr, count, [&](std::size_t i, const std::int64_t* v) {
      out[i] = handleOf<CUgraphNode>(v[0]);
      CUgraphEdgeData edge = protocol::unpackEdgeData(static_cast<std::uint64_t>(v[1]));
      if (data != nullptr) data[i] = edge;
      lossy = lossy || (data == nullptr && v[1] != 0);
    });
    return lossy ? CUDA_ERROR_LOSSY_QUERY : result;
  });
}

CUresult edges(const char* name, CUgraph graph, CUgraphNode* from, CUgraphNode* to, CUgraphEdgeData* data,
               std::size_t* count) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) -> CUresult {
    if (count == nullptr || !readable(rt, idOf(graph)) || ((from == nullptr) != (to == nullptr))) {
      return CUDA_ERROR_INVALID_VALUE;
    }
    std::vector<std::int64_t> values;
    if (CUresult result = askValues(rt, client, idOf(graph), Query::EDGES, values); result != CUDA_SUCCESS) return result;
    bool lossy = false;
    CUresult result = listOut(values, 3, from != nullptr, count, [&](std::size_t i, const std::int64_t* v) {
      from[i] = handleOf<CUgraphNode>(v[0]);
      to[i] = handleOf<CUgraphNode>(v[1]);
      if (data != nullptr) data[i] = protocol::unpackEdgeData(static_cast<std::uint64_t>(v[2]));
      lossy = lossy || (data == nullptr && v[2] != 0);
    });
    return lossy ? CUDA_ERROR_LOSSY_QUERY : result;
  });
}

// cuGraphDebugDotPrint: written here from the graph's nodes, types and edges (the server's own
// print would show its process's addresses).
CUresult dotPrint(CUgraph graph, const char* path) {
  return remoteEntry("cuGraphDebugDotPrint", [&](Runtime& rt, Client& client) -> CUresult {
    if (path == nullptr || !readable(rt, idOf(graph))) return CUDA_ERROR_INVALID_VALUE;
    std::vector<std::int64_t> nodes, links;
    if (CUresult result = askValues(rt, client, idOf(graph), Query::NODES, nodes); result != CUDA_SUCCESS) return result;
    if (CUresult result = askValues(rt, client, idOf(graph), Query::EDGES, links); result != CUDA_SUCCESS) return result;
    std::string text = "digraph dot {\n";
    for (std::int64_t node : nodes) {
      std::vector<std::int64_t> type;
      if (CUresult result = askValues(rt, client, static_cast<std::uint64_t>(node), Query::TYPE, type); result != CUDA_SUCCESS) {
        return result;
      }
      text += fmt::format("  \"n{:x}\" [label=\"{}\"];\n", node, cudaabi::graphNodeTypeName(static_cast<CUgraphNodeType>(type.empty() ? -1 : type[0])));
    }
    for (std::size_t i = 0; i + 3 <= links.size(); i += 3) {
      text += fmt::format("  \"n{:x}\" -> \"n{:x}\";\n", links[i], links[i + 1]);
    }
    text += "}\n";
    std::FILE* file = std::fopen(path, "w");
    if (file == nullptr) return CUDA_ERROR_OPERATING_SYSTEM;
    bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
    return std::fclose(file) == 0 && written ? CUDA_SUCCESS : CUDA_ERROR_OPERATING_SYSTEM;
  });
}

}  // namespace

FASTGPU_REMOTE_EXPORT CUresult cuGraphGetNodes(CUgraph graph, CUgraphNode* nodes, size_t* count) {
  return listNodes(__func__, idOf(graph), Query::NODES, nodes, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphGetRootNodes(CUgraph graph, CUgraphNode* nodes, size_t* count) {
  return listNodes(__func__, idOf(graph), Query::ROOTS, nodes, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphGetEdges(CUgraph graph, CUgraphNode* from, CUgraphNode* to, size_t* count) {
  return edges(__func__, graph, from, to, nullptr, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphGetEdges_v2(CUgraph graph, CUgraphNode* from, CUgraphNode* to,
                                                  CUgraphEdgeData* data, size_t* count) {
  return edges(__func__, graph, from, to, data, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphNodeGetType(CUgraphNode node, CUgraphNodeType* type) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (type == nullptr || node == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::vector<std::int64_t> values;
    if (CUresult result = askValues(rt, client, idOf(node), Query::TYPE, values); result != CUDA_SUCCESS) return result;
    if (values.size() != 1) return CUDA_ERROR_UNKNOWN;
    *type = static_cast<CUgraphNodeType>(values[0]);
    return CUDA_SUCCESS;
  });
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphNodeGetDependencies(CUgraphNode node, CUgraphNode* out, size_t* count) {
  return neighbours(__func__, node, Query::DEPENDENCIES, out, nullptr, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphNodeGetDependencies_v2(CUgraphNode node, CUgraphNode* out,
                                                             CUgraphEdgeData* data, size_t* count) {
  return neighbours(__func__, node, Query::DEPENDENCIES, out, data, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphNodeGetDependentNodes(CUgraphNode node, CUgraphNode* out, size_t* count) {
  return neighbours(__func__, node, Query::DEPENDENTS, out, nullptr, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphNodeGetDependentNodes_v2(CUgraphNode node, CUgraphNode* out,
                                                               CUgraphEdgeData* data, size_t* count) {
  return neighbours(__func__, node, Query::DEPENDENTS, out, data, count);
}
FASTGPU_REMOTE_EXPORT CUresult cuGraphDebugDotPrint(CUgraph graph, const char* path, unsigned int) {
  return dotPrint(graph, path);
}

// The graph a child graph node holds, borrowed: for the queries above (the nodes, their types and
// parameters, the edges, a dot print); changing, cloning, instantiating or destroying it is
// refused with CUDA_ERROR_NOT_SUPPORTED (the client's records know nothing of changes made in
// it), as is changing its nodes. It goes when its node or the graph holding that node does.
FASTGPU_REMOTE_EXPORT CUresult cuGraphChildGraphNodeGetGraph(CUgraphNode node, CUgraph* graph) {
  return remoteEntry(__func__, [&](Runtime& rt, Client& client) -> CUresult {
    if (node == nullptr || graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
    CallMessage call(rt.currentContextId());
    call->setGraphChildGraph(idOf(node));
    auto reply = ask(client, call);
    if (!reply) return resultOf(client, reply, false);
    auto values = valuesOf(**reply);
    if (values.size() != 2) return CUDA_ERROR_UNKNOWN;
    rt.addBorrowedGraph(static_cast<std::uint64_t>(values[0]), static_cast<std::uint64_t>(values[1]));
    *graph = handleOf<CUgraph>(static_cast<std::uint64_t>(values[0]));
    return CUDA_SUCCESS;
  });
}
