// Stream memory operations, remoted: posted in stream order with the work around them (no round
// trip). Flags, widths and alignment are checked here, so such a misuse fails at the call; the
// server checks that every address is the session's own memory (a refusal comes back with the
// next answer, like a launch's).
#include <vector>

#include "interposer/remote.h"

using namespace fastgpu;
using namespace fastgpu::interposer;

namespace {

constexpr unsigned kMaxBatchOps = 256;
enum Kind : std::uint8_t { kWait = 0, kWrite = 1, kFlush = 2 };

struct Op {
  Kind kind;
  std::uint64_t address = 0;
  std::uint64_t value = 0;
  unsigned bytes = 4;
  unsigned flags = 0;
};

bool valid(const Op& op) {
  if (op.kind == kFlush) return true;
  if (op.address == 0 || op.address % op.bytes != 0) return false;
  unsigned allowed = op.kind == kWrite ? static_cast<unsigned>(CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER)
                                       : 0x3u | CU_STREAM_WAIT_VALUE_FLUSH;
  return (op.flags & ~allowed) == 0;
}

CUresult post(const char* name, CUstream stream, bool perThread, const std::vector<Op>& ops) {
  return remoteEntry(name, [&](Runtime& rt, Client& client) {
    for (const Op& op : ops) {
      if (!valid(op)) return CUDA_ERROR_INVALID_VALUE;
    }
    // Captured by the server's driver, as by cudasim (a batch memory-operation node).
    if (CUresult refused = captureCheck(rt, stream, perThread, true, true); refused != CUDA_SUCCESS) return refused;
    CallMessage call(rt.currentContextId());
    auto message = call->initStreamMemOps();
    message.setStream(idOf(stream));
    message.setPerThread(perThread);
    auto list = message.initOps(static_cast<unsigned>(ops.size()));
    for (unsigned i = 0; i < ops.size(); ++i) {
      list[i].setKind(ops[i].kind);
      list[i].setAddress(ops[i].address);
      list[i].setValue(ops[i].value);
      list[i].setBytes(static_cast<std::uint8_t>(ops[i].bytes));
      list[i].setFlags(ops[i].flags);
    }
    interposer::post(client, call);
    return CUDA_SUCCESS;
  });
}

CUresult batch(const char* name, CUstream stream, unsigned count, CUstreamBatchMemOpParams* params, unsigned flags,
               bool perThread) {
  if (count == 0 || count > kMaxBatchOps || params == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  std::vector<Op> ops;
  for (unsigned i = 0; i < count; ++i) {
    const auto& p = params[i];
    switch (p.operation) {
      case CU_STREAM_MEM_OP_WAIT_VALUE_32:
        ops.push_back({kWait, p.waitValue.address, p.waitValue.value, 4, p.waitValue.flags});
        break;
      case CU_STREAM_MEM_OP_WAIT_VALUE_64:
        ops.push_back({kWait, p.waitValue.address, p.waitValue.value64, 8, p.waitValue.flags});
        break;
      case CU_STREAM_MEM_OP_WRITE_VALUE_32:
        ops.push_back({kWrite, p.writeValue.address, p.writeValue.value, 4, p.writeValue.flags});
        break;
      case CU_STREAM_MEM_OP_WRITE_VALUE_64:
        ops.push_back({kWrite, p.writeValue.address, p.writeValue.value64, 8, p.writeValue.flags});
        break;
      case CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES:
        ops.push_back({kFlush});
        break;
      default:
        return CUDA_ERROR_INVALID_VALUE;
    }
  }
  return post(name, stream, perThread, ops);
}

}  // namespace

#define FASTGPU_REMOTE_MEMOPS(version, suffix, perThread)                                                          \
  FASTGPU_REMOTE_EXPORT CUresult cuStreamWriteValue32##version##suffix(CUstream s, CUdeviceptr a, cuuint32_t v,    \
                                                                       unsigned f) {                              \
    return post(__func__, s, perThread, {{kWrite, a, v, 4, f}});                                                   \
  }                                                                                                                \
  FASTGPU_REMOTE_EXPORT CUresult cuStreamWriteValue64##version##suffix(CUstream s, CUdeviceptr a, cuuint64_t v,    \
                                                                       unsigned f) {                              \
    return post(__func__, s, perThread, {{kWrite, a, v, 8, f}});                                                   \
  }                                                                                                                \
  FASTGPU_REMOTE_EXPORT CUresult cuStreamWaitValue32##version##suffix(CUstream s, CUdeviceptr a, cuuint32_t v,     \
                                                                      unsigned f) {                               \
    return post(__func__, s, perThread, {{kWait, a, v, 4, f}});                                                    \
  }                                                                                                                \
  FASTGPU_REMOTE_EXPORT CUresult cuStreamWaitValue64##version##suffix(CUstream s, CUdeviceptr a, cuuint64_t v,     \
                                                                      unsigned f) {                               \
    return post(__func__, s, perThread, {{kWait, a, v, 8, f}});                                                    \
  }                                                                                                                \
  FASTGPU_REMOTE_EXPORT CUresult cuStreamBatchMemOp##version##suffix(CUstream s, unsigned count,                  \
                                                                     CUstreamBatchMemOpParams* params, unsigned f) { \
    return batch(__func__, s, count, params, f, perThread);                                                        \
  }

// The first version of the API has the same arguments.
FASTGPU_REMOTE_MEMOPS(, , false)
FASTGPU_REMOTE_MEMOPS(_v2, , false)
FASTGPU_REMOTE_MEMOPS(, _ptsz, true)
FASTGPU_REMOTE_MEMOPS(_v2, _ptsz, true)
