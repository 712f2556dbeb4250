// Fatbinary containers and image detection. See kernel_image.h.
#include <lz4.h>
#include <zstd.h>

#include <cstring>

#include <fmt/format.h>

#include "cudaabi/byte_reader.h"
#include "cudaabi/kernel_image.h"

namespace fastgpu::cudaabi {
namespace {

constexpr std::uint32_t kWrapperMagic = 0x466243B1;
constexpr std::uint32_t kFatbinMagic = 0xBA55ED50;
constexpr std::uint8_t kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr std::uint64_t kFlagLz4 = 0x2000;
constexpr std::uint64_t kFlagZstd = 0x8000;
// A decompressed entry larger than this is refused: a forged size must not exhaust memory.
constexpr std::uint64_t kMaxEntryBytes = 1ULL << 31;

// Layout of __fatBinC_Wrapper_t (fatbinary_section.h).
struct FatbinWrapper {
  std::int32_t magic;
  std::int32_t version;
  const std::uint8_t* data;
  void* filenameOrFatbins;
};
static_assert(sizeof(FatbinWrapper) == 24);

struct FatbinHeader {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t headerSize;
  std::uint64_t fatSize;
};
static_assert(sizeof(FatbinHeader) == 16);

Status bad(std::string what) { return Status(CUDA_ERROR_INVALID_IMAGE, "invalid fatbin: " + std::move(what)); }

Result<std::vector<std::uint8_t>> decompress(std::span<const std::uint8_t> payload, std::uint64_t flags,
                                             std::uint64_t uncompressedSize) {
  if (uncompressedSize == 0 || uncompressedSize > kMaxEntryBytes) {
    return bad(fmt::format("compressed entry claims {} bytes", uncompressedSize));
  }
  std::vector<std::uint8_t> out(uncompressedSize);
  if ((flags & kFlagZstd) != 0) {
    std::size_t got = ZSTD_decompress(out.data(), out.size(), payload.data(), payload.size());
    if (ZSTD_isError(got) != 0) return bad(std::string("zstd: ") + ZSTD_getErrorName(got));
    out.resize(got);
  } else {
    if (payload.size() > INT32_MAX || out.size() > INT32_MAX) return bad("LZ4 entry too large");
    int got = LZ4_decompress_safe(reinterpret_cast<const char*>(payload.data()), reinterpret_cast<char*>(out.data()),
                                  static_cast<int>(payload.size()), static_cast<int>(out.size()));
    if (got < 0) return bad("LZ4 payload does not decompress");
    out.resize(static_cast<std::size_t>(got));
  }
  return out;
}

// The entries of one container whose entries span `entries`, as they lie.
Status rawEntries(std::span<const std::uint8_t> entries, std::vector<RawFatbinEntry>& out) {
  ByteReader reader(entries);
  std::uint64_t offset = 0;
  while (offset < entries.size()) {
    auto kind = reader.read<std::uint16_t>(offset);
    auto headerSize = reader.read<std::uint32_t>(offset + 4);
    auto payloadSize = reader.read<std::uint32_t>(offset + 8);
    auto sm = reader.read<std::uint32_t>(offset + 28);
    auto uncompressedSize = reader.read<std::uint64_t>(offset + 56);
    if (!kind || !headerSize || !payloadSize || !sm || !uncompressedSize) {
      return bad(fmt::format("entry header at offset {} is truncated", offset));
    }
    if (*headerSize < 64) return bad(fmt::format("entry header size {} is too small", *headerSize));
    auto whole = reader.slice(offset, std::uint64_t{*headerSize} + *payloadSize);
    if (!whole) return bad(fmt::format("entry at offset {} runs past its container", offset));
    out.push_back(RawFatbinEntry{*kind, *sm, *whole});
    offset += *headerSize + static_cast<std::uint64_t>(*payloadSize);
  }
  return Status::ok();
}

// An entry's payload, decompressed.
Result<FatbinEntry> decodeEntry(const RawFatbinEntry& raw) {
  std::uint32_t headerSize, compressedSize;
  std::uint64_t flags, uncompressedSize;
  std::memcpy(&headerSize, raw.bytes.data() + 4, sizeof(headerSize));
  std::memcpy(&compressedSize, raw.bytes.data() + 16, sizeof(compressedSize));
  std::memcpy(&flags, raw.bytes.data() + 40, sizeof(flags));
  std::memcpy(&uncompressedSize, raw.bytes.data() + 56, sizeof(uncompressedSize));
  auto payload = raw.bytes.subspan(headerSize);
  FatbinEntry entry;
  entry.kind = raw.kind;
  entry.smVersion = raw.smVersion;
  if ((flags & (kFlagLz4 | kFlagZstd)) != 0) {
    if (compressedSize != 0 && compressedSize <= payload.size()) payload = payload.first(compressedSize);
    auto bytes = decompress(payload, flags, uncompressedSize);
    if (!bytes) return bytes.status();
    entry.payload = std::move(*bytes);
    entry.wasCompressed = true;
  } else {
    entry.payload.assign(payload.begin(), payload.end());
  }
  return entry;
}

template <typename T>
T readAt(const std::uint8_t* image, std::uint64_t offset) {
  T value;
  std::memcpy(&value, image + offset, sizeof(T));
  return value;
}

// The end of the last thing an ELF file's headers point at: section and program header tables,
// sections, segments.
std::uint64_t elfExtent(const std::uint8_t* image) {
  auto programHeaders = readAt<std::uint64_t>(image, 0x20);
  auto sectionHeaders = readAt<std::uint64_t>(image, 0x28);
  auto programEntrySize = readAt<std::uint16_t>(image, 0x36);
  auto programCount = readAt<std::uint16_t>(image, 0x38);
  auto sectionEntrySize = readAt<std::uint16_t>(image, 0x3a);
  auto sectionCount = readAt<std::uint16_t>(image, 0x3c);
  std::uint64_t end = std::max<std::uint64_t>(sectionHeaders + std::uint64_t{sectionEntrySize} * sectionCount,
                                              programHeaders + std::uint64_t{programEntrySize} * programCount);
  for (std::uint16_t i = 0; i < sectionCount; ++i) {
    const std::uint8_t* header = image + sectionHeaders + std::uint64_t{i} * sectionEntrySize;
    if (readAt<std::uint32_t>(header, 4) != 8 /* SHT_NOBITS */) {
      end = std::max(end, readAt<std::uint64_t>(header, 0x18) + readAt<std::uint64_t>(header, 0x20));
    }
  }
  for (std::uint16_t i = 0; i < programCount; ++i) {
    const std::uint8_t* header = image + programHeaders + std::uint64_t{i} * programEntrySize;
    end = std::max(end, readAt<std::uint64_t>(header, 0x08) + readAt<std::uint64_t>(header, 0x20));
  }
  return end;
}

}  // namespace

Result<std::vector<RawFatbinEntry>> rawFatbinEntries(std::span<const std::uint8_t> bytes) {
  std::vector<RawFatbinEntry> entries;
  ByteReader reader(bytes);
  std::uint64_t offset = 0;
  // Several containers may sit back to back; trailing zero padding ends the list.
  while (offset < bytes.size()) {
    auto header = reader.read<FatbinHeader>(offset);
    if (!header) {
      if (offset > 0) break;
      return bad("shorter than a container header");
    }
    if (header->magic != kFatbinMagic) {
      if (offset > 0 && header->magic == 0) break;
      return bad(fmt::format("bad magic {:#x} at offset {}", header->magic, offset));
    }
    if (header->headerSize < sizeof(FatbinHeader)) return bad("container header too small");
    auto body = reader.slice(offset + header->headerSize, header->fatSize);
    if (!body) return bad(fmt::format("container at offset {} claims {} bytes past the end", offset, header->fatSize));
    if (Status status = rawEntries(*body, entries); !status) return status;
    offset += header->headerSize + header->fatSize;
  }
  return entries;
}

Result<std::vector<FatbinEntry>> parseFatbin(std::span<const std::uint8_t> bytes) {
  auto raw = rawFatbinEntries(bytes);
  if (!raw) return raw.status();
  std::vector<FatbinEntry> entries;
  for (const RawFatbinEntry& entry : *raw) {
    auto decoded = decodeEntry(entry);
    if (!decoded) return decoded.status();
    entries.push_back(std::move(*decoded));
  }
  return entries;
}

std::vector<std::uint8_t> writeRawFatbin(std::span<const RawFatbinEntry> entries) {
  std::vector<std::uint8_t> out(sizeof(FatbinHeader));
  for (const RawFatbinEntry& entry : entries) out.insert(out.end(), entry.bytes.begin(), entry.bytes.end());
  FatbinHeader header{kFatbinMagic, 1, sizeof(FatbinHeader), out.size() - sizeof(FatbinHeader)};
  std::memcpy(out.data(), &header, sizeof(header));
  return out;
}

std::vector<std::uint8_t> writeFatbin(std::span<const FatbinEntry> entries) {
  constexpr std::uint32_t kEntryHeaderBytes = 64;
  std::vector<std::uint8_t> out(sizeof(FatbinHeader));
  auto put = [&](std::size_t at, auto value) { std::memcpy(out.data() + at, &value, sizeof(value)); };
  for (const FatbinEntry& entry : entries) {
    std::size_t at = out.size();
    std::size_t padded = (entry.payload.size() + 7) / 8 * 8;  // the next entry 8-byte aligned
    out.resize(at + kEntryHeaderBytes + padded, 0);
    put(at, entry.kind);
    put(at + 2, std::uint16_t{0x101});
    put(at + 4, kEntryHeaderBytes);
    put(at + 8, static_cast<std::uint32_t>(padded));
    put(at + 28, entry.smVersion);
    put(at + 56, static_cast<std::uint64_t>(entry.payload.size()));
    std::memcpy(out.data() + at + kEntryHeaderBytes, entry.payload.data(), entry.payload.size());
  }
  FatbinHeader header{kFatbinMagic, 1, sizeof(FatbinHeader), out.size() - sizeof(FatbinHeader)};
  std::memcpy(out.data(), &header, sizeof(header));
  return out;
}

Result<std::vector<std::span<const std::uint8_t>>> archiveMembers(std::span<const std::uint8_t> archive) {
  constexpr std::string_view kArchiveMagic = "!<arch>\n";
  constexpr std::size_t kMemberHeaderBytes = 60;
  auto text = [&](std::size_t at, std::size_t bytes) {
    return std::string_view(reinterpret_cast<const char*>(archive.data()) + at, bytes);
  };
  if (archive.size() < kArchiveMagic.size() || text(0, kArchiveMagic.size()) != kArchiveMagic) {
    return Status(CUDA_ERROR_INVALID_IMAGE, "not an ar archive");
  }
  std::vector<std::span<const std::uint8_t>> members;
  std::size_t offset = kArchiveMagic.size();
  while (offset + kMemberHeaderBytes <= archive.size()) {
    if (text(offset + 58, 2) != "`\n") return Status(CUDA_ERROR_INVALID_IMAGE, "an ar member header is damaged");
    std::uint64_t size = 0;
    for (char c : text(offset + 48, 10)) {
      if (c == ' ') break;
      if (c < '0' || c > '9') return Status(CUDA_ERROR_INVALID_IMAGE, "an ar member size is not a number");
      size = size * 10 + static_cast<std::uint64_t>(c - '0');
    }
    std::size_t start = offset + kMemberHeaderBytes;
    if (size > archive.size() - start) return Status(CUDA_ERROR_INVALID_IMAGE, "an ar member runs past the archive");
    std::string_view name = text(offset, 16);
    // "/" and "/SYM64/" are symbol tables, "//" the long-name table.
    if (!name.starts_with("/ ") && !name.starts_with("// ") && !name.starts_with("/SYM64/")) {
      members.push_back(archive.subspan(start, size));
    }
    offset = start + size + (size % 2);  // members start on even offsets
  }
  return members;
}

Result<ImageKind> detectImageKind(std::span<const std::uint8_t> bytes) {
  ByteReader reader(bytes);
  if (auto magic = reader.read<std::uint32_t>(0)) {
    if (*magic == kFatbinMagic) return ImageKind::kFatbin;
    if (*magic == kWrapperMagic) return ImageKind::kFatbinWrapper;
  }
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), kElfMagic, 4) == 0) return ImageKind::kCubin;
  if (!bytes.empty() && std::memchr(bytes.data(), '\0', bytes.size()) == nullptr) {
    return Status(CUDA_ERROR_INVALID_IMAGE, "image is not a fatbin, ELF cubin or NUL-terminated PTX");
  }
  if (!bytes.empty()) return ImageKind::kPtx;
  return Status(CUDA_ERROR_INVALID_IMAGE, "empty image");
}

