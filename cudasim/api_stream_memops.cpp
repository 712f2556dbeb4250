// Stream memory operations: 32- and 64-bit writes and waits on memory, in stream order, alone or in
// a batch (cuStreamWriteValue*, cuStreamWaitValue*, cuStreamBatchMemOp). A write is device work; a
// wait holds its stream, as on a GPU, until the memory satisfies it. On a capturing stream they
// become a batch memory-operation node, run in each replay.
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "cudasim/entry.h"

using namespace fastgpu;
using namespace fastgpu::sim;

namespace {

constexpr unsigned kWaitConditionMask = 0x3;  // GEQ, EQ, AND, NOR
constexpr unsigned kMaxBatchOps = 256;

// One operation of a batch, with its arguments checked.
struct MemOp {
  enum class Kind { kWait, kWrite, kFlush } kind;
  std::uint64_t address = 0;
  std::uint64_t value = 0;
  unsigned bytes = 4;
  unsigned flags = 0;
};

// The memory an operation names: device memory, mapped virtual memory or page-locked host memory,
// aligned to its width.
bool reachable(Driver& driver, std::uint64_t address, unsigned bytes) {
  if (address == 0 || address % bytes != 0) return false;
  if (Device* device = driver.deviceOfAddress(address)) return device->memory().find(address, bytes).has_value();
  if (auto mapped = driver.virtualMemory().find(address, bytes)) return mapped->access == CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  return driver.hostMemory().find(address, bytes).has_value();
}

Status check(Driver& driver, const MemOp& op) {
  if (op.kind == MemOp::Kind::kFlush) return Status::ok();
  if (!reachable(driver, op.address, op.bytes)) {
    return Status(CUDA_ERROR_INVALID_VALUE, "memory operation on memory that is not the device's, or misaligned");
  }
  unsigned allowed = op.kind == MemOp::Kind::kWrite ? static_cast<unsigned>(CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER)
                                                    : kWaitConditionMask | CU_STREAM_WAIT_VALUE_FLUSH;
  if ((op.flags & ~allowed) != 0) return Status(CUDA_ERROR_INVALID_VALUE, "unknown memory operation flags");
  return Status::ok();
}

std::uint64_t load(const MemOp& op) {
  if (op.bytes == 4) return reinterpret_cast<std::atomic<std::uint32_t>*>(op.address)->load();
  return reinterpret_cast<std::atomic<std::uint64_t>*>(op.address)->load();
}

bool satisfied(const MemOp& op) {
  std::uint64_t now = load(op);
  std::uint64_t mask = op.bytes == 4 ? 0xffffffffULL : ~0ULL;
  switch (op.flags & kWaitConditionMask) {
    case CU_STREAM_WAIT_VALUE_GEQ:
      return op.bytes == 4 ? static_cast<std::int32_t>(static_cast<std::uint32_t>(now - op.value)) >= 0
                           : static_cast<std::int64_t>(now - op.value) >= 0;
    case CU_STREAM_WAIT_VALUE_EQ: return now == (op.value & mask);
    case CU_STREAM_WAIT_VALUE_AND: return (now & op.value) != 0;
    default: return (~(now | op.value) & mask) != 0;  // NOR
  }
}

void run(const MemOp& op) {
  if (op.kind == MemOp::Kind::kWrite) {
    if (op.bytes == 4) {
      reinterpret_cast<std::atomic<std::uint32_t>*>(op.address)->store(static_cast<std::uint32_t>(op.value));
    } else {
      reinterpret_cast<std::atomic<std::uint64_t>*>(op.address)->store(op.value);
    }
  } else if (op.kind == MemOp::Kind::kWait) {
    while (!satisfied(op)) std::this_thread::yield();
  }
}

CUresult submit(const char* name, CUstream handle, DefaultStream nullMeans, std::vector<MemOp> ops) {
  return driverEntry(name, [&](Driver& driver) {
    auto stream = resolveStream(driver, handle, nullMeans);
    if (!stream) return fail(stream);
    for (const MemOp& op : ops) {
      if (Status status = check(driver, op); !status) return fail(status);
    }
    std::function<CUresult()> batch = [ops = std::move(ops)] {
      for (const MemOp& op : ops) run(op);
      return CUDA_SUCCESS;
    };
    auto route = driver.captures().route(**stream, CU_GRAPH_NODE_TYPE_BATCH_MEM_OP, [&] { return MemOpNode{batch}; });
    if (!route) return fail(route);
    if (*route == Captures::Route::kCaptured) return CUDA_SUCCESS;
    (*stream)->context().enqueue(**stream, Operation{Operation::Kind::kHostWork, std::move(batch), {}});
    return CUDA_SUCCESS;
  });
}

CUresult one(const char* name, CUstream stream, MemOp::Kind kind, CUdeviceptr address, std::uint64_t value,
             unsigned bytes, unsigned flags, DefaultStream nullMeans) {
  return submit(name, stream, nullMeans, {MemOp{kind, address, value, bytes, flags}});
}

CUresult batch(const char* name, CUstream stream, unsigned count, CUstreamBatchMemOpParams* params, unsigned flags,
               DefaultStream nullMeans) {
  if (count == 0 || count > kMaxBatchOps || params == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  std::vector<MemOp> ops;
  for (unsigned i = 0; i < count; ++i) {
    const auto& p = params[i];
    switch (p.operation) {
      case CU_STREAM_MEM_OP_WAIT_VALUE_32:
      case CU_STREAM_MEM_OP_WAIT_VALUE_64:
        ops.push_back({MemOp::Kind::kWait, p.waitValue.address, p.waitValue.value64,
                       p.operation == CU_STREAM_MEM_OP_WAIT_VALUE_32 ? 4u : 8u, p.waitValue.flags});
        if (ops.back().bytes == 4) ops.back().value = p.waitValue.value;
        break;
      case CU_STREAM_MEM_OP_WRITE_VALUE_32:
      case CU_STREAM_MEM_OP_WRITE_VALUE_64:
        ops.push_back({MemOp::Kind::kWrite, p.writeValue.address, p.writeValue.value64,
                       p.operation == CU_STREAM_MEM_OP_WRITE_VALUE_32 ? 4u : 8u, p.writeValue.flags});
        if (ops.back().bytes == 4) ops.back().value = p.writeValue.value;
        break;
      case CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES:
        ops.push_back({MemOp::Kind::kFlush});
        break;
      default:
        return CUDA_ERROR_INVALID_VALUE;
    }
  }
  return submit(name, stream, nullMeans, std::move(ops));
}

}  // namespace

#define FASTGPU_SIM_MEMOPS(version, suffix, nullMeans)                                                                        \
  FASTGPU_SIM_EXPORT CUresult cuStreamWriteValue32##version##suffix(CUstream s, CUdeviceptr a, cuuint32_t v, unsigned f) { \
    return one(__func__, s, MemOp::Kind::kWrite, a, v, 4, f, nullMeans);                                            \
  }                                                                                                                  \
  FASTGPU_SIM_EXPORT CUresult cuStreamWriteValue64##version##suffix(CUstream s, CUdeviceptr a, cuuint64_t v, unsigned f) { \
    return one(__func__, s, MemOp::Kind::kWrite, a, v, 8, f, nullMeans);                                            \
  }                                                                                                                  \
  FASTGPU_SIM_EXPORT CUresult cuStreamWaitValue32##version##suffix(CUstream s, CUdeviceptr a, cuuint32_t v, unsigned f) {  \
    return one(__func__, s, MemOp::Kind::kWait, a, v, 4, f, nullMeans);                                             \
  }                                                                                                                  \
  FASTGPU_SIM_EXPORT CUresult cuStreamWaitValue64##version##suffix(CUstream s, CUdeviceptr a, cuuint64_t v, unsigned f) {  \
    return one(__func__, s, MemOp::Kind::kWait, a, v, 8, f, nullMeans);                                             \
  }                                                                                                                  \
  FASTGPU_SIM_EXPORT CUresult cuStreamBatchMemOp##version##suffix(CUstream s, unsigned count,                             \
                                                            CUstreamBatchMemOpParams* params, unsigned f) {          \
    return batch(__func__, s, count, params, f, nullMeans);                                                          \
  }

// The first version of the API has the same arguments.
FASTGPU_SIM_MEMOPS(, , DefaultStream::kLegacy)
FASTGPU_SIM_MEMOPS(_v2, , DefaultStream::kLegacy)
FASTGPU_SIM_MEMOPS(, _ptsz, DefaultStream::kPerThread)
FASTGPU_SIM_MEMOPS(_v2, _ptsz, DefaultStream::kPerThread)
