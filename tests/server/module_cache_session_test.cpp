// Sessions and the module cache: a large image one session of a vGPU loaded, its next sessions
// load by digest; no other vGPU can, and nothing a client claims enters the cache.
#include <fmt/format.h>

#include "session_test_support.h"
#include "tests/support/scratch_directory.h"

namespace fastgpu::server {
namespace {

class ModuleCacheTest : public ServerTest {
 public:
  void SetUp() override { startTwoVgpus(fmt::format("module_cache_dir = \"{}\"\n", scratch.path())); }

  // Loads by digest; on success, checks the module is whole (its global has its initial value).
  CUresult loadCachedAndCheck(RawClient& client, const protocol::CodeDigest& digest, bool library = false) {
    auto loaded = client.loadCached(digest, library);
    if (loaded.result != CUDA_SUCCESS) return loaded.result;
    EXPECT_TRUE(loaded.kernels.count("appendValue"));
    auto [found, address, bytes] = client.global(loaded.handle, "deviceCounter", library);
    EXPECT_EQ(found, CUDA_SUCCESS);
    EXPECT_EQ(client.read(address, bytes).second, std::vector<std::uint8_t>({5, 0, 0, 0}));
    return loaded.result;
  }

  testing::ScratchDirectory scratch;
};

TEST_F(ModuleCacheTest, TheNextSessionOfAVgpuLoadsALargeImageByItsDigestAndNoOtherVgpuCan) {
  auto image = largeTestPtx();
  auto digest = protocol::codeDigest(image);
  {
    RawClient first(url, "a", "ta");
    EXPECT_TRUE(first.welcome().getModuleCache());
    first.retainPrimary();
    EXPECT_EQ(first.loadCached(digest).result, CUDA_ERROR_NOT_FOUND) << "not held yet: the client sends it";
    ASSERT_EQ(first.loadImage(image).result, CUDA_SUCCESS);
  }
  RawClient next(url, "a", "ta");
  next.retainPrimary();
  EXPECT_EQ(loadCachedAndCheck(next, digest), CUDA_SUCCESS);
  EXPECT_EQ(loadCachedAndCheck(next, digest, true), CUDA_SUCCESS) << "as a library too";
  RawClient otherTenant(url, "b", "tb");
  otherTenant.retainPrimary();
  EXPECT_EQ(otherTenant.loadCached(digest).result, CUDA_ERROR_NOT_FOUND) << "vGPU b learns nothing of a's code";
}

TEST_F(ModuleCacheTest, ASmallImageOrOneTheDriverRefusedIsNotKept) {
  auto junk = std::vector<std::uint8_t>(protocol::kCachedImageMinBytes + 10, 0x5a);
  RawClient first(url, "a", "ta");
  first.retainPrimary();
  ASSERT_EQ(first.load().result, CUDA_SUCCESS);  // test_kernels.fatbin: below the size worth asking for
  EXPECT_NE(first.loadImage(junk).result, CUDA_SUCCESS);
  std::ifstream in(std::string(FASTGPU_TEST_DATA_DIR) + "/test_kernels.fatbin", std::ios::binary);
  std::vector<std::uint8_t> small((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(first.loadCached(protocol::codeDigest(small)).result, CUDA_ERROR_NOT_FOUND);
  EXPECT_EQ(first.loadCached(protocol::codeDigest(junk)).result, CUDA_ERROR_NOT_FOUND);
}

TEST_F(ModuleCacheTest, ADigestOfTheWrongSizeIsRefusedAndTheSessionGoesOn) {
  RawClient client(url, "a", "ta");
  client.retainPrimary();
  std::vector<std::uint8_t> shortDigest(31, 1), longDigest(4096, 1);
  EXPECT_EQ(client.loadCached(shortDigest).result, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(client.loadCached(longDigest).result, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(client.loadCached({}).result, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(client.load().result, CUDA_SUCCESS);
}

TEST_F(ModuleCacheTest, AnImageLoadedByDigestCountsAgainstTheSessionsModuleLimit) {
  auto image = largeTestPtx();
  {
    RawClient first(url, "a", "ta");
    first.retainPrimary();
    ASSERT_EQ(first.loadImage(image).result, CUDA_SUCCESS);
  }
  start(fmt::format(R"(
module_cache_dir = "{}"
[limits]
session_modules = 1
[[vgpu]]
name = "a"
memory = "64MiB"
tokens = ["ta"]
)",
                    scratch.path()));
  RawClient next(url, "a", "ta");
  next.retainPrimary();
  auto digest = protocol::codeDigest(image);
  EXPECT_EQ(next.loadCached(digest).result, CUDA_SUCCESS);
  EXPECT_EQ(next.loadCached(digest).result, CUDA_ERROR_OUT_OF_MEMORY) << "one module at once";
}

TEST_F(ServerTest, WithoutAModuleCacheTheServerSaysSoAndDigestLoadsAreNotFound) {
  RawClient client(url);
  client.retainPrimary();
  EXPECT_FALSE(client.welcome().getModuleCache());
  auto image = largeTestPtx();
  ASSERT_EQ(client.loadImage(image).result, CUDA_SUCCESS);
  EXPECT_EQ(client.loadCached(protocol::codeDigest(image)).result, CUDA_ERROR_NOT_FOUND);
}

}  // namespace
}  // namespace fastgpu::server
