#include "cudaabi/kernel_names.h"

namespace fastgpu::cudaabi {

namespace {

// Reads the decimal length at `at` (advancing past it); nothing when there is none.
std::optional<std::size_t> lengthAt(const std::string& name, std::size_t& at) {
  std::size_t start = at, value = 0;
  while (at < name.size() && name[at] >= '0' && name[at] <= '9' && at - start < 6) value = value * 10 + (name[at++] - '0');
  if (at == start) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::string> internalLinkageBaseName(const std::string& name) {
  static const std::string kStatic = "__nv_static_";
  if (name.starts_with(kStatic)) {  // __nv_static_<n>__<n characters of file tag><name>
    std::size_t at = kStatic.size();
    auto tag = lengthAt(name, at);
    // The tag (<file>_cpp1_ii_<hash>_) ends with '_'; a name follows it.
    if (!tag || *tag == 0 || name.compare(at, 2, "__") != 0 || name.size() - at - 2 <= *tag ||
        name[at + 2 + *tag - 1] != '_') {
      return std::nullopt;
    }
    std::string rest = name.substr(at + 2 + *tag);
    if (rest.starts_with(kStatic)) return std::nullopt;
    // A kernel in an anonymous namespace of a file compiled with -rdc=true has both forms.
    if (auto deeper = internalLinkageBaseName(rest)) return deeper;
    return rest;
  }
  static const std::string kNested = "_ZN";
  if (name.starts_with(kNested)) {  // _ZN<n><_GLOBAL__N_...><k><name>E<params>
    std::size_t at = kNested.size();
    auto space = lengthAt(name, at);
    if (!space || name.compare(at, 11, "_GLOBAL__N_") != 0 || name.size() - at <= *space) return std::nullopt;
    at += *space;
    std::size_t nameStart = at;
    auto length = lengthAt(name, at);
    if (!length || name.size() - at <= *length || name[at + *length] != 'E') return std::nullopt;
    return "_Z" + name.substr(nameStart, at - nameStart + *length) + name.substr(at + *length + 1);
  }
  return std::nullopt;
}

}  // namespace fastgpu::cudaabi
