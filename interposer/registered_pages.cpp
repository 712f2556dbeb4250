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

// Replaces the pages [base, base + bytes) with private copies of themselves, in one step; false
// when memory runs out (they stay as they are).
bool privatize(std::uint64_t base, std::uint64_t bytes) {
  void* copy = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (copy == MAP_FAILED) return false;
  std::memcpy(copy, reinterpret_cast<const void*>(base), bytes);
  if (::mremap(copy, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(base)) == MAP_FAILED) {
    ::munmap(copy, bytes);
    return false;
  }
  return true;
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
  auto last = end ? cudaabi::checkedAdd(*end, kPage - 1) : std::nullopt;
  if (heap == nullptr || !last || bytes == 0) return std::nullopt;
  MovedPages moved{.base = start / kPage * kPage};
  moved.bytes = *last / kPage * kPage - moved.base;
  if (!privateAnonymousPages(moved.base, moved.bytes)) return std::nullopt;
  CallMessage call(rt.currentContextId());
  call->setHostAllocShared(moved.bytes);
  auto reply = ask(client, call);
  if (!reply) return std::nullopt;
  auto values = valuesOf(**reply);
  if (values.size() != 2) return std::nullopt;
  moved.heapOffset = static_cast<std::uint64_t>(values[0]);
  moved.device = static_cast<std::uint64_t>(values[1]);
  auto giveBack = [&] {
    CallMessage free(rt.currentContextId());
    free->setHostFreeShared(moved.heapOffset);
    (void)askResult(client, free);
  };
  auto mapped = heap->map(moved.heapOffset, moved.bytes);
  if (!mapped) {
    giveBack();
    return std::nullopt;
  }
  installForkHandler();
  std::lock_guard lock(movedRanges().mutex);  // a fork sees the pages moved and listed, or neither
  std::memcpy(*mapped, reinterpret_cast<const void*>(moved.base), moved.bytes);
  if (::mremap(*mapped, moved.bytes, moved.bytes, MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(moved.base)) ==
      MAP_FAILED) {
    ::munmap(*mapped, moved.bytes);
    giveBack();
    return std::nullopt;
  }
  // The heap's mappings are not inherited by a child; these pages must be (the program's own).
  ::madvise(reinterpret_cast<void*>(moved.base), moved.bytes, MADV_DOFORK);
  movedRanges().ranges.emplace_back(moved.base, moved.bytes);
  return moved;
}

CUresult movePagesBack(Runtime& rt, Client& client, const MovedPages& moved) {
  // As the driver's unregister: the device's work on the pages ends first (its errors stay
  // deferred for the next synchronizing call).
  CallMessage sync(rt.currentContextId());
  sync->setContextSynchronize(0);
  (void)askResult(client, sync);
  {
    std::lock_guard lock(movedRanges().mutex);
    if (!privatize(moved.base, moved.bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
    auto& ranges = movedRanges().ranges;
    std::erase(ranges, std::pair{moved.base, moved.bytes});
  }
  CallMessage free(rt.currentContextId());
  free->setHostFreeShared(moved.heapOffset);
  return askResult(client, free);
}

}  // namespace fastgpu::interposer
