// Calls on device memory. Every device range a client names passes SessionState::
// checkDeviceRange or checkPitchedRange before the driver sees it.
#include <fmt/format.h>

#include <algorithm>

#include "cudaabi/checked_math.h"
#include "protocol/call_kinds.h"
#include "server/session.h"

namespace fastgpu::server {

Status Session::stageToHost(wire::StagedDelivery::Reader copy, scheduler::ComputeGate* gate,
                            scheduler::ComputeGate::TenantId tenant) {
  auto stream = this->stream(copy.getStream(), copy.getPerThread());
  if (!stream) return stream.status();
  if (copy.getBytes() > protocol::kMaxCopyChunkBytes) return Status(CUDA_ERROR_INVALID_VALUE, "device-to-host chunk too large");
  if (Status status = state_->checkDeviceRange(copy.getSrc(), copy.getBytes()); !status) return status;
  if (Status status = refuseIfCapturing(*stream, "a copy to client memory"); !status) return status;
  scheduler::GatedWork gated(gate, tenant, *stream, gpuTime());
  Status staged = deliveries_.stage(copy.getDelivery(), copy.getSrc(), copy.getBytes(), *stream);
  if (staged) gated.submitted();
  return staged;
}

Result<SharedHostMemory*> Session::sharedHostMemory() {
  if (!sharedHost_) return Status(CUDA_ERROR_INVALID_VALUE, "this session has no shared pinned memory");
  return &*sharedHost_;
}

Status Session::copyShared(wire::SharedCopy::Reader copy, scheduler::ComputeGate* gate,
                           scheduler::ComputeGate::TenantId tenant) {
  auto shared = sharedHostMemory();
  if (!shared) return shared.status();
  auto stream = this->stream(copy.getStream(), copy.getPerThread());
  if (!stream) return stream.status();
  std::uint64_t bytes = copy.getBytes();
  auto host = (*shared)->find(copy.getOffset(), bytes);
  if (!host) return host.status();
  if (Status status = state_->checkDeviceRange(copy.getDevice(), bytes); !status) return status;
  if (Status status = refuseIfCapturing(*stream, "a copy of client memory"); !status) return status;
  scheduler::GatedWork gated(gate, tenant, *stream, gpuTime());
  CUresult result;
  if (copy.getToHost()) {
    // As a local synchronous copy to pinned memory: in stream order, done when the call returns.
    result = driver_.cuMemcpyDtoHAsync_v2(*host, copy.getDevice(), bytes, *stream);
    if (result == CUDA_SUCCESS) gated.submitted();
    if (result == CUDA_SUCCESS && !copy.getAsync()) result = driver_.cuStreamSynchronize(*stream);
    return driverResult(result, "cuMemcpyDtoH (shared pinned memory)");
  }
  result = copy.getAsync() ? driver_.cuMemcpyHtoDAsync_v2(copy.getDevice(), *host, bytes, *stream)
                           : driver_.cuMemcpyHtoD_v2(copy.getDevice(), *host, bytes);
  if (result == CUDA_SUCCESS) gated.submitted();
  return driverResult(result, "cuMemcpyHtoD (shared pinned memory)");
}

Status Session::copyRdma(wire::RdmaCopy::Reader copy, scheduler::ComputeGate* gate,
                         scheduler::ComputeGate::TenantId tenant) {
  protocol::RdmaLink* link = connection_->rdmaLink();
  if (link == nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "this session is not on RDMA");
  auto stream = this->stream(copy.getStream(), copy.getPerThread());
  if (!stream) return stream.status();
  std::uint64_t bytes = copy.getBytes();
  if (copy.getAddress() == 0 || copy.getAddress() > UINT64_MAX - bytes) {
    return Status(CUDA_ERROR_INVALID_VALUE, "an RDMA copy's host range wraps");
  }
  if (Status status = state_->checkDeviceRange(copy.getDevice(), bytes); !status) return status;
  if (Status status = refuseIfCapturing(*stream, "a copy of client memory"); !status) return status;
  if (!rdmaCopies_) {
    auto made = RdmaHostCopies::create(driver_, *link);
    if (!made) return made.status();
    rdmaCopies_ = std::move(*made);
  }
  RdmaHostCopies::Metering metering{gate, tenant, gpuTime()};
  protocol::RdmaPeerAddress client{copy.getAddress(), copy.getKey()};
  return copy.getToHost() ? rdmaCopies_->toHost(*stream, copy.getDevice(), client, bytes, metering)
                          : rdmaCopies_->toDevice(*stream, copy.getDevice(), client, bytes, metering);
}

Status Session::executeMemoryCall(wire::Call::Reader call, std::span<const std::uint8_t> bulk, Answer& answer) {
  SessionState& state = *state_;
  // Every piece of GPU work below passes the vGPU's compute gate (GatedWork), unless it is captured.
  scheduler::ComputeGate* gate = state.lease().gate();
  scheduler::ComputeGate::TenantId tenant = state.lease().tenant();
  switch (call.which()) {
    case wire::Call::MEM_GET_INFO: {
      std::size_t free = 0, total = 0;
      CUresult result = driver_.cuMemGetInfo_v2(&free, &total);
      // A vGPU sees its own quota: what is left of it (never more than the GPU has free).
      if (const scheduler::MemoryQuota* quota = state.lease().quota()) {
        free = std::min<std::size_t>(free, quota->available());
        total = quota->limit();
      }
      answer.setValues({static_cast<std::int64_t>(free), static_cast<std::int64_t>(total)});
      return driverResult(result, "cuMemGetInfo");
    }
    case wire::Call::MEM_ALLOC: {
      auto base = state.allocate(call.getMemAlloc());
      if (!base) return base.status();
      answer.setHandle(*base);
      return Status::ok();
    }
    case wire::Call::MEM_FREE:
      if (state.isGraphMemory(call.getMemFree())) {  // its graph holds the memory; the driver marks it free
        return driverResult(driver_.cuMemFree_v2(call.getMemFree()), "cuMemFree (graph memory)");
      }
      return call.getMemFree() == 0 ? Status::ok() : state.free(call.getMemFree());
    case wire::Call::COPY: {
      auto copy = call.getCopy();
      auto stream = this->stream(copy.getStream(), copy.getPerThread());
      if (!stream) return stream.status();
      std::uint64_t bytes = copy.getBytes();
      if (copy.getSrc() == 0) {  // host to device: the bytes follow the call in its frame
        if (Status status = state.checkDeviceRange(copy.getDst(), bulk.size()); !status) return status;
        if (Status status = refuseIfCapturing(*stream, "a copy from client memory"); !status) return status;
        scheduler::GatedWork gated(gate, tenant, *stream, gpuTime());
        CUresult result = copy.getAsync() ? driver_.cuMemcpyHtoDAsync_v2(copy.getDst(), bulk.data(), bulk.size(), *stream)
                                          : driver_.cuMemcpyHtoD_v2(copy.getDst(), bulk.data(), bulk.size());
        if (result == CUDA_SUCCESS) gated.submitted();
        return driverResult(result, "cuMemcpyHtoD");
      }
      if (Status status = state.checkDeviceRange(copy.getSrc(), bytes); !status) return status;
      if (copy.getDst() == 0) {  // device to host: the bytes go back in the reply
        if (bytes > protocol::kMaxCopyChunkBytes) return Status(CUDA_ERROR_INVALID_VALUE, "device-to-host chunk too large");
        if (Status status = refuseIfCapturing(*stream, "a copy to client memory"); !status) return status;
        if (staging_.size() < bytes) staging_.resize(bytes);
        scheduler::GatedWork gated(gate, tenant, *stream, gpuTime());
        CUresult result = driver_.cuMemcpyDtoHAsync_v2(staging_.data(), copy.getSrc(), bytes, *stream);
        if (result == CUDA_SUCCESS) gated.submitted();
        if (result == CUDA_SUCCESS) result = driver_.cuStreamSynchronize(*stream);
        if (result == CUDA_SUCCESS) answer.bulk = std::span<const std::uint8_t>(staging_.data(), bytes);
        return driverResult(result, "cuMemcpyDtoH");
      }
      if (Status status = state.checkDeviceRange(copy.getDst(), bytes); !status) return status;
      auto deviceGate = gateFor(*stream);
      if (!deviceGate) return deviceGate.status();
      scheduler::GatedWork gated(*deviceGate, tenant, *stream, gpuTime());
      CUresult result = copy.getAsync() ? driver_.cuMemcpyDtoDAsync_v2(copy.getDst(), copy.getSrc(), bytes, *stream)
                                        : driver_.cuMemcpyDtoD_v2(copy.getDst(), copy.getSrc(), bytes);
      if (result == CUDA_SUCCESS) gated.submitted();
      return driverResult(result, "cuMemcpyDtoD");
    }
    case wire::Call::HOST_ALLOC_SHARED: {
      auto shared = sharedHostMemory();
      if (!shared) return shared.status();
      auto granted = (*shared)->allocate(call.getHostAllocShared());
      if (!granted) return granted.status();
      answer.setValues({static_cast<std::int64_t>(granted->offset), static_cast<std::int64_t>(granted->device)});
      return Status::ok();
    }
    case wire::Call::HOST_FREE_SHARED: {
      auto shared = sharedHostMemory();
      if (!shared) return shared.status();
      // As cuMemFreeHost does: the device's work ends first (its errors are not the free's).
      (void)awaitContextWork();
      return (*shared)->free(call.getHostFreeShared());
    }
    case wire::Call::COPY_SHARED:
      return copyShared(call.getCopyShared(), gate, tenant);
    case wire::Call::COPY_RDMA:
      return copyRdma(call.getCopyRdma(), gate, tenant);
    case wire::Call::STAGE_TO_HOST: {
      auto copy = call.getStageToHost();
      Status staged = stageToHost(copy, gate, tenant);
      if (!staged) deliveries_.fail(copy.getDelivery());
      return staged;
    }
    case wire::Call::COPY2_D: {
      auto copy = call.getCopy2D();
      auto stream = this->stream(copy.getStream(), copy.getPerThread());
      if (!stream) return stream.status();
      CUDA_MEMCPY2D p{};
      p.WidthInBytes = copy.getWidth();
      p.Height = copy.getHeight();
      auto packedBytes = cudaabi::checkedMul(copy.getWidth(), copy.getHeight());
      if (!packedBytes) return Status(CUDA_ERROR_INVALID_VALUE, kBadPitchedShape);
      std::uint64_t packed = *packedBytes;
      if (copy.getSrc() == 0) {
        if (copy.getData().size() != packed) return Status(CUDA_ERROR_INVALID_VALUE, "2-D copy data size mismatch");
        p.srcMemoryType = CU_MEMORYTYPE_HOST;
        p.srcHost = copy.getData().begin();
        p.srcPitch = copy.getWidth();
      } else {
        if (Status status = state.checkPitchedRange(copy.getSrc(), copy.getSrcPitch(), copy.getWidth(), copy.getHeight());
            !status) {
          return status;
        }
        p.srcMemoryType = CU_MEMORYTYPE_DEVICE;
        p.srcDevice = copy.getSrc();
        p.srcPitch = copy.getSrcPitch();
      }
      if (copy.getToHost()) {
        if (packed > protocol::kMaxCopyChunkBytes) return Status(CUDA_ERROR_INVALID_VALUE, "device-to-host chunk too large");
        answer.kind = Answer::Kind::kData;
        answer.data.resize(packed);
        p.dstMemoryType = CU_MEMORYTYPE_HOST;
        p.dstHost = answer.data.data();
        p.dstPitch = copy.getWidth();
      } else {
        if (Status status = state.checkPitchedRange(copy.getDst(), copy.getDstPitch(), copy.getWidth(), copy.getHeight());
            !status) {
          return status;
        }
        p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
        p.dstDevice = copy.getDst();
        p.dstPitch = copy.getDstPitch();
      }
      if (copy.getSrc() == 0 || copy.getToHost()) {
        if (Status status = refuseIfCapturing(*stream, "a copy of client memory"); !status) return status;
      }
      auto copyGate = gateFor(*stream);
      if (!copyGate) return copyGate.status();
      scheduler::GatedWork gated(*copyGate, tenant, *stream, gpuTime());
      CUresult result = driver_.cuMemcpy2DAsync_v2(&p, *stream);
      if (result == CUDA_SUCCESS) gated.submitted();
      if (result == CUDA_SUCCESS && (!copy.getAsync() || copy.getToHost())) result = driver_.cuStreamSynchronize(*stream);
      return driverResult(result, "cuMemcpy2D");
    }
    case wire::Call::MEMSET: {
      auto set = call.getMemset();
      auto stream = this->stream(set.getStream(), set.getPerThread());
      if (!stream) return stream.status();
      unsigned element = set.getElementBytes();
      if (element != 1 && element != 2 && element != 4) return Status(CUDA_ERROR_INVALID_VALUE, "bad memset element size");
      auto rowBytes = cudaabi::checkedMul(set.getWidth(), element);
      if (!rowBytes) return Status(CUDA_ERROR_INVALID_VALUE, kBadPitchedShape);
      std::uint64_t pitch = set.getHeight() > 1 ? set.getPitch() : *rowBytes;
      if (Status status = state.checkPitchedRange(set.getDst(), pitch, *rowBytes, set.getHeight()); !status) return status;
      auto memsetGate = gateFor(*stream);
      if (!memsetGate) return memsetGate.status();
      scheduler::GatedWork gated(*memsetGate, tenant, *stream, gpuTime());
      CUresult result = CUDA_SUCCESS;
      switch (element) {
        case 1:
          result = driver_.cuMemsetD2D8Async(set.getDst(), pitch, static_cast<unsigned char>(set.getValue()), set.getWidth(),
                                             set.getHeight(), *stream);
          break;
        case 2:
          result = driver_.cuMemsetD2D16Async(set.getDst(), pitch, static_cast<unsigned short>(set.getValue()),
                                              set.getWidth(), set.getHeight(), *stream);
          break;
        default:
          result = driver_.cuMemsetD2D32Async(set.getDst(), pitch, set.getValue(), set.getWidth(), set.getHeight(), *stream);
          break;
      }
      if (result == CUDA_SUCCESS) gated.submitted();
      if (result == CUDA_SUCCESS && !set.getAsync()) result = driver_.cuStreamSynchronize(*stream);
      return driverResult(result, "cuMemset");
    }
    default:
      return Status(CUDA_ERROR_NOT_SUPPORTED, "not a memory call");
  }
}

}  // namespace fastgpu::server
