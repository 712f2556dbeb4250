#include "cudasim/capture.h"

#include <algorithm>
#include <set>

#include "cudaabi/stream_capture.h"
#include "cudasim/context.h"
#include "cudasim/driver.h"
#include "cudasim/event.h"

namespace fastgpu::sim {

void registerNode(HandleTable& handles, const std::shared_ptr<GraphNode>& node) {
  if (node->handle() == 0) handles.add(HandleKind::kGraphNode, node);
  if (auto* child = std::get_if<ChildGraphNode>(&node->params())) registerGraph(handles, child->graph);
}

void registerGraph(HandleTable& handles, const std::shared_ptr<Graph>& graph) {
  if (graph->handle() == 0) handles.add(HandleKind::kGraph, graph);
  for (const auto& node : graph->nodes()) registerNode(handles, node);
}

void unregisterGraph(HandleTable& handles, const Graph& graph) {
  for (const auto& node : graph.nodes()) {
    if (const auto* child = std::get_if<ChildGraphNode>(&node->params())) unregisterGraph(handles, *child->graph);
    if (node->handle() != 0) handles.remove(node->handle());
  }
  if (graph.handle() == 0) return;
  handles.remove(graph.handle());
  // The user-object references it owned go with it (destroyed, or a capture that failed).
  if (Driver* driver = Driver::instance()) driver->userObjects().dropOwner(graph.handle());
}

Captures::Capturing* Captures::capturing(const Stream& stream) {
  auto it = streams_.find(stream.id());
  return it == streams_.end() ? nullptr : &it->second;
}

Status Captures::begin(Stream& stream, CUstreamCaptureMode mode, std::shared_ptr<Graph> into,
                       const std::vector<GraphNode*>& dependencies) {
  if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
      mode != CU_STREAM_CAPTURE_MODE_RELAXED) {
    return Status(CUDA_ERROR_INVALID_VALUE, "unknown capture mode");
  }
  if (stream.kind() == Stream::Kind::kLegacy) {
    return Status(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "the legacy default stream cannot be captured");
  }
  std::lock_guard lock(mutex_);
  if (capturing(stream) != nullptr) return Status(CUDA_ERROR_ILLEGAL_STATE, "the stream is capturing already");
  auto sequence = std::make_shared<Sequence>();
  sequence->id = nextId_++;
  sequence->mode = mode;
  sequence->thread = std::this_thread::get_id();
  sequence->origin = stream.id();
  sequence->ownsGraph = !into;
  if (!into) {
    into = std::make_shared<Graph>();
    handles_.add(HandleKind::kGraph, into);
  }
  for (GraphNode* node : dependencies) {
    if (node == nullptr || !into->contains(*node)) return Status(CUDA_ERROR_INVALID_VALUE, "a dependency is not a node of the graph");
  }
  sequence->graph = std::move(into);
  sequences_.push_back(sequence);
  streams_[stream.id()] = Capturing{sequence, dependencies, &stream.context(), !stream.nonBlocking()};
  active_.fetch_add(1, std::memory_order_release);
  return Status::ok();
}

void Captures::finish(const std::shared_ptr<Sequence>& sequence) {
  std::erase_if(streams_, [&](const auto& entry) { return entry.second.sequence == sequence; });
  std::erase_if(events_, [&](const auto& entry) {
    auto owner = entry.second.sequence.lock();
    return !owner || owner == sequence;
  });
  std::erase(sequences_, sequence);
  active_.fetch_sub(1, std::memory_order_release);
}

Result<std::shared_ptr<Graph>> Captures::end(Stream& stream) {
  std::lock_guard lock(mutex_);
  Capturing* state = capturing(stream);
  if (state == nullptr) return Status(CUDA_ERROR_ILLEGAL_STATE, "the stream is not capturing");
  auto sequence = state->sequence;
  if (sequence->origin != stream.id()) {
    sequence->invalidated = true;
    return Status(CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "the capture did not begin on this stream");
  }
  if (sequence->mode != CU_STREAM_CAPTURE_MODE_RELAXED && sequence->thread != std::this_thread::get_id()) {
    return Status(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, "the capture began on another thread");
  }
  // The join: every other stream's frontier must be behind the origin's.
  std::set<const GraphNode*> joined;
  std::vector<const GraphNode*> pending(state->frontier.begin(), state->frontier.end());
  while (!pending.empty()) {
    const GraphNode* node = pending.back();
    pending.pop_back();
    if (!joined.insert(node).second) continue;
    pending.insert(pending.end(), node->dependencies().begin(), node->dependencies().end());
  }
  bool unjoined = false;
  for (const auto& [id, other] : streams_) {
    if (other.sequence != sequence || id == stream.id()) continue;
    for (const GraphNode* node : other.frontier) unjoined = unjoined || joined.count(node) == 0;
  }
  finish(sequence);
  if (sequence->invalidated || unjoined) {
    if (sequence->ownsGraph) unregisterGraph(handles_, *sequence->graph);
    if (sequence->invalidated) return Status(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "the capture was invalidated");
    return Status(CUDA_ERROR_STREAM_CAPTURE_UNJOINED, "a stream forked from the capture was not joined back");
  }
  return sequence->graph;
}

