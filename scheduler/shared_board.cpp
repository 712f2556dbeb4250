#include "scheduler/shared_board.h"

#include <algorithm>
#include <new>

namespace fastgpu::scheduler {

Result<std::unique_ptr<SharedBoard>> SharedBoard::create() {
  auto region = SharedRegion::create("fastgpu-board", sizeof(BoardLayout));
  if (!region) return region.status();
  return std::unique_ptr<SharedBoard>(new SharedBoard(std::move(*region)));
}

SharedBoard::SharedBoard(SharedRegion region)
    : region_(std::move(region)),
      layout_(new (region_.data()) BoardLayout()),
      vgpuTaken_(BoardLayout::kMaxVgpus),
      sessionTaken_(BoardLayout::kMaxSessions) {}

SharedBoard::~SharedBoard() {
  for (int place = 0; place < BoardLayout::kMaxVgpus; ++place) {
    if (vgpuTaken_[static_cast<std::size_t>(place)]) layout_->vgpu(place).~VgpuEntry();
  }
  layout_->~BoardLayout();
}

std::optional<int> SharedBoard::takeVgpu(std::uint64_t limitBytes) {
  std::lock_guard lock(mutex_);
  for (int place = 0; place < BoardLayout::kMaxVgpus; ++place) {
    if (vgpuTaken_[static_cast<std::size_t>(place)]) continue;
    vgpuTaken_[static_cast<std::size_t>(place)] = true;
    new (layout_->vgpus[place]) VgpuEntry(limitBytes);
    return place;
  }
  return std::nullopt;
}

void SharedBoard::giveBackVgpu(int place) {
  std::lock_guard lock(mutex_);
  layout_->vgpu(place).~VgpuEntry();
  vgpuTaken_[static_cast<std::size_t>(place)] = false;
}

std::optional<int> SharedBoard::takeSession(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  for (int slot = 0; slot < BoardLayout::kMaxSessions; ++slot) {
    if (sessionTaken_[static_cast<std::size_t>(slot)]) continue;
    sessionTaken_[static_cast<std::size_t>(slot)] = true;
    SessionSlot& taken = layout_->sessions[slot];
    taken.~SessionSlot();
    new (&taken) SessionSlot();
    taken.session = id;
    return slot;
  }
  return std::nullopt;
}

void SharedBoard::giveBackSession(int slot) {
  std::lock_guard lock(mutex_);
  layout_->sessions[slot].session = 0;
  sessionTaken_[static_cast<std::size_t>(slot)] = false;
}

Result<std::pair<SharedRegion, BoardLayout*>> mapBoard(int fd) {
  auto region = SharedRegion::adopt(fd, sizeof(BoardLayout));
  if (!region) return region.status();
  auto* layout = static_cast<BoardLayout*>(region->data());
  if (layout->magic != BoardLayout::kMagic || layout->bytes != sizeof(BoardLayout)) {
    return Status(CUDA_ERROR_INVALID_VALUE, "the shared board has another layout (a worker of another version?)");
  }
  return std::pair<SharedRegion, BoardLayout*>(std::move(*region), layout);
}

int VgpuAccess::physicalDevice(int clientOrdinal) const {
  if (clientOrdinal < 0 || clientOrdinal >= static_cast<int>(devices_.size())) return -1;
  return devices_[static_cast<std::size_t>(clientOrdinal)].ordinal;
}

Status VgpuAccess::reserve(std::uint64_t bytes) const {
  if (vgpu_ != nullptr) return vgpu_->quota.reserve(bytes, slot_.memory);
  slot_.memory.add(bytes);
  return Status::ok();
}

void VgpuAccess::release(std::uint64_t bytes) const {
  if (vgpu_ != nullptr) {
    vgpu_->quota.release(bytes, slot_.memory);
  } else {
    slot_.memory.remove(bytes);
  }
}

VgpuAccess::Snapshot VgpuAccess::snapshot() const {
  Snapshot snapshot;
  if (vgpu_ != nullptr) {
    snapshot.limitBytes = vgpu_->quota.limit();
    snapshot.heldBytes = snapshot.limitBytes - std::min(snapshot.limitBytes, vgpu_->quota.available());
    snapshot.metered = gate_ != nullptr;
    snapshot.gpuNanos = vgpu_->usage.endedGpuNanos.load();
  }
  auto count = [&](const SessionSlot& session) {
    if (vgpu_ == nullptr) snapshot.heldBytes += session.memory.heldBytes.load();
    snapshot.gpuNanos += session.gpuTime.nanos.load();
    if (snapshot.processes.size() < Snapshot::kMaxProcesses) {
      snapshot.processes.push_back({session.pid.load(), session.memory.heldBytes.load()});
    }
  };
  if (sessions_.empty()) {
    count(slot_);
    return snapshot;
  }
  for (const SessionSlot& session : sessions_) {
    if (session.session.load() != 0 && session.vgpuPlace.load() == vgpuPlace_) count(session);
  }
  return snapshot;
}

}  // namespace fastgpu::scheduler
