#include "cudaabi/export_tables.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <utility>

#include "cudaabi/log.h"

namespace fastgpu::cudaabi {
namespace {

std::atomic<DriverServices*> gServices{nullptr};

DriverServices* services() { return gServices.load(std::memory_order_acquire); }

// Most tables start with their own size in bytes.
void* tableSize(std::size_t slots) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(slots * sizeof(void*)));
}

template <typename Fn>
void* slot(Fn* fn) {
  return reinterpret_cast<void*>(fn);
}

// The tables by the number unknownSlot names them with, as their UUIDs read.
constexpr const char* kTableUuids[] = {"",
                                       "6bd5fb6c-5bf4-e74a-8987-d93912fd9df9",   // 1: cudart interface
                                       "42d85a81-23f6-cb47-8298-f6e78a3aecdc",   // 2: tools TLS
                                       "a094798c-2e74-2e74-93f2-0800200c0a66",   // 3: tools callback hooks
                                       "c693336e-1121-df11-a8c3-68f355d89593",   // 4: context-local storage
                                       "263e8860-7cd2-6143-92f6-bbd5006dfa7e",   // 5: context checks
                                       "d4082055-bde6-704b-8d34-ba123c66e1f2"};  // 6: integrity check

// Slots whose meaning is unknown: they say so once, by table UUID and slot, and fail, rather
// than pretend.
template <int kTable, int kSlot>
CUresult unknownSlot() noexcept {
  static_assert(kTable > 0 && kTable < static_cast<int>(std::size(kTableUuids)));
  static std::once_flag once;
  std::call_once(once, [] {
    driverLogger().warn("private driver table {{{}}} slot {} is not implemented; returning CUDA_ERROR_NOT_SUPPORTED",
                        kTableUuids[kTable], kSlot);
  });
  return CUDA_ERROR_NOT_SUPPORTED;
}

// Logs a table the driver does not have once per UUID (libraries ask again and again).
void reportUnknownTable(const CUuuid& id) {
  static std::mutex mutex;
  static std::set<std::array<std::uint8_t, 16>> reported;
  std::array<std::uint8_t, 16> bytes;
  std::memcpy(bytes.data(), id.bytes, bytes.size());
  {
    std::lock_guard lock(mutex);
    if (!reported.insert(bytes).second) return;
  }
  driverLogger().info("cuGetExportTable: no table {{{:02x}-{:02x}-{:02x}-{:02x}-{:02x}}}; refused",
                      fmt::join(bytes.begin(), bytes.begin() + 4, ""), fmt::join(bytes.begin() + 4, bytes.begin() + 6, ""),
                      fmt::join(bytes.begin() + 6, bytes.begin() + 8, ""),
                      fmt::join(bytes.begin() + 8, bytes.begin() + 10, ""), fmt::join(bytes.begin() + 10, bytes.end(), ""));
}

// ---- cudart interface {6bd5fb6c-5bf4-e74a-8987-d93912fd9df9} ----

void runtimeGetModuleFromCubin(CUmodule* module, const void* wrapper) noexcept {
  if (services() == nullptr || module == nullptr) return;
  if (services()->loadModuleForRuntime(module, wrapper) != CUDA_SUCCESS) *module = nullptr;
}

