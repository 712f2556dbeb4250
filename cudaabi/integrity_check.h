// The answer to libcudart's driver integrity check (export table d4082055..., slot 1).
//
// libcudart 13 calls slot 1 with (version, unix time, uint64_t out[2]) and refuses to run
// (error 103) unless the answer matches its own computation: an HMAC in the style of RFC 2104,
// built on MD2 with a 16-byte block, over the record below. The record mixes in addresses of
// this process, its pid and the calling thread, so it must be computed where the runtime runs --
// on the client, never forwarded. Facts: ../shared/reference/cuda-driver-notes.md.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace fastgpu::cudaabi {

// One device as the runtime sees it through cuDeviceGetUuid and the PCI attributes.
struct IntegrityDeviceRecord {
  std::uint8_t uuid[16];
  std::int32_t pciDomain;
  std::int32_t pciBus;
  std::int32_t pciDevice;
};
static_assert(sizeof(IntegrityDeviceRecord) == 28, "the runtime hashes 28-byte device records");

struct IntegrityInputs {
  std::uint32_t driverVersion;  // what cuDriverGetVersion reports
  std::uint32_t version;        // the runtime's version argument (13000, 13001, 13002, ...)
  std::uint32_t pid;
  std::uint32_t thread;  // (uint32_t)pthread_self() of the calling thread
  const void* cudartInterfaceTable;
  const void* integrityTable;
  const void* integritySlotFunction;
  std::uint64_t unixTime;  // the runtime's time argument
};

std::array<std::uint64_t, 2> integrityAnswer(const IntegrityInputs& inputs,
                                             std::span<const IntegrityDeviceRecord> devices);

}  // namespace fastgpu::cudaabi
