// A same-host session's pinned memory in the shared heap (protocol/transport/shared_heap.h), on
// the worker's side: ranges handed out for the client's cuMemHostAlloc, each mapped here and
// registered with the driver, so that copies between them and the device are the driver's own
// (copyShared), asynchronous ones truly so.
//
// Bounded: the heap's ranges end below `limit` bytes, and at most kMaxAllocations are live; past
// either an allocation is refused and the client makes its pinned memory locally, as over a
// socket. Freed ranges give their pages back and
// are reused first (first fit, neighbours merged).
//
// Threading: the session's thread only.
#pragma once

#include <cstdint>
#include <map>

#include "cudaabi/driver_symbols.h"
#include "cudaabi/result.h"
#include "protocol/transport/shared_heap.h"

namespace fastgpu::server {

class SharedHostMemory {
 public:
  static constexpr std::uint64_t kDefaultLimit = 16ULL << 30;
  // Allocations at once: each is a mapping of the worker's (the kernel allows about 65,000).
  static constexpr std::size_t kMaxAllocations = 16384;

  SharedHostMemory(const cudaabi::DriverTable& driver, protocol::SharedHeap heap,
                   std::uint64_t limit = kDefaultLimit)
      : driver_(driver), heap_(std::move(heap)), limit_(limit) {}
  ~SharedHostMemory() { clear(); }
  SharedHostMemory(const SharedHostMemory&) = delete;
  SharedHostMemory& operator=(const SharedHostMemory&) = delete;

  struct Granted {
    std::uint64_t offset;  // in the heap
    std::uint64_t device;  // the device's address of it (with unified addressing, this side's
                           // address too); 0 when the driver maps none
  };
  // A range of at least `bytes` (whole pages), mapped here and registered, mapped for the device.
  Result<Granted> allocate(std::uint64_t bytes);
  // Unregisters and unmaps the allocation at `offset`, gives its pages back.
  Status free(std::uint64_t offset);
  // This side's address of [offset, offset + bytes), which must lie in one allocation.
  Result<void*> find(std::uint64_t offset, std::uint64_t bytes) const;
  // Frees everything (before the session's contexts go).
  void clear();

  int descriptor() const { return heap_.descriptor(); }

 private:
  struct Allocation {
    std::uint64_t bytes;  // whole pages
    void* address;
  };
  std::optional<std::uint64_t> takeFreeRange(std::uint64_t bytes);
  void giveBackRange(std::uint64_t offset, std::uint64_t bytes);

  const cudaabi::DriverTable& driver_;
  protocol::SharedHeap heap_;
  const std::uint64_t limit_;
  std::map<std::uint64_t, Allocation> live_;        // by offset
  std::map<std::uint64_t, std::uint64_t> unused_;   // freed ranges below end_: offset -> bytes
  std::uint64_t end_ = 0;                           // where the next new range starts
};

}  // namespace fastgpu::server
