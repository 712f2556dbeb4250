// Any image to one KernelImage. See kernel_image.h.
#include "cudaabi/kernel_image.h"

#include <algorithm>

namespace fastgpu::cudaabi {
namespace {

// Adds what `from` knows and `into` does not. Cubin entries come first, so their layouts (the
// compiler's own) win over ones computed from PTX.
void merge(KernelImage& into, KernelImage&& from) {
  for (auto& kernel : from.kernels) {
    if (into.findKernel(kernel.name) == nullptr) into.kernels.push_back(std::move(kernel));
  }
  for (auto& global : from.globals) {
    if (into.findGlobal(global.name) == nullptr) into.globals.push_back(std::move(global));
  }
}

std::string_view asText(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

const KernelInfo* KernelImage::findKernel(std::string_view name) const {
  auto it = std::find_if(kernels.begin(), kernels.end(), [&](const auto& k) { return k.name == name; });
  return it == kernels.end() ? nullptr : &*it;
}

const GlobalVariable* KernelImage::findGlobal(std::string_view name) const {
  auto it = std::find_if(globals.begin(), globals.end(), [&](const auto& g) { return g.name == name; });
  return it == globals.end() ? nullptr : &*it;
}

Result<KernelImage> parseKernelImage(std::span<const std::uint8_t> bytes) {
  auto kind = detectImageKind(bytes);
  if (!kind) return kind.status();
  switch (*kind) {
    case ImageKind::kCubin:
      return parseCubin(bytes);
    case ImageKind::kPtx:
      return parsePtx(asText(bytes));
    case ImageKind::kFatbinWrapper:
      return Status(CUDA_ERROR_INVALID_IMAGE, "a fatbin wrapper is a pointer structure; pass its fatbin");
    case ImageKind::kFatbin:
      break;
  }
  auto entries = parseFatbin(bytes);
  if (!entries) return entries.status();
  std::stable_sort(entries->begin(), entries->end(), [](const auto& a, const auto& b) { return a.kind > b.kind; });
  KernelImage image;
  for (auto& entry : *entries) {
    auto part = entry.kind == 2 ? parseCubin(entry.payload) : parsePtx(asText(entry.payload));
    if (!part) return part.status();
    merge(image, std::move(*part));
  }
  return image;
}

}  // namespace fastgpu::cudaabi
