#include "interposer/capture_mirror.h"

#include <algorithm>
#include <cstring>

#include "cudaabi/stream_capture.h"

namespace fastgpu::interposer {
namespace {

// Calls `row(offset in this process's memory, offset in the packed bytes, width)` for each row of
// the effect's bytes (one row when they are back to back).
template <typename Row>
void forEachHostRow(const HostEffect& effect, Row&& row) {
  if (!effect.strides || effect.strides->width == 0 || effect.strides->height == 0) {
    row(0, 0, effect.bytes);
    return;
  }
  const HostStrides& s = *effect.strides;
  std::uint64_t packed = 0;
  for (std::uint64_t slice = 0; packed < effect.bytes; ++slice) {
    for (std::uint64_t r = 0; r < s.height && packed < effect.bytes; ++r) {
      row(slice * s.slicePitch + r * s.pitch, packed, std::min(s.width, effect.bytes - packed));
      packed += s.width;
    }
  }
}

}  // namespace

void gatherHostBytes(const HostEffect& effect, std::uint8_t* packed) {
  const auto* source = static_cast<const std::uint8_t*>(effect.source);
  forEachHostRow(effect, [&](std::uint64_t at, std::uint64_t into, std::uint64_t bytes) {
    std::memcpy(packed + into, source + at, bytes);
  });
}

void scatterHostBytes(const HostEffect& effect, const std::uint8_t* packed) {
  auto* destination = static_cast<std::uint8_t*>(effect.destination);
  forEachHostRow(effect, [&](std::uint64_t at, std::uint64_t from, std::uint64_t bytes) {
    std::memcpy(destination + at, packed + from, bytes);
  });
}

CaptureMirror::Key CaptureMirror::keyOf(CUstream stream, bool perThread) {
  auto id = reinterpret_cast<std::uintptr_t>(stream);
  bool perThreadDefault = id == reinterpret_cast<std::uintptr_t>(CU_STREAM_PER_THREAD) || (id == 0 && perThread);
  if (perThreadDefault) return Key{reinterpret_cast<std::uintptr_t>(CU_STREAM_PER_THREAD), std::this_thread::get_id()};
  if (id == reinterpret_cast<std::uintptr_t>(CU_STREAM_LEGACY)) return Key{};
  return Key{id, {}};
}

CaptureMirror::Member* CaptureMirror::member(const Key& key) {
  auto it = streams_.find(key);
  return it == streams_.end() ? nullptr : &it->second;
}

void CaptureMirror::begin(const Key& key, std::uint64_t id, CUstreamCaptureMode mode, std::uint64_t context,
                          bool blocking, std::uint64_t into) {
  auto capture = std::make_shared<Capture>(Capture{id, mode, std::this_thread::get_id(), key, false});
  capture->graphId = into;
  capture->intoGraph = into != 0;
  std::lock_guard lock(mutex_);
  streams_[key] = Member{capture, context, blocking};
  active_.fetch_add(1, std::memory_order_release);
}

void CaptureMirror::learnedGraph(const Key& key, std::uint64_t graph) {
  std::lock_guard lock(mutex_);
  if (Member* found = member(key)) found->capture->graphId = graph;
}

bool CaptureMirror::isCaptureGraph(std::uint64_t graph) {
  if (graph == 0 || !anyActive()) return false;
  std::lock_guard lock(mutex_);
  return std::any_of(streams_.begin(), streams_.end(),
                     [&](const auto& entry) { return entry.second.capture->graphId == graph; });
}

std::optional<CaptureMirror::State> CaptureMirror::state(const Key& key) {
  if (!anyActive()) return std::nullopt;
  std::lock_guard lock(mutex_);
  const Member* found = member(key);
  if (found == nullptr) return std::nullopt;
  const Capture& capture = *found->capture;
  return State{capture.id, capture.invalidated, capture.origin == key, capture.graphId, capture.intoGraph};
}

bool CaptureMirror::endsOnThisThread(const Key& key) {
  std::lock_guard lock(mutex_);
  const Member* found = member(key);
  return found == nullptr || found->capture->mode == CU_STREAM_CAPTURE_MODE_RELAXED ||
         found->capture->thread == std::this_thread::get_id();
}

CapturedGraph CaptureMirror::end(const Key& key) {
  std::lock_guard lock(mutex_);
  const Member* found = member(key);
  if (found == nullptr) return {};
  auto capture = found->capture;
  forget(capture);
  return std::move(capture->graph);
}

void CaptureMirror::addAllocation(const Key& key, std::uint64_t address) {
  std::lock_guard lock(mutex_);
  if (Member* found = member(key)) {
    found->capture->graph.allocations.push_back(address);
    found->capture->graph.leftLive.push_back(address);
  }
}

void CaptureMirror::freedInCapture(const Key& key, std::uint64_t address) {
  std::lock_guard lock(mutex_);
  if (Member* found = member(key)) std::erase(found->capture->graph.leftLive, address);
}

CUresult CaptureMirror::addEffect(const Key& key, HostEffect effect) {
  std::lock_guard lock(mutex_);
  Member* found = member(key);
  if (found == nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  Capture& capture = *found->capture;
  if (capture.invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  capture.graph.effects.push_back(effect);
  return CUDA_SUCCESS;
}

CUresult CaptureMirror::work(const Key& key, std::uint64_t context, bool capturable) {
  if (!anyActive()) return CUDA_SUCCESS;
  std::lock_guard lock(mutex_);
  if (Member* found = member(key)) {
    if (found->capture->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (capturable) return CUDA_SUCCESS;
    found->capture->invalidated = true;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  if (!isLegacy(key)) return CUDA_SUCCESS;
  // The legacy stream synchronizes with every blocking stream of its context.
  bool implicit = false;
  for (auto& [other, state] : streams_) {
    if (state.context == context && state.blocking) {
      state.capture->invalidated = true;
      implicit = true;
    }
  }
  return implicit ? CUDA_ERROR_STREAM_CAPTURE_IMPLICIT : CUDA_SUCCESS;
}

CUresult CaptureMirror::synchronizing(const Key& key) {
  if (!anyActive()) return CUDA_SUCCESS;
  std::lock_guard lock(mutex_);
  Member* found = member(key);
  if (found == nullptr) return CUDA_SUCCESS;
  found->capture->invalidated = true;
  return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

CUresult CaptureMirror::eventSynchronizing(std::uint64_t event) {
  if (!anyActive()) return CUDA_SUCCESS;
  std::lock_guard lock(mutex_);
  auto it = events_.find(event);
  auto capture = it != events_.end() ? it->second.lock() : nullptr;
  if (!capture) return CUDA_SUCCESS;
  capture->invalidated = true;
  return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

CUresult CaptureMirror::contextSynchronizing(std::uint64_t context) {
  if (!anyActive()) return CUDA_SUCCESS;
  std::lock_guard lock(mutex_);
  bool capturing = false;
  for (auto& [key, state] : streams_) {
    if (state.context == context) {
      state.capture->invalidated = true;
      capturing = true;
    }
  }
  return capturing ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}

CUresult CaptureMirror::unsafeCall() {
  if (!anyActive()) return CUDA_SUCCESS;
  CUstreamCaptureMode mode = cudaabi::threadCaptureMode();
  if (mode == CU_STREAM_CAPTURE_MODE_RELAXED) return CUDA_SUCCESS;
  std::lock_guard lock(mutex_);
  auto me = std::this_thread::get_id();
  bool prohibited = false;
  for (auto& [key, state] : streams_) {
    const Capture& capture = *state.capture;
    bool mine = capture.thread == me && capture.mode != CU_STREAM_CAPTURE_MODE_RELAXED;
    bool othersGlobal =
        mode == CU_STREAM_CAPTURE_MODE_GLOBAL && capture.thread != me && capture.mode == CU_STREAM_CAPTURE_MODE_GLOBAL;
    if (mine || othersGlobal) {
      state.capture->invalidated = true;
      prohibited = true;
    }
  }
  return prohibited ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}

void CaptureMirror::recorded(const Key& key, std::uint64_t event) {
  if (!anyActive()) return;
  std::lock_guard lock(mutex_);
  if (const Member* found = member(key)) {
    events_[event] = found->capture;
  } else {
    events_.erase(event);  // an ordinary record replaces a captured one
  }
}

CUresult CaptureMirror::waiting(const Key& key, std::uint64_t event, unsigned flags, std::uint64_t context,
                                bool blocking) {
  if (!anyActive()) return CUDA_SUCCESS;
  std::lock_guard lock(mutex_);
  Member* found = member(key);
  auto recorded = events_.find(event);
  auto eventCapture = recorded != events_.end() ? recorded->second.lock() : nullptr;
  if (eventCapture) {
    if (found == nullptr) {  // a fork: the stream joins the capture
      streams_[key] = Member{eventCapture, context, blocking};
      return CUDA_SUCCESS;
    }
    if (found->capture == eventCapture) return CUDA_SUCCESS;
    found->capture->invalidated = true;
    eventCapture->invalidated = true;
    return CUDA_ERROR_STREAM_CAPTURE_MERGE;
  }
  if (found == nullptr || (flags & CU_EVENT_WAIT_EXTERNAL) != 0) return CUDA_SUCCESS;
  found->capture->invalidated = true;
  return CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
}

void CaptureMirror::invalidate(const Key& key) {
  std::lock_guard lock(mutex_);
  if (Member* found = member(key)) found->capture->invalidated = true;
}

void CaptureMirror::streamDestroyed(const Key& key) {
  if (!anyActive()) return;
  std::lock_guard lock(mutex_);
  Member* found = member(key);
  if (found == nullptr) return;
  auto capture = found->capture;
  capture->invalidated = true;
  if (!(capture->origin == key)) {
    streams_.erase(key);
    return;
  }
  forget(capture);  // nobody can end it now (the server's driver drops it with its stream)
}

void CaptureMirror::forget(const std::shared_ptr<Capture>& capture) {
  std::erase_if(streams_, [&](const auto& entry) { return entry.second.capture == capture; });
  std::erase_if(events_, [&](const auto& entry) {
    auto owner = entry.second.lock();
    return !owner || owner == capture;
  });
  active_.fetch_sub(1, std::memory_order_release);
}

}  // namespace fastgpu::interposer
