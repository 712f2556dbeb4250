#include "cudasim/context.h"

#include <algorithm>

#include <fmt/format.h>

namespace fastgpu::sim {

void ContextErrors::recordAsyncError(CUresult error) {
  std::lock_guard lock(mutex_);
  if (isSticky(error) && sticky_ == CUDA_SUCCESS) sticky_ = error;
  if (pending_ == CUDA_SUCCESS) pending_ = error;
}

CUresult ContextErrors::take() {
  std::lock_guard lock(mutex_);
  if (sticky_ != CUDA_SUCCESS) return sticky_;
  CUresult error = pending_;
  pending_ = CUDA_SUCCESS;
  return error;
}

CUresult ContextErrors::sticky() const {
  std::lock_guard lock(mutex_);
  return sticky_;
}

bool ContextErrors::isSticky(CUresult error) {
  switch (error) {
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_ASSERT:
      return true;
    default:
      return false;
  }
}

Context::Context(Device& device, unsigned flags, bool primary, Progress& progress)
    : device_(device),
      flags_(flags),
      primary_(primary),
      progress_(progress),
      errors_(std::make_shared<ContextErrors>()),
      legacy_(std::make_shared<Stream>(Stream::Kind::kLegacy, 0, 0, *this, device, progress, errors_)) {
  limits_ = {{CU_LIMIT_STACK_SIZE, 1024},
             {CU_LIMIT_PRINTF_FIFO_SIZE, 1 << 20},
             {CU_LIMIT_MALLOC_HEAP_SIZE, 8 << 20},
             {CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH, 2},
             {CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT, 2048},
             {CU_LIMIT_MAX_L2_FETCH_GRANULARITY, 32},
             {CU_LIMIT_PERSISTING_L2_CACHE_SIZE, 0}};
}

Context::~Context() = default;

Status Context::enablePeer(std::uint64_t peer) {
  std::lock_guard lock(mutex_);
  if (!peers_.insert(peer).second) return Status(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, "peer access is enabled already");
  return Status::ok();
}

Status Context::disablePeer(std::uint64_t peer) {
  std::lock_guard lock(mutex_);
  if (peers_.erase(peer) == 0) return Status(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, "peer access is not enabled");
  return Status::ok();
}  // streams drain and join as they are destroyed

std::shared_ptr<Stream> Context::perThreadStream() {
  std::lock_guard lock(mutex_);
  auto& stream = perThread_[std::this_thread::get_id()];
  if (!stream) stream = std::make_shared<Stream>(Stream::Kind::kPerThread, 0, 0, *this, device_, progress_, errors_);
  return stream;
}

std::shared_ptr<Stream> Context::createStream(unsigned flags, int priority) {
  auto stream = std::make_shared<Stream>(Stream::Kind::kCreated, flags, priority, *this, device_, progress_, errors_);
  std::lock_guard lock(mutex_);
  created_.push_back(stream);
  return stream;
}

void Context::forgetStream(const Stream& stream) {
  std::shared_ptr<Stream> doomed;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(created_.begin(), created_.end(), [&](const auto& s) { return s.get() == &stream; });
    if (it == created_.end()) return;
    doomed = std::move(*it);
    created_.erase(it);
  }
  // `doomed` drains and joins here, outside the lock, unless an operation still holds it.
}

std::shared_ptr<Completion> Context::enqueue(Stream& stream, Operation operation) {
  std::lock_guard lock(mutex_);
  if (stream.kind() == Stream::Kind::kLegacy) {
    for (const auto& other : created_) {
      if (!other->nonBlocking()) operation.waitFor.push_back(other->tail());
    }
    for (const auto& [thread, other] : perThread_) operation.waitFor.push_back(other->tail());
  } else if (!stream.nonBlocking()) {
    operation.waitFor.push_back(legacy_->tail());
  }
  return stream.enqueue(std::move(operation));
}

void Context::synchronize() {
  std::vector<std::shared_ptr<Completion>> tails{legacy_->tail()};
  {
    std::lock_guard lock(mutex_);
    for (const auto& stream : created_) tails.push_back(stream->tail());
    for (const auto& [thread, stream] : perThread_) tails.push_back(stream->tail());
  }
  for (const auto& tail : tails) progress_.wait(*tail);
}

Result<std::size_t> Context::limit(CUlimit which) const {
  std::lock_guard lock(mutex_);
  auto it = limits_.find(which);
  if (it == limits_.end()) return Status(CUDA_ERROR_UNSUPPORTED_LIMIT, fmt::format("unsupported limit {}", static_cast<int>(which)));
  return it->second;
}

Status Context::setLimit(CUlimit which, std::size_t value) {
  std::lock_guard lock(mutex_);
  auto it = limits_.find(which);
  if (it == limits_.end()) return Status(CUDA_ERROR_UNSUPPORTED_LIMIT, fmt::format("unsupported limit {}", static_cast<int>(which)));
  it->second = value;
  return Status::ok();
}

}  // namespace fastgpu::sim
