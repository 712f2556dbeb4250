// Code images too large for one frame: uploaded in parts (codeUpload), then loaded
// (codeLoadUploaded). Parts out of order, past the image's size or over the session's module limit
// fail the load that follows, and nothing else.
#include <fstream>

#include "session_test_support.h"

namespace fastgpu::server {
namespace {

std::vector<std::uint8_t> testKernels() {
  std::ifstream in(std::string(FASTGPU_TEST_DATA_DIR) + "/test_kernels.fatbin", std::ios::binary);
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct Part {
  std::uint64_t offset;
  std::uint64_t bytes;
};

// Posts `parts` of `image` (claiming `total` bytes in all), then loads what was uploaded.
RawClient::LoadedCode upload(RawClient& client, std::span<const std::uint8_t> image, std::vector<Part> parts,
                             std::uint64_t total, bool library = false) {
  for (const Part& part : parts) {
    bool posted = false;
    client.send(
        [&](wire::Call::Builder c) {
          auto upload = c.initCodeUpload();
          upload.setOffset(part.offset);
          upload.setTotal(total);
          upload.setBytes(part.bytes);
        },
        image.subspan(part.offset, part.bytes), &posted);
    EXPECT_TRUE(posted) << "parts are posted";
  }
  return RawClient::loadedFrom(client.send([&](wire::Call::Builder c) { c.setCodeLoadUploaded(library); }));
}

TEST_F(ServerTest, AnImageUploadedInPartsLoadsWhole) {
  RawClient client(url);
  client.retainPrimary();
  auto image = testKernels();
  std::uint64_t size = image.size();
  for (bool library : {false, true}) {
    auto loaded = upload(client, image, {{0, 1000}, {1000, 7}, {1007, size - 1007}}, size, library);
    ASSERT_EQ(loaded.result, CUDA_SUCCESS);
    EXPECT_EQ(client.deferred, CUDA_SUCCESS);
    EXPECT_TRUE(loaded.kernels.count("appendValue"));
    auto [found, address, bytes] = client.global(loaded.handle, "deviceCounter", library);
    ASSERT_EQ(found, CUDA_SUCCESS);
    EXPECT_EQ(client.read(address, bytes).second, std::vector<std::uint8_t>({5, 0, 0, 0}));
  }
}

TEST_F(ServerTest, AnUploadWithPartsOutOfOrderOrPastItsSizeFailsItsLoadOnly) {
  RawClient client(url);
  client.retainPrimary();
  auto image = testKernels();
  std::uint64_t size = image.size();
  struct Case {
    const char* what;
    std::vector<Part> parts;
    std::uint64_t total;
  };
  const Case cases[] = {
      {"a gap", {{0, 1000}, {2000, size - 2000}}, size},
      {"a part again", {{0, 1000}, {1000, 1000}, {1000, size - 1000}}, size},
      {"past the size", {{0, 1000}, {1000, size - 1000}}, size - 1},
      {"no start", {{1000, size - 1000}}, size},
      {"short", {{0, 1000}}, size},
      {"nothing", {}, size},
      {"an empty part", {{0, 0}}, 0},
  };
  for (const Case& c : cases) {
    auto loaded = upload(client, image, c.parts, c.total);
    EXPECT_EQ(loaded.result, CUDA_ERROR_INVALID_VALUE) << c.what;
    EXPECT_EQ(client.deferred, CUDA_SUCCESS) << c.what << ": the parts' failure is the load's, not a deferred error";
  }
  // The session goes on, and a whole upload after failed ones loads.
  EXPECT_EQ(upload(client, image, {{0, size}}, size).result, CUDA_SUCCESS);
}

TEST_F(ServerTest, AnUploadOverTheSessionsModuleLimitIsRefusedBeforeItIsKept) {
  start("[limits]\nsession_module_bytes = \"1MiB\"\n");
  RawClient client(url);
  client.retainPrimary();
  auto image = testKernels();
  // Claims 2 MiB: refused at the first part, whatever follows.
  auto loaded = upload(client, image, {{0, 1000}}, 2u << 20);
  EXPECT_EQ(loaded.result, CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(upload(client, image, {{0, image.size()}}, image.size()).result, CUDA_SUCCESS) << "within the limit";
}

// A part that claims more bulk bytes than its frame holds is a malformed message: its session
// ends before anything is allocated for it, and other sessions go on.
TEST_F(ServerTest, APartClaimingMoreBytesThanItsFrameHoldsEndsOnlyItsSession) {
  RawClient liar(url), bystander(url);
  liar.retainPrimary();
  bystander.retainPrimary();
  std::vector<std::uint8_t> some(100, 1);
  liar.send(
      [&](wire::Call::Builder c) {
        auto upload = c.initCodeUpload();
        upload.setOffset(0);
        upload.setTotal(1ULL << 40);
        upload.setBytes(1ULL << 40);
      },
      some);
  EXPECT_EQ(liar.call([](wire::Call::Builder c) { c.setMemGetInfo(); }).first, CUDA_ERROR_DEVICE_UNAVAILABLE)
      << "the session ended";
  EXPECT_EQ(bystander.load().result, CUDA_SUCCESS);
}

}  // namespace
}  // namespace fastgpu::server
