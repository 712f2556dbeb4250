#include "cudaabi/proc_address.h"

#include <dlfcn.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "cudaabi/driver_symbols.h"

namespace fastgpu::cudaabi {
namespace {

std::string symbolOf(std::string_view name, int version, std::uint64_t flags) {
  auto answer = lookupProcAddress(name, version, flags);
  if (answer.status != CU_GET_PROC_ADDRESS_SUCCESS) return "<status " + std::to_string(answer.status) + ">";
  return std::string(driverSymbolName(answer.symbolIndex));
}

struct Typedef {
  std::string name;
  int version;
  std::string suffix;
};

// Reads the typedefs straight from the toolkit, independently of the generator.
std::vector<Typedef> toolkitTypedefs() {
  std::vector<Typedef> typedefs;
  for (const char* header : {FASTGPU_CUDA_INCLUDE_DIR "/cudaTypedefs.h", FASTGPU_CUDA_INCLUDE_DIR "/cudaProfilerTypedefs.h"}) {
    std::ifstream file(header);
    std::stringstream text;
    text << file.rdbuf();
    std::string content = text.str();
    static const std::regex kTypedef(R"(PFN_(cu\w+?)_v(\d+)(_ptds|_ptsz)?\s*\))");
    for (auto it = std::sregex_iterator(content.begin(), content.end(), kTypedef); it != std::sregex_iterator(); ++it) {
      typedefs.push_back({(*it)[1], std::stoi((*it)[2]), (*it)[3]});
    }
  }
  return typedefs;
}

TEST(ProcAddress, KnownAnswersFromTheReferenceNotes) {
  EXPECT_EQ(symbolOf("cuMemAlloc", 3020, 0), "cuMemAlloc_v2");
  EXPECT_EQ(symbolOf("cuMemAlloc", 2000, 0), "cuMemAlloc");
  EXPECT_EQ(symbolOf("cuLaunchKernel", 4000, 0), "cuLaunchKernel");
  EXPECT_EQ(symbolOf("cuLaunchKernel", 7000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM), "cuLaunchKernel_ptsz");
  EXPECT_EQ(symbolOf("cuCtxSynchronize", 2000, 0), "cuCtxSynchronize");
  EXPECT_EQ(symbolOf("cuCtxSynchronize", 13000, 0), "cuCtxSynchronize_v2");
  EXPECT_EQ(symbolOf("cuGetProcAddress", 11030, 0), "cuGetProcAddress");
  EXPECT_EQ(symbolOf("cuGetProcAddress", 12000, 0), "cuGetProcAddress_v2");
  EXPECT_EQ(symbolOf("cuMemcpyHtoD", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM), "cuMemcpyHtoD_v2_ptds");
  // Per-thread asked of a name without per-thread variants: the plain symbol.
  EXPECT_EQ(symbolOf("cuDeviceGet", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM), "cuDeviceGet");
}

TEST(ProcAddress, UnknownNamesAndTooOldVersionsAreReported) {
  EXPECT_EQ(lookupProcAddress("", 13000, 0).status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  EXPECT_EQ(lookupProcAddress("cuNoSuchFunction", 13000, 0).status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  EXPECT_EQ(lookupProcAddress("cuMemAlloc", 1000, 0).status, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  EXPECT_EQ(lookupProcAddress("cuLaunchKernel", 4000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM).status,
            CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
}

// For every typedef of the toolkit: asking at its exact version gives a symbol whose own newest
// version is that typedef's (the newest variant at or below the asked version).
TEST(ProcAddress, EveryToolkitTypedefResolvesToItsSymbol) {
  auto typedefs = toolkitTypedefs();
  ASSERT_GE(typedefs.size(), 600u);
  std::map<std::string, std::set<int>> plainVersions;
  for (const auto& t : typedefs) {
    if (t.suffix.empty()) plainVersions[t.name].insert(t.version);
  }
  for (const auto& t : typedefs) {
    std::uint64_t flags = t.suffix.empty() ? 0 : CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
    auto answer = lookupProcAddress(t.name, t.version, flags);
    ASSERT_EQ(answer.status, CU_GET_PROC_ADDRESS_SUCCESS) << t.name << "_v" << t.version << t.suffix;
    std::string symbol(driverSymbolName(answer.symbolIndex));
    // The symbol's _vN suffix counts the plain versions at or below the asked one.
    const auto& versions = plainVersions[t.name];
    auto ordinal = std::distance(versions.begin(), versions.upper_bound(t.version));
    std::string expected = ordinal <= 1 ? t.name : t.name + "_v" + std::to_string(ordinal);
    EXPECT_EQ(symbol, expected + t.suffix) << "PFN_" << t.name << "_v" << t.version << t.suffix;
  }
}

// The generated surface is exactly the stub driver's export list.
TEST(ProcAddress, GeneratedSymbolsAreExactlyTheStubDriverExports) {
  void* stub = dlopen(FASTGPU_CUDA_STUB_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(stub, nullptr) << dlerror();
  for (std::size_t i = 0; i < kDriverSymbolCount; ++i) {
    std::string name(driverSymbolName(i));
    EXPECT_NE(dlsym(stub, name.c_str()), nullptr) << name << " is generated but not in the stub driver";
  }
  EXPECT_EQ(kDriverSymbolCount, 637u) << "CUDA 13.0's stub exports 637 functions";
  dlclose(stub);
}

TEST(ProcAddress, EntryPointRejectsBadArguments) {
  void* table[kDriverSymbolCount] = {};
  void* pfn = reinterpret_cast<void*>(1);
  CUdriverProcAddressQueryResult status;
  EXPECT_EQ(getProcAddress(nullptr, &pfn, 13000, 0, &status, table), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(getProcAddress("cuInit", nullptr, 13000, 0, &status, table), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(getProcAddress("cuInit", &pfn, 13000, 4, &status, table), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(getProcAddress("", &pfn, 13000, 0, &status, table), CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  EXPECT_EQ(pfn, nullptr);
}

// A known name whose function the library does not implement (a null address) is not found.
TEST(ProcAddress, AFunctionTheLibraryLacksIsNotFound) {
  void* table[kDriverSymbolCount] = {};
  void* pfn = reinterpret_cast<void*>(1);
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SUCCESS;
  EXPECT_EQ(getProcAddress("cuInit", &pfn, 13000, 0, &status, table), CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(status, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  EXPECT_EQ(pfn, nullptr);
  table[static_cast<std::size_t>(DriverSymbol::cuInit)] = &status;
  EXPECT_EQ(getProcAddress("cuInit", &pfn, 13000, 0, &status, table), CUDA_SUCCESS);
  EXPECT_EQ(pfn, &status);
}

}  // namespace
}  // namespace fastgpu::cudaabi
