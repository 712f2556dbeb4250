// What a driver needs to know about a loaded code image: its kernels with their parameter
// layouts, and its global variables. Images come as a __fatBinC_Wrapper_t, a fatbin (several
// containers may sit back to back), an ELF cubin or PTX text; fatbin entries may be compressed
// with zstd or LZ4. Formats: docs/driver-abi.md.
//
// All parsing is bounds-checked: bytes from a client are untrusted, and a bad image is a
// Status with a reason, never a crash.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cudaabi/result.h"

namespace fastgpu::cudaabi {

enum class ImageKind { kFatbinWrapper, kFatbin, kCubin, kPtx };

struct KernelParam {
  std::uint32_t offset = 0;  // in the parameter buffer
  std::uint32_t size = 0;
};

struct KernelInfo {
  std::string name;                 // the mangled name
  std::vector<KernelParam> params;  // in ordinal order
  std::uint32_t paramBytes = 0;     // the size of the whole parameter buffer
};

struct GlobalVariable {
  std::string name;
  std::uint64_t size = 0;
  std::vector<std::uint8_t> initialBytes;  // may be shorter than size; the rest is zero
};

struct KernelImage {
  std::vector<KernelInfo> kernels;
  std::vector<GlobalVariable> globals;

  const KernelInfo* findKernel(std::string_view name) const;
  const GlobalVariable* findGlobal(std::string_view name) const;
};

// The bytes of an image handed to the driver as a bare pointer (cuModuleLoadData and friends),
// found from its own headers: a wrapper's fatbin, a fatbin's first container, an ELF file's
// extent, or PTX up to its terminating NUL. Only for pointers of this process; fails on an
// unknown format.
Result<std::span<const std::uint8_t>> imageBytesFromPointer(const void* image);

// Detects the format of `bytes` (a fatbin wrapper is only recognized through a pointer).
Result<ImageKind> detectImageKind(std::span<const std::uint8_t> bytes);

// Parses a fatbin, cubin or PTX image.
Result<KernelImage> parseKernelImage(std::span<const std::uint8_t> bytes);
// The bytes of section `name` of a 64-bit ELF file (a host program's or library's .nv_fatbin,
// where nvcc puts the fat binaries it embeds); CUDA_ERROR_NOT_FOUND when there is none.
Result<std::span<const std::uint8_t>> elfSection(std::span<const std::uint8_t> elf, std::string_view name);

// Lower-level pieces, exposed for tests.
struct FatbinEntry {
  std::uint16_t kind = 0;  // 1 PTX, 2 ELF cubin
  std::uint32_t smVersion = 0;
  bool wasCompressed = false;
  std::vector<std::uint8_t> payload;  // decompressed
};
Result<std::vector<FatbinEntry>> parseFatbin(std::span<const std::uint8_t> bytes);
// One fatbin container holding `entries`, uncompressed (what cudasim's linker produces).
std::vector<std::uint8_t> writeFatbin(std::span<const FatbinEntry> entries);
// An entry of a fat binary as it lies in the bytes: its header and payload (compressed or not).
struct RawFatbinEntry {
  std::uint16_t kind = 0;  // 1 PTX, 2 ELF cubin
  std::uint32_t smVersion = 0;
  std::span<const std::uint8_t> bytes;  // the entry's header and payload, in the parsed bytes
};
// Every entry of every container in `bytes`, bounds-checked, without decompressing.
Result<std::vector<RawFatbinEntry>> rawFatbinEntries(std::span<const std::uint8_t> bytes);
// One container holding `entries` byte for byte.
std::vector<std::uint8_t> writeRawFatbin(std::span<const RawFatbinEntry> entries);
// The members of a Unix `ar` archive (a static library of host objects), bounds-checked; the
// archive's symbol and name tables are left out.
Result<std::vector<std::span<const std::uint8_t>>> archiveMembers(std::span<const std::uint8_t> archive);
Result<KernelImage> parseCubin(std::span<const std::uint8_t> bytes);
Result<KernelImage> parsePtx(std::string_view text);

}  // namespace fastgpu::cudaabi
