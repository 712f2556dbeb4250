// ELF cubins: kernels from `.nv.info.<kernel>` sections, globals from the symbol table.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "cudaabi/byte_reader.h"
#include "cudaabi/kernel_image.h"

namespace fastgpu::cudaabi {
namespace {

constexpr std::uint8_t kAttrKernelParamInfo = 0x17;  // EIATTR_KPARAM_INFO
constexpr std::uint8_t kAttrParamBankSize = 0x19;    // EIATTR_CBANK_PARAM_SIZE
constexpr std::uint8_t kFormatSized = 4;             // EIFMT_SVAL: u16 size, then the bytes
constexpr std::uint32_t kSectionSymtab = 2;
constexpr std::uint32_t kSectionNobits = 8;
constexpr std::uint8_t kSymbolObject = 1;

struct Section {
  std::string name;
  std::uint32_t type = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint32_t link = 0;
};

Status bad(std::string what) { return Status(CUDA_ERROR_INVALID_IMAGE, "invalid cubin: " + std::move(what)); }

std::string cString(std::span<const std::uint8_t> table, std::uint64_t offset) {
  if (offset >= table.size()) return {};
  auto begin = table.begin() + static_cast<std::ptrdiff_t>(offset);
  return std::string(begin, std::find(begin, table.end(), 0));
}

// Every segment the program headers declare must lie inside the file.
Status checkSegments(const ByteReader& elf) {
  auto programHeaders = elf.read<std::uint64_t>(0x20);
  auto entrySize = elf.read<std::uint16_t>(0x36);
  auto count = elf.read<std::uint16_t>(0x38);
  if (!programHeaders || !entrySize || !count) return bad("truncated ELF header");
  for (std::uint16_t i = 0; i < *count; ++i) {
    std::uint64_t at = *programHeaders + std::uint64_t{i} * *entrySize;
    auto offset = elf.read<std::uint64_t>(at + 0x08);
    auto fileSize = elf.read<std::uint64_t>(at + 0x20);
    if (!offset || !fileSize) return bad(fmt::format("program header {} is truncated", i));
    if (!elf.fits(*offset, *fileSize)) return bad(fmt::format("segment {} runs past the end of the file", i));
  }
  return Status::ok();
}

Result<std::vector<Section>> readSections(const ByteReader& elf) {
  auto sectionHeaders = elf.read<std::uint64_t>(0x28);
  auto entrySize = elf.read<std::uint16_t>(0x3a);
  auto count = elf.read<std::uint16_t>(0x3c);
  auto namesIndex = elf.read<std::uint16_t>(0x3e);
  auto elfClass = elf.read<std::uint8_t>(4);
  if (!sectionHeaders || !entrySize || !count || !namesIndex || !elfClass) return bad("truncated ELF header");
  if (*elfClass != 2) return bad("not a 64-bit ELF file");
  if (*entrySize < 0x40) return bad("section header entries too small");
  std::vector<Section> sections(*count);
  std::vector<std::uint32_t> nameOffsets(*count);
  for (std::uint16_t i = 0; i < *count; ++i) {
    std::uint64_t at = *sectionHeaders + static_cast<std::uint64_t>(i) * *entrySize;
    auto name = elf.read<std::uint32_t>(at);
    auto type = elf.read<std::uint32_t>(at + 4);
    auto offset = elf.read<std::uint64_t>(at + 0x18);
    auto size = elf.read<std::uint64_t>(at + 0x20);
    auto link = elf.read<std::uint32_t>(at + 0x28);
    if (!name || !type || !offset || !size || !link) return bad(fmt::format("section header {} is truncated", i));
    if (*type != kSectionNobits && !elf.fits(*offset, *size)) {
      return bad(fmt::format("section {} runs past the end of the file", i));
    }
    nameOffsets[i] = *name;
    sections[i] = Section{{}, *type, *offset, *size, *link};
  }
  if (*namesIndex >= sections.size()) return bad("no section name table");
  if (Status segments = checkSegments(elf); !segments) return segments;
  auto names = elf.slice(sections[*namesIndex].offset, sections[*namesIndex].size);
  if (!names) return bad("section name table out of bounds");
  for (std::size_t i = 0; i < sections.size(); ++i) sections[i].name = cString(*names, nameOffsets[i]);
  return sections;
}

Status parseKernelInfo(std::string kernelName, std::span<const std::uint8_t> info, KernelImage& image) {
  ByteReader reader(info);
  std::map<std::uint16_t, KernelParam> byOrdinal;
  std::uint32_t paramBytes = 0;
  std::uint64_t at = 0;
  while (at + 4 <= info.size()) {
    std::uint8_t format = info[at];
    std::uint8_t attribute = info[at + 1];
    if (format != kFormatSized) {
      if (attribute == kAttrParamBankSize) paramBytes = *reader.read<std::uint16_t>(at + 2);
      at += 4;
      continue;
    }
    std::uint16_t size = *reader.read<std::uint16_t>(at + 2);
    auto payload = reader.slice(at + 4, size);
    if (!payload) return bad(fmt::format("attribute {:#x} of {} runs past its section", attribute, kernelName));
    if (attribute == kAttrKernelParamInfo) {
      if (size < 12) return bad(fmt::format("short parameter record in {}", kernelName));
      ByteReader record(*payload);
      std::uint16_t ordinal = *record.read<std::uint16_t>(4);
      std::uint16_t offset = *record.read<std::uint16_t>(6);
      std::uint32_t sizeBits = *record.read<std::uint32_t>(8);
      byOrdinal[ordinal] = KernelParam{offset, sizeBits >> 18};
    }
    at += 4 + static_cast<std::uint64_t>(size);
  }
  KernelInfo kernel;
  kernel.name = std::move(kernelName);
  for (std::uint16_t expected = 0; auto& [ordinal, param] : byOrdinal) {
    if (ordinal != expected++) return bad(fmt::format("parameter ordinals of {} have a gap", kernel.name));
    kernel.params.push_back(param);
  }
  kernel.paramBytes = paramBytes;
  if (!kernel.params.empty()) {
    kernel.paramBytes = std::max(paramBytes, kernel.params.back().offset + kernel.params.back().size);
  }
  image.kernels.push_back(std::move(kernel));
  return Status::ok();
}

Status parseGlobals(const ByteReader& elf, const std::vector<Section>& sections, KernelImage& image) {
  for (const auto& symtab : sections) {
    if (symtab.type != kSectionSymtab || symtab.link >= sections.size()) continue;
    auto names = elf.slice(sections[symtab.link].offset, sections[symtab.link].size);
    auto symbols = elf.slice(symtab.offset, symtab.size);
    if (!names || !symbols) return bad("symbol table out of bounds");
    ByteReader table(*symbols);
    for (std::uint64_t at = 0; at + 24 <= symbols->size(); at += 24) {
      std::uint32_t name = *table.read<std::uint32_t>(at);
      std::uint8_t info = *table.read<std::uint8_t>(at + 4);
      std::uint16_t sectionIndex = *table.read<std::uint16_t>(at + 6);
      std::uint64_t value = *table.read<std::uint64_t>(at + 8);
      std::uint64_t size = *table.read<std::uint64_t>(at + 16);
      if ((info & 0xf) != kSymbolObject || sectionIndex >= sections.size()) continue;
      const Section& home = sections[sectionIndex];
      if (home.name != ".nv.global" && home.name != ".nv.global.init") continue;
      GlobalVariable global{cString(*names, name), size, {}};
      if (home.type != kSectionNobits) {
        auto bytes = elf.slice(home.offset + value, size);
        if (!bytes || value > home.size) return bad(fmt::format("initializer of {} out of bounds", global.name));
        global.initialBytes.assign(bytes->begin(), bytes->end());
      }
      image.globals.push_back(std::move(global));
    }
  }
  return Status::ok();
}

}  // namespace

Result<std::span<const std::uint8_t>> elfSection(std::span<const std::uint8_t> bytes, std::string_view name) {
  ByteReader elf(bytes);
  auto sections = readSections(elf);
  if (!sections) return sections.status();
  for (const Section& section : *sections) {
    if (section.name != name || section.type == kSectionNobits) continue;
    auto slice = elf.slice(section.offset, section.size);
    if (!slice) return bad("section out of bounds");
    return *slice;
  }
  return Status(CUDA_ERROR_NOT_FOUND, fmt::format("no {} section", name));
}

Result<KernelImage> parseCubin(std::span<const std::uint8_t> bytes) {
  ByteReader elf(bytes);
  auto sections = readSections(elf);
  if (!sections) return sections.status();
  KernelImage image;
  constexpr std::string_view kInfoPrefix = ".nv.info.";
  for (const auto& section : *sections) {
    if (!section.name.starts_with(kInfoPrefix)) continue;
    auto info = elf.slice(section.offset, section.size);
    if (!info) return bad("kernel info out of bounds");
    if (Status status = parseKernelInfo(section.name.substr(kInfoPrefix.size()), *info, image); !status) {
      return status;
    }
  }
  if (Status status = parseGlobals(elf, *sections, image); !status) return status;
  return image;
}

}  // namespace fastgpu::cudaabi
