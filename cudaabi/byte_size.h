// Memory sizes as people write them: "80GiB", "512 MiB", "2GB", "4096".
#pragma once

#include <cstdint>
#include <string_view>

#include "cudaabi/result.h"

namespace fastgpu {

// Parses a size into bytes. Units: B, KiB/MiB/GiB/TiB, K/M/G/T and KB/MB/GB/TB, all powers of
// 1024 (memory sizes conventionally are); no unit means bytes. Fails with a message quoting
// the text.
Result<std::uint64_t> parseByteSize(std::string_view text);

}  // namespace fastgpu