CUresult runtimeRetainPrimaryContext(CUcontext* context, CUdevice device) noexcept {
  if (services() == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return services()->retainPrimaryContextForRuntime(context, device);
}

CUresult runtimeGetModuleFromCubinExt1(CUmodule* module, const void* wrapper, void*, void*, unsigned) noexcept {
  if (services() == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  if (module == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return services()->loadModuleForRuntime(module, wrapper);
}

CUresult runtimeGetModuleFromCubinExt2(const void* fatbin, CUmodule* module, void*, void*, unsigned) noexcept {
  return runtimeGetModuleFromCubinExt1(module, fatbin, nullptr, nullptr, 0);
}

// Slots 3, 7 and 12 are called by libcudart 13 during initialization; their meaning is not
// known, nothing observable depends on them, and the real driver lets the runtime proceed. We
// do the same: report success and do nothing (documented in docs/driver-abi.md).
CUresult runtimeInitHookSlot3() noexcept { return CUDA_SUCCESS; }
CUresult runtimeInitHookSlot7(std::size_t) noexcept { return CUDA_SUCCESS; }
CUresult runtimeLoadCompilersSlot12() noexcept { return CUDA_SUCCESS; }

void* gCudartInterface[13] = {
    tableSize(13),
    slot(runtimeGetModuleFromCubin),
    slot(runtimeRetainPrimaryContext),
    slot(runtimeInitHookSlot3),
    slot(unknownSlot<1, 4>),
    slot(unknownSlot<1, 5>),
    slot(runtimeGetModuleFromCubinExt1),
    slot(runtimeInitHookSlot7),
    slot(runtimeGetModuleFromCubinExt2),
    slot(unknownSlot<1, 9>),
    slot(unknownSlot<1, 10>),
    slot(unknownSlot<1, 11>),
    slot(runtimeLoadCompilersSlot12),
};

// ---- tools thread-local storage {42d85a81-23f6-cb47-8298-f6e78a3aecdc} ----

void* gToolsTls[4] = {tableSize(4), slot(unknownSlot<2, 1>), slot(unknownSlot<2, 2>), slot(unknownSlot<2, 3>)};

// ---- tools callback hooks {a094798c-2e74-2e74-93f2-0800200c0a66} ----
// The runtime reads these buffers to learn which tool callbacks are enabled; all zero means
// none. Lengths are in 32-bit words, as the real driver hands them out.

std::uint32_t gToolsCallbackBuffer[1024];
std::uint32_t gToolsCallbackFlags[14];

void toolsCallbackBuffer(void** buffer, std::size_t* words) noexcept {
  if (buffer != nullptr) *buffer = gToolsCallbackBuffer;
  if (words != nullptr) *words = std::size(gToolsCallbackBuffer);
}

void toolsCallbackFlags(void** buffer, std::size_t* words) noexcept {
  if (buffer != nullptr) *buffer = gToolsCallbackFlags;
  if (words != nullptr) *words = std::size(gToolsCallbackFlags);
}

void* gToolsCallbackHooks[7] = {
    tableSize(7),       slot(unknownSlot<3, 1>), slot(toolsCallbackBuffer), slot(unknownSlot<3, 3>),
    slot(unknownSlot<3, 4>), slot(unknownSlot<3, 5>), slot(toolsCallbackFlags),
};

// ---- context-local storage {c693336e-1121-df11-a8c3-68f355d89593} ----
// The runtime keeps its per-context state here. "get" runs before almost every runtime call:
// it takes a shared lock only.

using ContextStorageDestructor = void (*)(CUcontext, void* key, void* value);

struct ContextStorageEntry {
  void* value;
  ContextStorageDestructor destructor;
};

class ContextLocalStorage {
 public:
  CUresult put(CUcontext context, void* key, void* value, ContextStorageDestructor destructor) {
    std::unique_lock lock(mutex_);
    entries_[{context, key}] = {value, destructor};
    return CUDA_SUCCESS;
  }

  CUresult erase(CUcontext context, void* key) {
    std::unique_lock lock(mutex_);
    return entries_.erase({context, key}) == 1 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
  }

  CUresult get(void** value, CUcontext context, void* key) {
    std::shared_lock lock(mutex_);
    auto it = entries_.find({context, key});
    if (it == entries_.end()) return CUDA_ERROR_INVALID_HANDLE;
    *value = it->second.value;
    return CUDA_SUCCESS;
  }

  void destroy(CUcontext context) {
    std::vector<std::pair<void*, ContextStorageEntry>> doomed;
    {
      std::unique_lock lock(mutex_);
      auto it = entries_.lower_bound({context, nullptr});
      while (it != entries_.end() && it->first.first == context) {
        doomed.emplace_back(it->first.second, it->second);
        it = entries_.erase(it);
      }
    }
    // Outside the lock: a destructor may call back into the runtime.
    for (auto& [key, entry] : doomed) {
      if (entry.destructor != nullptr) entry.destructor(context, key, entry.value);
    }
  }

 private:
  std::shared_mutex mutex_;
  std::map<std::pair<CUcontext, void*>, ContextStorageEntry> entries_;
};

ContextLocalStorage& contextStorage() {
  static ContextLocalStorage* storage = new ContextLocalStorage;  // lives until exit, by design
  return *storage;
}

CUcontext contextOrCurrent(CUcontext context) {
  if (context == nullptr && services() != nullptr) return services()->currentContext();
  return context;
}

CUresult contextStoragePut(CUcontext context, void* key, void* value, ContextStorageDestructor destructor) noexcept {
  return contextStorage().put(contextOrCurrent(context), key, value, destructor);
}

CUresult contextStorageDelete(CUcontext context, void* key) noexcept {
  return contextStorage().erase(contextOrCurrent(context), key);
}

CUresult contextStorageGet(void** value, CUcontext context, void* key) noexcept {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return contextStorage().get(value, contextOrCurrent(context), key);
}

// No size slot in this table.
void* gContextLocalStorage[4] = {slot(contextStoragePut), slot(contextStorageDelete), slot(contextStorageGet),
                                 slot(unknownSlot<4, 3>)};

// ---- context checks {263e8860-7cd2-6143-92f6-bbd5006dfa7e} ----
// Flags the runtime checks on a context; no flag is ever observed set.

CUresult contextCheck(CUcontext, std::uint32_t* flags, const void** extra) noexcept {
  if (flags != nullptr) *flags = 0;
  if (extra != nullptr) *extra = nullptr;
  return CUDA_SUCCESS;
}

std::uint32_t contextCheckFlags() noexcept { return 0; }

void* gContextChecks[4] = {tableSize(4), slot(unknownSlot<5, 1>), slot(contextCheck), slot(contextCheckFlags)};

// ---- integrity check {d4082055-bde6-704b-8d34-ba123c66e1f2} ----

CUresult integrityCheck(std::uint32_t version, std::uint64_t unixTime, std::uint64_t* answer) noexcept;

void* gIntegrityCheck[3] = {tableSize(3), slot(integrityCheck), slot(unknownSlot<6, 2>)};

CUresult integrityCheck(std::uint32_t version, std::uint64_t unixTime, std::uint64_t* answer) noexcept {
  if (answer == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (services() == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  std::vector<IntegrityDeviceRecord> devices = services()->integrityDevices();
  IntegrityInputs inputs{static_cast<std::uint32_t>(services()->driverVersion()),
                         version,
                         static_cast<std::uint32_t>(getpid()),
                         static_cast<std::uint32_t>(pthread_self()),
                         gCudartInterface,
                         gIntegrityCheck,
                         gIntegrityCheck[1],
                         unixTime};
  auto result = integrityAnswer(inputs, devices);
  answer[0] = result[0];
  answer[1] = result[1];
  return CUDA_SUCCESS;
}

// ---- FastGPU's session table (session_table.h) ----

CUresult vgpuStatus(int device, VgpuStatus* status) noexcept {
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (services() == nullptr) return CUDA_ERROR_NOT_INITIALIZED;
  *status = VgpuStatus{};
  return services()->vgpuStatus(device, *status);
}

void* gSessionTable[kSessionTableSlots] = {tableSize(kSessionTableSlots), slot(vgpuStatus)};

struct KnownTable {
  std::array<std::uint8_t, 16> id;
  void** table;
};

const KnownTable kKnownTables[] = {
    {{0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9}, gCudartInterface},
    {{0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc}, gToolsTls},
    {{0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74, 0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66},
     gToolsCallbackHooks},
    {{0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93},
     gContextLocalStorage},
    {{0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e}, gContextChecks},
    {{0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2}, gIntegrityCheck},
    {std::to_array(kSessionTableId), gSessionTable},
};

}  // namespace

void installDriverServices(DriverServices* driverServices) {
  gServices.store(driverServices, std::memory_order_release);
}

CUresult getExportTable(const void** table, const CUuuid* tableId) {
  if (table == nullptr || tableId == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (const auto& known : kKnownTables) {
    if (std::memcmp(known.id.data(), tableId->bytes, known.id.size()) == 0) {
      *table = known.table;
      return CUDA_SUCCESS;
    }
  }
  // Unknown tables are refused, as the real driver refuses tables it does not have.
  reportUnknownTable(*tableId);
  *table = nullptr;
  return CUDA_ERROR_INVALID_VALUE;
}

void destroyContextLocalStorage(CUcontext context) { contextStorage().destroy(context); }

}  // namespace fastgpu::cudaabi
