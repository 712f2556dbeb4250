// A single-producer single-consumer byte ring in memory that both ends can write: the data path
// of the memory transports (shared memory now; RDMA's rings use the same layout). Frames travel
// through it as they travel through a socket (header, then payload), so the framing and its
// checks are the stream transports' own.
//
// Positions are free-running 64-bit byte counts: the producer owns `head`, the consumer `tail`,
// and each side keeps its own position privately, publishing it for the other. The other side's
// position is read from shared memory once per check, into a local, and checked before use
// (0 <= head - tail <= capacity): a peer that writes garbage into the ring makes the connection
// fail with a reason, never makes this side read or write outside the ring.
//
// Waiting: a side that finds nothing to do spins for 30 µs (kSpin; a reply usually comes sooner),
// then sleeps on a futex word the other side bumps after it moves its position, so an idle
// session costs no CPU. A waiter gives up when `RingWait::stop` is set (see wakeRingWaiters) or
// its time runs out.
//
// Over RDMA (rdma_connection.h) each side keeps its control blocks in its own memory, and the
// ring's data twice: the producer writes into its own copy, and a RingPublisher carries each
// published range to the peer's copy; the peer's completion thread moves the position and
// bumps the signal there, so the code below is the same for both transports.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "cudaabi/result.h"

namespace fastgpu::protocol {

// In shared memory, written by both sides. Each side writes only its own fields (a hostile peer
// writes what it likes, which the checks above absorb). The futex words are 32-bit, as the
// kernel wants them.
struct RingControl {
  alignas(64) std::atomic<std::uint64_t> head;  // bytes ever written (the producer's)
  std::atomic<std::uint32_t> dataSignal;        // bumped by the producer after head moves
  std::atomic<std::uint32_t> consumerSleeping;  // 1 while the consumer sleeps on dataSignal
  alignas(64) std::atomic<std::uint64_t> tail;  // bytes ever read (the consumer's)
  std::atomic<std::uint32_t> spaceSignal;       // bumped by the consumer after tail moves
  std::atomic<std::uint32_t> producerSleeping;  // 1 while the producer sleeps on spaceSignal
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "ring positions must be lock-free atomics to live in shared memory");
static_assert(sizeof(std::atomic<std::uint32_t>) == 4, "a futex word is 32 bits");
static_assert(sizeof(RingControl) == 128, "the shared layout is fixed");

// How long a ring operation may wait, and what ends it early.
struct RingWait {
  // Set (by the owner) when the connection ends; waiters give up once nothing is left to do.
  const std::atomic<bool>* stop = nullptr;
  // The whole operation fails when this passes (a receive's deadline).
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // The operation fails when it makes no progress for this long (an idle timeout).
  std::optional<std::chrono::milliseconds> idle;
};

// Carries a side's published position (and, for a producer, the bytes up to it) to the peer when
// the memory is not shared (RDMA). Called by the ring's one thread after the position moved from
// `from` to `to` (to - from <= kRingPublishBytes); a failure fails the ring operation.
class RingPublisher {
 public:
  virtual ~RingPublisher() = default;
  virtual Status published(std::uint64_t from, std::uint64_t to) = 0;
};

// Positions move by at most this much at a time while a large frame streams through, so that
// the other side copies while this one does (a pipeline, not turns).
inline constexpr std::size_t kRingPublishBytes = 256 << 10;

// The producing end of a ring. One thread at a time.
class RingProducer {
 public:
  // `data.size()` must be a power of two. Starts at position 0: a ring is used from its reset on
  // (resetRing), never taken over halfway. `publisher`, when given, outlives this.
  RingProducer(RingControl& control, std::span<std::uint8_t> data, RingPublisher* publisher = nullptr);

  // Copies every byte of `pieces` into the ring, in order, publishing as it goes and waiting for
  // room while the ring is full. Fails with kDisconnected when `wait.stop` is set, kFailed with
  // CUDA_ERROR_TIMEOUT when the wait runs out, kFailed when the consumer's position is garbage.
  Status write(std::span<const iovec> pieces, const RingWait& wait, std::string_view peer);

 private:
  Status publish();

  RingControl& control_;
  std::uint8_t* const data_;
  const std::uint64_t capacity_;
  RingPublisher* const publisher_;
  std::uint64_t head_;       // ours: the shared copy is only published
  std::uint64_t published_;  // what the last publish() made known
};

// The consuming end of a ring. One thread at a time.
class RingConsumer {
 public:
  RingConsumer(RingControl& control, std::span<const std::uint8_t> data, RingPublisher* publisher = nullptr);

  // Copies exactly `bytes` out of the ring, waiting for them. Fails as write() does; with
  // kDisconnected only once the ring is empty and `wait.stop` is set (what the peer wrote before
  // it left is still read).
  Status read(std::uint8_t* into, std::size_t bytes, const RingWait& wait, std::string_view peer);

  // Bytes read so far: a caller tells a read that failed before its first byte from one that
  // failed halfway.
  std::uint64_t position() const { return tail_; }

 private:
  // Publishes tail_ (`waiting`: this side is about to wait for data).
  Status release(bool waiting);

  RingControl& control_;
  const std::uint8_t* const data_;
  const std::uint64_t capacity_;
  RingPublisher* const publisher_;
  std::uint64_t tail_;      // ours
  std::uint64_t released_;  // what the publisher last carried (with a publisher only)
};

// Over RDMA, from the completion thread: the peer published `bytes` more into the ring of
// `control` (its consumer's side: moves head, wakes the consumer), or read `bytes` more of it (its
// producer's side: moves tail, wakes the producer). A position moved past the other is caught by
// the ring's own checks.
void advanceRingHead(RingControl& control, std::uint64_t bytes);
void advanceRingTail(RingControl& control, std::uint64_t bytes);

// Makes every thread of this process sleeping on `control` wake up and look at its stop flag
// (set it first). Callable from any thread.
void wakeRingWaiters(RingControl& control);

// Puts a ring's control block in its empty state (before the peer sees it).
void resetRing(RingControl& control);

}  // namespace fastgpu::protocol
