// PTX text: kernel parameter lists from `.entry` directives and global variables from
// `.global` declarations. Only what a driver needs to pack parameters and place globals; this is
// not a PTX compiler.
#include <algorithm>
#include <charconv>
#include <regex>

#include <fmt/format.h>

#include "cudaabi/kernel_image.h"

namespace fastgpu::cudaabi {
namespace {

Status bad(std::string what) { return Status(CUDA_ERROR_INVALID_PTX, "invalid PTX: " + std::move(what)); }

std::uint32_t typeBytes(std::string_view type) {
  if (type.size() < 3) return 0;
  std::uint32_t bits = 0;
  std::from_chars(type.data() + 2, type.data() + type.size(), bits);
  if (type == ".pred") return 1;
  return bits / 8;
}

// One declaration: `[.align N] .type name[count]`.
struct Declaration {
  std::string name;
  std::uint32_t align = 0;
  std::uint32_t elementBytes = 0;
  std::uint64_t count = 1;
};

Result<Declaration> parseDeclaration(const std::string& text) {
  static const std::regex kDecl(
      R"((?:\.align\s+(\d+)\s+)?(?:\.ptr\s+)?(?:\.(?:global|shared|const|local)\s+)?(?:\.align\s+(\d+)\s+)?(\.[a-z]+\d*)\s+([A-Za-z_$%][\w$]*)\s*(?:\[(\d*)\])?)");
  std::smatch m;
  if (!std::regex_search(text, m, kDecl)) return bad(fmt::format("cannot read declaration '{}'", text));
  Declaration decl;
  decl.name = m[4];
  decl.elementBytes = typeBytes(m[3].str());
  if (decl.elementBytes == 0) return bad(fmt::format("unknown type {} of {}", m[3].str(), decl.name));
  std::string align = m[1].matched ? m[1].str() : m[2].str();
  decl.align = align.empty() ? decl.elementBytes : static_cast<std::uint32_t>(std::stoul(align));
  if (m[5].matched && !m[5].str().empty()) decl.count = std::stoull(m[5].str());
  if (decl.align == 0 || (decl.align & (decl.align - 1)) != 0) return bad("alignment is not a power of two");
  return decl;
}

Status parseEntries(const std::string& text, KernelImage& image) {
  static const std::regex kEntry(R"(\.entry\s+([A-Za-z_$][\w$]*)\s*\(([^)]*)\))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kEntry); it != std::sregex_iterator(); ++it) {
    KernelInfo kernel;
    kernel.name = (*it)[1];
    std::string list = (*it)[2];
    std::uint64_t offset = 0;
    std::size_t start = 0;
    while (start < list.size()) {
      std::size_t end = list.find(',', start);
      if (end == std::string::npos) end = list.size();
      std::string param = list.substr(start, end - start);
      start = end + 1;
      auto paramPos = param.find(".param");
      if (paramPos == std::string::npos) continue;
      auto decl = parseDeclaration(param.substr(paramPos + 6));
      if (!decl) return decl.status();
      offset = (offset + decl->align - 1) / decl->align * decl->align;
      std::uint64_t size = decl->elementBytes * decl->count;
      if (offset + size > 0xffff) return bad(fmt::format("parameters of {} exceed 64 KiB", kernel.name));
      kernel.params.push_back({static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(size)});
      offset += size;
    }
    kernel.paramBytes = static_cast<std::uint32_t>(offset);
    image.kernels.push_back(std::move(kernel));
  }
  return Status::ok();
}

std::vector<std::uint8_t> initializerBytes(const std::string& values, std::uint32_t elementBytes) {
  std::vector<std::uint8_t> bytes;
  static const std::regex kNumber(R"(-?(?:0[xX][0-9a-fA-F]+|\d+))");
  for (auto it = std::sregex_iterator(values.begin(), values.end(), kNumber); it != std::sregex_iterator(); ++it) {
    auto value = static_cast<std::uint64_t>(std::stoll(it->str(), nullptr, 0));
    for (std::uint32_t i = 0; i < elementBytes && i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
  return bytes;
}

Status parseGlobals(const std::string& text, KernelImage& image) {
  static const std::regex kGlobal(R"((?:^|\n)\s*(?:\.(?:visible|extern|weak)\s+)?\.global\s+([^;=]*)(?:=\s*([^;]*))?;)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kGlobal); it != std::sregex_iterator(); ++it) {
    auto decl = parseDeclaration((*it)[1]);
    if (!decl) return decl.status();
    GlobalVariable global{decl->name, decl->elementBytes * decl->count, {}};
    if ((*it)[2].matched) global.initialBytes = initializerBytes((*it)[2], decl->elementBytes);
    if (global.initialBytes.size() > global.size) global.initialBytes.resize(global.size);
    image.globals.push_back(std::move(global));
  }
  return Status::ok();
}

}  // namespace

Result<KernelImage> parsePtx(std::string_view ptx) {
  std::string text(ptx.substr(0, ptx.find('\0')));
  if (text.find(".version") == std::string::npos || text.find(".target") == std::string::npos) {
    return bad("no .version and .target directives: not PTX text");
  }
  KernelImage image;
  if (Status status = parseEntries(text, image); !status) return status;
  if (Status status = parseGlobals(text, image); !status) return status;
  return image;
}

}  // namespace fastgpu::cudaabi