Captures::Info Captures::info(const Stream& stream) {
  Info info;
  if (!anyActive()) return info;
  std::lock_guard lock(mutex_);
  const Capturing* state = capturing(stream);
  if (state == nullptr) return info;
  info.status = state->sequence->invalidated ? CU_STREAM_CAPTURE_STATUS_INVALIDATED : CU_STREAM_CAPTURE_STATUS_ACTIVE;
  info.id = state->sequence->id;
  info.graph = state->sequence->graph.get();
  for (const GraphNode* node : state->frontier) info.dependencies.push_back(toHandle<CUgraphNode>(node->handle()));
  return info;
}

Status Captures::updateDependencies(Stream& stream, const std::vector<GraphNode*>& nodes, unsigned flags) {
  if (flags != CU_STREAM_ADD_CAPTURE_DEPENDENCIES && flags != CU_STREAM_SET_CAPTURE_DEPENDENCIES) {
    return Status(CUDA_ERROR_INVALID_VALUE, "unknown dependency update flags");
  }
  std::lock_guard lock(mutex_);
  Capturing* state = capturing(stream);
  if (state == nullptr) return Status(CUDA_ERROR_ILLEGAL_STATE, "the stream is not capturing");
  for (GraphNode* node : nodes) {
    if (node == nullptr || !state->sequence->graph->contains(*node)) {
      return Status(CUDA_ERROR_INVALID_VALUE, "a node is not in the capture's graph");
    }
  }
  if (flags == CU_STREAM_SET_CAPTURE_DEPENDENCIES) state->frontier.clear();
  for (GraphNode* node : nodes) {
    if (std::find(state->frontier.begin(), state->frontier.end(), node) == state->frontier.end()) {
      state->frontier.push_back(node);
    }
  }
  return Status::ok();
}

Result<GraphNode*> Captures::addNode(Capturing& state, CUgraphNodeType type, NodeParams params) {
  if (state.sequence->invalidated) {
    return Status(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "the stream's capture was invalidated");
  }
  auto node = state.sequence->graph->add(type, std::move(params), state.frontier);
  if (!node) return node.status();
  registerNode(handles_, *node);
  state.frontier = {node->get()};
  return node->get();
}

Result<Captures::Route> Captures::routeDuringCaptures(Stream& stream, CUgraphNodeType type, NodeParams params) {
  std::lock_guard lock(mutex_);
  if (Capturing* state = capturing(stream)) {
    auto node = addNode(*state, type, std::move(params));
    if (!node) return node.status();
    return Route::kCaptured;
  }
  if (stream.kind() != Stream::Kind::kLegacy) return Route::kRun;
  // The legacy stream synchronizes with every blocking stream of its context.
  bool implicit = false;
  for (auto& [id, state] : streams_) {
    if (state.context == &stream.context() && state.blocking) {
      state.sequence->invalidated = true;
      implicit = true;
    }
  }
  if (implicit) {
    return Status(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "the legacy stream was used while a blocking stream captures");
  }
  return Route::kRun;
}

Result<Captures::Route> Captures::recordEvent(Stream& stream, const Event& event) {
  if (!anyActive()) return Route::kRun;
  std::lock_guard lock(mutex_);
  Capturing* state = capturing(stream);
  if (state == nullptr) {
    events_.erase(event.handle());  // an ordinary record replaces a captured one
    return Route::kRun;
  }
  if (state->sequence->invalidated) return Status(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "the capture was invalidated");
  events_[event.handle()] = CapturedEvent{state->sequence, state->frontier};
  return Route::kCaptured;
}

