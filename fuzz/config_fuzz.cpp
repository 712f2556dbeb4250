// Fuzz target: the server's TOML configuration and a vGPU patch (what the admin API applies), as
// an operator or an admin client may write them. Refused with FILE:LINE:COLUMN and a reason, or
// accepted; never a crash or an exception out of the parser.
#include <string_view>

#include "scheduler/server_config.h"

using namespace fastgpu;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)scheduler::parseServerConfig(text, "fuzz.toml");
  scheduler::VgpuSpec base;
  base.name = "base";
  base.memoryBytes = 1 << 30;
  base.tokenHashes.push_back(scheduler::hashToken("t"));
  if (auto patched = scheduler::patchVgpuSpec(base, text, "patch.toml")) {
    (void)scheduler::formatVgpuSpec(*patched);
  }
  return 0;
}
