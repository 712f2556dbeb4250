// The interposer as a library inside someone else's process: what its symbol probes find, and what
// it hands to a program the client execs.
#include "tests/interposer/interposer_test_support.h"

namespace fastgpu::interposer {
namespace {

// A probe tells the truth (DESIGN.md decision 15): a driver function the client does not remote
// is absent to dlsym and to cuGetProcAddress alike, so frameworks take their fallbacks; one it
// remotes is the same function by either path.
TEST_F(Interposer, SymbolProbesFindOnlyWhatIsRemotedAndBothPathsAgree) {
  void* pfn = &context;
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SUCCESS;
  EXPECT_EQ(dlsym(InterposerEnvironment::handle, "cuGraphicsUnregisterResource"), nullptr);
  EXPECT_EQ(cu.cuGetProcAddress_v2("cuGraphicsUnregisterResource", &pfn, 13000, 0, &status), CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  EXPECT_EQ(pfn, nullptr);
  std::size_t found = 0, absent = 0;
  for (std::size_t i = 0; i < cudaabi::kDriverSymbolCount; ++i) {
    std::string symbol(cudaabi::driverSymbolName(i));
    void* direct = dlsym(InterposerEnvironment::handle, symbol.c_str());
    // The name a program asks cuGetProcAddress for: the symbol without its version or stream suffix.
    std::string name = symbol;
    for (const char* suffix : {"_ptds", "_ptsz"}) {
      if (name.ends_with(suffix)) name.resize(name.size() - 5);
    }
    if (auto v = name.rfind("_v"); v != std::string::npos && name.find_first_not_of("0123456789", v + 2) == std::string::npos) {
      name.resize(v);
    }
    for (std::uint64_t flags : {0u, 2u}) {
      auto answer = cudaabi::lookupProcAddress(name, 13000, flags);
      if (answer.status != CU_GET_PROC_ADDRESS_SUCCESS || answer.symbolIndex != i) continue;
      pfn = &context;
      CUresult result = cu.cuGetProcAddress_v2(name.c_str(), &pfn, 13000, flags, &status);
      EXPECT_EQ(pfn, direct) << name << " flags " << flags << " (" << symbol << ")";
      EXPECT_EQ(result, direct != nullptr ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND) << name;
      ++(direct != nullptr ? found : absent);
    }
  }
  EXPECT_GT(found, 300u) << "most of the surface frameworks use is remoted";
  // PyTorch's driver-API helper fails unless it finds these, at version 12000.
  for (const char* required :
       {"cuDeviceGet", "cuDeviceGetAttribute", "cuMemGetAddressRange", "cuMemAddressReserve", "cuMemRelease",
        "cuMemMap", "cuMemAddressFree", "cuMemSetAccess", "cuMemUnmap", "cuMemCreate", "cuMemGetAllocationGranularity",
        "cuMemExportToShareableHandle", "cuMemImportFromShareableHandle", "cuMemRetainAllocationHandle",
        "cuMemGetAllocationPropertiesFromHandle", "cuMemsetD32Async", "cuStreamWriteValue32", "cuGetErrorString"}) {
    EXPECT_EQ(cu.cuGetProcAddress_v2(required, &pfn, 12000, 0, &status), CUDA_SUCCESS) << required;
  }
  EXPECT_GT(absent, 100u) << "graphics interop, arrays, textures and more are not";
}

// A program that execs (a shell, a compiler, a DataLoader worker started fresh) does not hand
// its session's connection to the new program: every descriptor the client opens is
// close-on-exec.
TEST_F(Interposer, TheSessionsConnectionIsNotInheritedAcrossExec) {
  auto sockets = [](const std::string& listing) {
    std::size_t count = 0;
    for (auto at = listing.find("socket:"); at != std::string::npos; at = listing.find("socket:", at + 1)) ++count;
    return count;
  };
  std::string here;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    here += std::filesystem::read_symlink(entry.path(), error).string() + "\n";
  }
  ASSERT_GE(sockets(here), 1u) << "the session's connection is open here";
  std::FILE* child = popen("ls -l /proc/self/fd/", "r");
  ASSERT_NE(child, nullptr);
  std::string listing;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), child) != nullptr) listing += buffer;
  ASSERT_EQ(pclose(child), 0);
  EXPECT_EQ(sockets(listing), 0u) << listing;
}

}  // namespace
}  // namespace fastgpu::interposer