Result<Captures::Route> Captures::waitEvent(Stream& stream, const Event& event, unsigned flags) {
  if (!anyActive()) return Route::kRun;
  std::lock_guard lock(mutex_);
  Capturing* state = capturing(stream);
  auto recorded = events_.find(event.handle());
  std::shared_ptr<Sequence> eventSequence = recorded != events_.end() ? recorded->second.sequence.lock() : nullptr;
  if (eventSequence) {
    if (state == nullptr) {  // a fork: the stream joins the capture
      streams_[stream.id()] = Capturing{eventSequence, recorded->second.nodes, &stream.context(), !stream.nonBlocking()};
      return Route::kCaptured;
    }
    if (state->sequence != eventSequence) {
      state->sequence->invalidated = true;
      eventSequence->invalidated = true;
      return Status(CUDA_ERROR_STREAM_CAPTURE_MERGE, "the event belongs to another capture");
    }
    for (GraphNode* node : recorded->second.nodes) {
      if (std::find(state->frontier.begin(), state->frontier.end(), node) == state->frontier.end()) {
        state->frontier.push_back(node);
      }
    }
    return Route::kCaptured;
  }
  if (state == nullptr) return Route::kRun;
  if ((flags & CU_EVENT_WAIT_EXTERNAL) != 0) {
    auto node = addNode(*state, CU_GRAPH_NODE_TYPE_WAIT_EVENT, EventNode{toHandle<CUevent>(event.handle())});
    if (!node) return node.status();
    return Route::kCaptured;
  }
  state->sequence->invalidated = true;
  return Status(CUDA_ERROR_STREAM_CAPTURE_ISOLATION,
                "a capturing stream waited for an event recorded outside the capture (use CU_EVENT_WAIT_EXTERNAL)");
}

Status Captures::checkUnsafeCall() {
  if (!anyActive()) return Status::ok();
  CUstreamCaptureMode mode = cudaabi::threadCaptureMode();
  if (mode == CU_STREAM_CAPTURE_MODE_RELAXED) return Status::ok();
  std::lock_guard lock(mutex_);
  bool prohibited = false;
  auto me = std::this_thread::get_id();
  for (const auto& sequence : sequences_) {
    bool mine = sequence->thread == me && sequence->mode != CU_STREAM_CAPTURE_MODE_RELAXED;
    bool othersGlobal = mode == CU_STREAM_CAPTURE_MODE_GLOBAL && sequence->thread != me &&
                        sequence->mode == CU_STREAM_CAPTURE_MODE_GLOBAL;
    if (mine || othersGlobal) {
      sequence->invalidated = true;
      prohibited = true;
    }
  }
  if (!prohibited) return Status::ok();
  return Status(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "a potentially unsafe call was made during a stream capture");
}

Status Captures::refuseIfCapturing(const Stream& stream) {
  if (!anyActive()) return Status::ok();
  std::lock_guard lock(mutex_);
  Capturing* state = capturing(stream);
  if (state == nullptr) return Status::ok();
  state->sequence->invalidated = true;
  return Status(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                "a capturing stream cannot be synchronized or queried, nor capture this operation");
}

Status Captures::checkEventSynchronize(const Event& event) {
  if (!anyActive()) return Status::ok();
  std::lock_guard lock(mutex_);
  auto recorded = events_.find(event.handle());
  auto sequence = recorded != events_.end() ? recorded->second.sequence.lock() : nullptr;
  if (!sequence) return Status::ok();
  sequence->invalidated = true;
  return Status(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "an event recorded in a capture cannot be synchronized or queried");
}

Status Captures::checkContextSynchronize(const Context& context) {
  if (!anyActive()) return Status::ok();
  std::lock_guard lock(mutex_);
  bool capturing = false;
  for (auto& [id, state] : streams_) {
    if (state.context == &context) {
      state.sequence->invalidated = true;
      capturing = true;
    }
  }
  if (!capturing) return Status::ok();
  return Status(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "a context with a capturing stream cannot be synchronized");
}

void Captures::streamDestroyed(const Stream& stream) {
  if (!anyActive()) return;
  std::lock_guard lock(mutex_);
  Capturing* state = capturing(stream);
  if (state == nullptr) return;
  auto sequence = state->sequence;
  sequence->invalidated = true;
  if (sequence->origin == stream.id()) {  // nobody can end it now
    finish(sequence);
    if (sequence->ownsGraph) unregisterGraph(handles_, *sequence->graph);
  } else {
    streams_.erase(stream.id());
  }
}

}  // namespace fastgpu::sim
