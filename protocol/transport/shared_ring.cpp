// See shared_ring.h.
#include "protocol/transport/shared_ring.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <ctime>
#include <utility>

#include <fmt/format.h>

namespace fastgpu::protocol {
namespace {

using Clock = std::chrono::steady_clock;

// How long a waiter spins before it sleeps: a round trip through a worker usually completes
// sooner, and a futex sleep and wake-up costs several microseconds on each side.
constexpr auto kSpin = std::chrono::microseconds(30);
constexpr std::size_t kPublishBytes = kRingPublishBytes;

void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

std::uint32_t* futexWord(std::atomic<std::uint32_t>& word) {
  return reinterpret_cast<std::uint32_t*>(&word);  // lock-free, 4 bytes: the word itself
}

// The segment is shared between processes: no FUTEX_PRIVATE_FLAG.
void futexWait(std::atomic<std::uint32_t>& word, std::uint32_t seen, std::optional<Clock::duration> limit) {
  timespec relative{};
  if (limit) {
    auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(*limit).count();
    relative.tv_sec = static_cast<time_t>(nanos / 1'000'000'000);
    relative.tv_nsec = static_cast<long>(nanos % 1'000'000'000);
  }
  // EAGAIN (the word moved), EINTR and timeouts all mean: look again.
  ::syscall(SYS_futex, futexWord(word), FUTEX_WAIT, seen, limit ? &relative : nullptr, nullptr, 0);
}

void futexWakeAll(std::atomic<std::uint32_t>& word) {
  ::syscall(SYS_futex, futexWord(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

// Bumps `signal` and wakes its sleeper if it says it sleeps. seq_cst on both sides: a waiter
// sets its flag and then looks at the position; a signaller moves the position and then looks
// at the flag; one of them sees the other.
void signal(std::atomic<std::uint32_t>& word, const std::atomic<std::uint32_t>& sleeping) {
  word.fetch_add(1, std::memory_order_seq_cst);
  if (sleeping.load(std::memory_order_seq_cst) != 0) futexWakeAll(word);
}

enum class WaitEnd { kReady, kStopped, kTimedOut };

// Waits until `ready()`, spinning first, then sleeping on `word`.
template <typename Ready>
WaitEnd await(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& sleeping, const RingWait& wait,
              Ready&& ready) {
  auto started = Clock::now();
  for (unsigned spins = 1;; ++spins) {
    if (ready()) return WaitEnd::kReady;
    if (spins % 64 == 0 && Clock::now() - started >= kSpin) break;
    cpuRelax();
  }
  std::optional<Clock::time_point> limit = wait.deadline;
  if (wait.idle) limit = std::min(limit.value_or(Clock::time_point::max()), started + *wait.idle);
  for (;;) {
    if (wait.stop->load(std::memory_order_seq_cst)) return ready() ? WaitEnd::kReady : WaitEnd::kStopped;
    std::optional<Clock::duration> left;
    if (limit) {
      left = *limit - Clock::now();
      if (left->count() <= 0) return ready() ? WaitEnd::kReady : WaitEnd::kTimedOut;
    }
    sleeping.store(1, std::memory_order_seq_cst);
    std::uint32_t seen = word.load(std::memory_order_seq_cst);
    if (!ready() && !wait.stop->load(std::memory_order_seq_cst)) futexWait(word, seen, left);
    sleeping.store(0, std::memory_order_relaxed);
    if (ready()) return WaitEnd::kReady;
  }
}

Status waitFailure(WaitEnd end, std::string_view what, std::string_view peer) {
  if (end == WaitEnd::kStopped) {
    return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, fmt::format("{} closed the connection", peer));
  }
  return Status(ErrorKind::kFailed, CUDA_ERROR_TIMEOUT, fmt::format("{} {} timed out", what, peer));
}

Status corruptPosition(std::string_view peer) {
  return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE,
                fmt::format("{} wrote a ring position out of range: the connection is unusable", peer));
}

}  // namespace

RingProducer::RingProducer(RingControl& control, std::span<std::uint8_t> data, RingPublisher* publisher)
    : control_(control), data_(data.data()), capacity_(data.size()), publisher_(publisher), head_(0), published_(0) {}

Status RingProducer::publish() {
  if (publisher_ != nullptr) {
    std::uint64_t from = std::exchange(published_, head_);
    return head_ == from ? Status::ok() : publisher_->published(from, head_);
  }
  control_.head.store(head_, std::memory_order_seq_cst);
  signal(control_.dataSignal, control_.consumerSleeping);
  return Status::ok();
}

Status RingProducer::write(std::span<const iovec> pieces, const RingWait& wait, std::string_view peer) {
  std::size_t piece = 0;
  std::size_t offset = 0;  // into pieces[piece]
  std::size_t sincePublishBytes = 0;
  for (;;) {
    while (piece < pieces.size() && offset == pieces[piece].iov_len) {
      ++piece;
      offset = 0;
    }
    if (piece == pieces.size()) break;
    if (wait.stop->load(std::memory_order_acquire)) return waitFailure(WaitEnd::kStopped, "send to", peer);
    std::uint64_t tail = control_.tail.load(std::memory_order_acquire);
    std::uint64_t used = head_ - tail;
    if (used > capacity_) return corruptPosition(peer);
    if (used == capacity_) {
      // What is written so far, before waiting for room.
      if (Status status = publish(); !status) return status;
      sincePublishBytes = 0;
      WaitEnd end = await(control_.spaceSignal, control_.producerSleeping, wait,
                          [&] { return control_.tail.load(std::memory_order_acquire) != tail; });
      if (end != WaitEnd::kReady) return waitFailure(end, "send to", peer);
      continue;
    }
    std::size_t bytes = static_cast<std::size_t>(
        std::min<std::uint64_t>({capacity_ - used, pieces[piece].iov_len - offset, kPublishBytes - sincePublishBytes}));
    std::size_t at = static_cast<std::size_t>(head_ & (capacity_ - 1));
    std::size_t first = std::min<std::size_t>(bytes, static_cast<std::size_t>(capacity_) - at);
    const auto* from = static_cast<const std::uint8_t*>(pieces[piece].iov_base) + offset;
    std::memcpy(data_ + at, from, first);
    std::memcpy(data_, from + first, bytes - first);
    head_ += bytes;
    offset += bytes;
    sincePublishBytes += bytes;
    if (sincePublishBytes == kPublishBytes) {
      if (Status status = publish(); !status) return status;
      sincePublishBytes = 0;
    }
  }
  return sincePublishBytes > 0 ? publish() : Status::ok();
}

RingConsumer::RingConsumer(RingControl& control, std::span<const std::uint8_t> data, RingPublisher* publisher)
    : control_(control), data_(data.data()), capacity_(data.size()), publisher_(publisher), tail_(0), released_(0) {}

Status RingConsumer::release(bool waiting) {
  if (publisher_ != nullptr) {
    // Each move costs a message: it goes when the producer may be short of room (a quarter of
    // the ring read), or before this side waits (the producer may be waiting for it).
    if (tail_ == released_ || (!waiting && tail_ - released_ < capacity_ / 4)) return Status::ok();
    return publisher_->published(std::exchange(released_, tail_), tail_);
  }
  control_.tail.store(tail_, std::memory_order_seq_cst);
  signal(control_.spaceSignal, control_.producerSleeping);
  return Status::ok();
}

Status RingConsumer::read(std::uint8_t* into, std::size_t bytes, const RingWait& wait, std::string_view peer) {
  while (bytes > 0) {
    std::uint64_t head = control_.head.load(std::memory_order_acquire);
    std::uint64_t ready = head - tail_;
    if (ready > capacity_) return corruptPosition(peer);
    if (ready == 0) {
      if (Status status = release(true); !status) return status;
      WaitEnd end = await(control_.dataSignal, control_.consumerSleeping, wait,
                          [&] { return control_.head.load(std::memory_order_acquire) != head; });
      if (end != WaitEnd::kReady) return waitFailure(end, "receive from", peer);
      continue;
    }
    std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>({ready, bytes, kPublishBytes}));
    std::size_t at = static_cast<std::size_t>(tail_ & (capacity_ - 1));
    std::size_t first = std::min<std::size_t>(chunk, static_cast<std::size_t>(capacity_) - at);
    std::memcpy(into, data_ + at, first);
    std::memcpy(into + first, data_, chunk - first);
    tail_ += chunk;
    into += chunk;
    bytes -= chunk;
    if (Status status = release(false); !status) return status;
  }
  return Status::ok();
}

void advanceRingHead(RingControl& control, std::uint64_t bytes) {
  control.head.fetch_add(bytes, std::memory_order_seq_cst);
  signal(control.dataSignal, control.consumerSleeping);
}

void advanceRingTail(RingControl& control, std::uint64_t bytes) {
  control.tail.fetch_add(bytes, std::memory_order_seq_cst);
  signal(control.spaceSignal, control.producerSleeping);
}

void wakeRingWaiters(RingControl& control) {
  control.dataSignal.fetch_add(1, std::memory_order_seq_cst);
  control.spaceSignal.fetch_add(1, std::memory_order_seq_cst);
  futexWakeAll(control.dataSignal);
  futexWakeAll(control.spaceSignal);
}

void resetRing(RingControl& control) {
  control.head.store(0);
  control.dataSignal.store(0);
  control.consumerSleeping.store(0);
  control.tail.store(0);
  control.spaceSignal.store(0);
  control.producerSleeping.store(0);
}

}  // namespace fastgpu::protocol
