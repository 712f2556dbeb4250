#include "cudaabi/proc_address.h"

#include <algorithm>
#include <array>

namespace fastgpu::cudaabi {
namespace {

enum StreamKind : std::uint8_t { kLegacy, kPerThread };

struct ProcAddressEntry {
  std::string_view name;
  int version;
  StreamKind kind;
  std::size_t symbolIndex;
};

#define FASTGPU_LEGACY kLegacy
#define FASTGPU_PER_THREAD kPerThread
// Sorted by name, then version (the generator sorts them).
constexpr ProcAddressEntry kEntries[] = {
#include "cudaabi/proc_address_entries.inc"
};
#undef FASTGPU_LEGACY
#undef FASTGPU_PER_THREAD

constexpr bool entriesAreSorted() {
  for (std::size_t i = 1; i < std::size(kEntries); ++i) {
    if (kEntries[i].name < kEntries[i - 1].name) return false;
  }
  return true;
}
static_assert(entriesAreSorted(), "the generator must emit proc-address entries sorted by name");

const ProcAddressEntry* newestAtOrBelow(std::span<const ProcAddressEntry> entries, StreamKind kind, int version) {
  const ProcAddressEntry* best = nullptr;
  for (const auto& entry : entries) {
    if (entry.kind == kind && entry.version <= version && (best == nullptr || entry.version > best->version)) {
      best = &entry;
    }
  }
  return best;
}

}  // namespace

ProcAddressAnswer lookupProcAddress(std::string_view name, int cudaVersion, std::uint64_t flags) {
  auto [first, last] = std::equal_range(std::begin(kEntries), std::end(kEntries), ProcAddressEntry{name, 0, kLegacy, 0},
                                        [](const auto& a, const auto& b) { return a.name < b.name; });
  std::span<const ProcAddressEntry> entries(first, last);
  if (entries.empty()) return {CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND, 0};

  bool perThreadAsked = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  bool hasPerThread = std::any_of(entries.begin(), entries.end(), [](const auto& e) { return e.kind == kPerThread; });
  const ProcAddressEntry* found =
      newestAtOrBelow(entries, perThreadAsked && hasPerThread ? kPerThread : kLegacy, cudaVersion);
  if (found == nullptr) return {CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT, 0};
  return {CU_GET_PROC_ADDRESS_SUCCESS, found->symbolIndex};
}

CUresult getProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                        CUdriverProcAddressQueryResult* symbolStatus, std::span<void* const> addresses) {
  constexpr cuuint64_t kKnownFlags = CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  if (symbol == nullptr || pfn == nullptr || (flags & ~kKnownFlags) != 0 || cudaVersion < 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  ProcAddressAnswer answer = lookupProcAddress(symbol, cudaVersion, flags);
  // A function the library does not implement is absent, whatever its version.
  if (answer.status == CU_GET_PROC_ADDRESS_SUCCESS &&
      (answer.symbolIndex >= addresses.size() || addresses[answer.symbolIndex] == nullptr)) {
    answer.status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  }
  if (symbolStatus != nullptr) *symbolStatus = answer.status;
  if (answer.status != CU_GET_PROC_ADDRESS_SUCCESS) {
    *pfn = nullptr;
    return CUDA_ERROR_NOT_FOUND;
  }
  *pfn = addresses[answer.symbolIndex];
  return CUDA_SUCCESS;
}

}  // namespace fastgpu::cudaabi
