// Page-locked host memory shared by a same-host client and its session's worker (issue 11,
// point 3): one memfd per session, made by the worker and handed over with the ring segment.
// The worker grows it for each cuMemHostAlloc of the client, maps the new range and registers it
// with the driver; the client maps the same range as its pinned memory. Copies between that
// memory and the device are then the driver's own (DMA from the shared pages on a GPU), with no
// byte through the rings.
//
// The file is sealed against shrinking (neither side can pull pages from under the other's
// mapping, which would make every access fault) but may grow. Each side maps only ranges inside
// the size it checked; a client that grows the file itself wastes only its own address space.
#pragma once

#include <cstdint>
#include <optional>

#include "cudaabi/result.h"

namespace fastgpu::protocol {

class SharedHeap {
 public:
  // A fresh, empty heap (the worker's side).
  static Result<SharedHeap> create();
  // A heap the other side created (the client's side), taking over `descriptor` (closed on
  // failure too). Checks that it is a sealed memory file.
  static Result<SharedHeap> adopt(int descriptor);

  SharedHeap(SharedHeap&& other) noexcept;
  SharedHeap& operator=(SharedHeap&&) = delete;
  SharedHeap(const SharedHeap&) = delete;
  ~SharedHeap();

  // Makes sure the file holds [offset, offset + bytes) (the worker's side, which hands out ranges).
  Status reserve(std::uint64_t offset, std::uint64_t bytes) const;
  // Maps [offset, offset + bytes) read-write, shared, populated, not inherited by a forked child;
  // at `at` when that is free in this process (the other side's address of the range: then one
  // pointer names the memory on both sides), else anywhere. Refuses a range that is not
  // page-aligned or lies beyond the file's size.
  Result<void*> map(std::uint64_t offset, std::uint64_t bytes, void* at = nullptr) const;
  // Gives the pages of [offset, offset + bytes) back to the system (a freed range; the file keeps
  // its size, reads of the range give zeros).
  void release(std::uint64_t offset, std::uint64_t bytes) const;

  // The memfd, for sending to the peer; still owned by this object.
  int descriptor() const { return descriptor_; }

 private:
  explicit SharedHeap(int descriptor) : descriptor_(descriptor) {}
  int descriptor_;
};

// `bytes` rounded up to whole pages; nullopt when that overflows.
std::optional<std::uint64_t> wholePages(std::uint64_t bytes);

}  // namespace fastgpu::protocol
