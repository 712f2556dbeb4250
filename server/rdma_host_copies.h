// Copies between device memory and a client's pinned memory over RDMA (wire RdmaCopy), on the
// worker's side. The client registered its pinned memory with the link for us; we never register
// anything the client may touch. Our side is a staging area of pinned host memory (the driver's,
// so the device copies from and to it by DMA) registered with the link for this side alone, in
// two halves that take turns: while the NIC fills one with the client's bytes (RDMA READ), the
// device empties the other, and the other way round (device copies, then RDMA WRITE).
//
// Every copy is complete when its call returns: the device has the bytes, or the client's memory
// has them (an RDMA WRITE is in the client's memory before any later reply on the link). An
// asynchronous copy to the device therefore holds the session's dispatch until its stream has
// copied the last chunk; the staging area is free again for the next copy on any stream.
//
// Threading: the session's thread only.
#pragma once

#include <cstdint>
#include <memory>

#include "cudaabi/driver_symbols.h"
#include "cudaabi/result.h"
#include "protocol/transport/rdma_link.h"
#include "scheduler/compute_gate.h"

namespace fastgpu::server {

class RdmaHostCopies {
 public:
  // Each half of the staging area: one RDMA READ or WRITE, one device copy.
  static constexpr std::uint64_t kHalfBytes = 4ULL << 20;

  // The vGPU's compute gate that every device copy passes (null: none), as GatedWork's.
  struct Metering {
    scheduler::ComputeGate* gate = nullptr;
    scheduler::ComputeGate::TenantId tenant{};
    scheduler::GpuTimeAccount* account = nullptr;
  };

  // Makes the staging area: pinned by `driver` (portable across contexts), registered with `link`.
  // Both must outlive the result.
  static Result<std::unique_ptr<RdmaHostCopies>> create(const cudaabi::DriverTable& driver, protocol::RdmaLink& link);
  ~RdmaHostCopies();
  RdmaHostCopies(const RdmaHostCopies&) = delete;
  RdmaHostCopies& operator=(const RdmaHostCopies&) = delete;

  // `bytes` from the client's memory at `from` to device address `device`, in order on `stream`.
  // The caller checked the device range. A link failure (a key the client did not grant) comes
  // back as kDisconnected: the session is over.
  Status toDevice(CUstream stream, std::uint64_t device, protocol::RdmaPeerAddress from, std::uint64_t bytes,
                  const Metering& metering);
  // `bytes` from device address `device` to the client's memory at `to`, in order on `stream`.
  Status toHost(CUstream stream, std::uint64_t device, protocol::RdmaPeerAddress to, std::uint64_t bytes,
                const Metering& metering);

 private:
  RdmaHostCopies(const cudaabi::DriverTable& driver, protocol::RdmaLink& link, void* memory);
  // The device's part of a chunk: a copy between half `which` and `device`, gated.
  CUresult deviceCopy(CUstream stream, std::uint64_t device, unsigned half, std::uint64_t bytes, bool toHost,
                      const Metering& metering);
  std::uint8_t* half(unsigned which) const { return memory_ + which * kHalfBytes; }

  const cudaabi::DriverTable& driver_;
  protocol::RdmaLink& link_;
  std::uint8_t* memory_;
  protocol::RdmaRegion region_{};
};

}  // namespace fastgpu::server