Result<std::span<const std::uint8_t>> imageBytesFromPointer(const void* image) {
  if (image == nullptr) return Status(CUDA_ERROR_INVALID_VALUE, "image is NULL");
  const auto* bytes = static_cast<const std::uint8_t*>(image);
  // Look at the first byte before reading more: a short PTX string may end right after it.
  std::uint32_t magic = 0;
  if (bytes[0] == (kWrapperMagic & 0xff) || bytes[0] == (kFatbinMagic & 0xff) || bytes[0] == kElfMagic[0]) {
    std::memcpy(&magic, bytes, sizeof(magic));
  }
  if (magic == kWrapperMagic) {
    FatbinWrapper wrapper;
    std::memcpy(&wrapper, bytes, sizeof(wrapper));
    if (wrapper.data == nullptr) return Status(CUDA_ERROR_INVALID_IMAGE, "fatbin wrapper without data");
    return imageBytesFromPointer(wrapper.data);
  }
  if (magic == kFatbinMagic) {
    FatbinHeader header;
    std::memcpy(&header, bytes, sizeof(header));
    return std::span<const std::uint8_t>(bytes, header.headerSize + header.fatSize);
  }
  if (magic == 0x464c457f /* "\x7fELF" */) {
    return std::span<const std::uint8_t>(bytes, elfExtent(bytes));
  }
  return std::span<const std::uint8_t>(bytes, std::strlen(reinterpret_cast<const char*>(bytes)) + 1);
}

}  // namespace fastgpu::cudaabi
