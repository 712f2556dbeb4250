// See registered_pages.h.
#include "interposer/registered_pages.h"

#include <pthread.h>
#include <sys/mman.h>

#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "cudaabi/checked_math.h"
#include "interposer/process_mappings.h"
#include "interposer/remote.h"
#include "interposer/shared_pinned.h"

namespace fastgpu::interposer {
namespace {

constexpr std::uint64_t kPage = 4096;

// The moved ranges, for the fork handler (which may take no other lock).
struct MovedRanges {
  std::mutex mutex;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;  // base, bytes
};
MovedRanges& movedRanges() {
  static auto* ranges = new MovedRanges;  // never destroyed: fork handlers outlive statics
  return *ranges;
}

// Puts the mapping `fresh` over the pages [base, base + bytes) after copying their bytes into it,
// in one step (mremap: the addresses are never unmapped); false when that fails (`fresh` is
// unmapped, the pages stay as they are).
bool replacePages(void* fresh, std::uint64_t base, std::uint64_t bytes) {
  std::memcpy(fresh, reinterpret_cast<const void*>(base), bytes);
  if (::mremap(fresh, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(base)) == MAP_FAILED) {
    ::munmap(fresh, bytes);
    return false;
  }
  return true;
}

// Replaces the pages [base, base + bytes) with private copies of themselves; false when memory
// runs out (they stay as they are).
bool privatize(std::uint64_t base, std::uint64_t bytes) {
  void* copy = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return copy != MAP_FAILED && replacePages(copy, base, bytes);
}

void installForkHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    ::pthread_atfork([] { movedRanges().mutex.lock(); }, [] { movedRanges().mutex.unlock(); },
                     [] {
                       // The child: its parent's shared pages become its own, as they are now.
                       for (const auto& [base, bytes] : movedRanges().ranges) (void)privatize(base, bytes);
                       movedRanges().mutex.unlock();
                     });
  });
}

}  // namespace

std::optional<MovedPages> movePagesIntoHeap(Runtime& rt, Client& client, void* pointer, std::uint64_t bytes) {
  const protocol::SharedHeap* heap = client.sharedHeap();
  auto start = reinterpret_cast<std::uint64_t>(pointer);
  auto end = cudaabi::checkedAdd(start, bytes);
  auto last = end ? protocol::wholePages(*end) : std::nullopt;  // the end of the last page
  if (heap == nullptr || !last || bytes == 0) return std::nullopt;
  MovedPages moved{.base = start / kPage * kPage};
  moved.bytes = *last - moved.base;
  if (!privateAnonymousPages(moved.base, moved.bytes)) return std::nullopt;
  auto range = askSharedRange(rt, client, moved.bytes);
  if (!range) return std::nullopt;
  moved.heapOffset = range->offset;
  moved.device = range->device;
  auto mapped = heap->map(moved.heapOffset, moved.bytes);
  installForkHandler();
  std::lock_guard lock(movedRanges().mutex);  // a fork sees the pages moved and listed, or neither
  if (!mapped || !replacePages(*mapped, moved.base, moved.bytes)) {
    (void)freeSharedRange(rt, client, moved.heapOffset);
    return std::nullopt;
  }
  // The heap's mappings are not inherited by a child; these pages must be (the program's own).
  ::madvise(reinterpret_cast<void*>(moved.base), moved.bytes, MADV_DOFORK);
  movedRanges().ranges.emplace_back(moved.base, moved.bytes);
  return moved;
}

CUresult movePagesBack(Runtime& rt, Client& client, const MovedPages& moved) {
  awaitContextWork(rt, client);  // as the driver's unregister: the device is done with the pages
  {
    std::lock_guard lock(movedRanges().mutex);
    if (!privatize(moved.base, moved.bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
    auto& ranges = movedRanges().ranges;
    std::erase(ranges, std::pair{moved.base, moved.bytes});
  }
  return freeSharedRange(rt, client, moved.heapOffset);
}

}  // namespace fastgpu::interposer
