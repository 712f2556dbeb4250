// Links on the server (cuLinkCreate .. cuLinkDestroy through the server's driver): a link is its
// session's, its inputs are charged as code bytes while it lives, links are counted, bad inputs
// are refused with the session going on, and what a link makes loads as a module.
#include <fstream>
#include <iterator>

#include "session_test_support.h"

namespace fastgpu::server {
namespace {

std::vector<std::uint8_t> testImage(const std::string& file) {
  std::ifstream in(std::string(FASTGPU_TEST_DATA_DIR) + "/" + file, std::ios::binary);
  return {(std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()};
}

std::pair<CUresult, std::uint64_t> createLink(RawClient& client) {
  std::uint64_t link = 0;
  CUresult result = client.call([](wire::Call::Builder c) { c.setLinkCreate(); }, &link).first;
  return {result, link};
}

CUresult addInput(RawClient& client, std::uint64_t link, CUjitInputType type, const std::vector<std::uint8_t>& bytes) {
  return client
      .call([&](wire::Call::Builder c) {
        auto input = c.initLinkAddData();
        input.setLink(link);
        input.setType(static_cast<std::uint32_t>(type));
        input.setName("input");
        input.setData(kj::arrayPtr(bytes.data(), bytes.size()));
      })
      .first;
}

CUresult destroyLink(RawClient& client, std::uint64_t link) {
  return client.call([&](wire::Call::Builder c) { c.setLinkDestroy(link); }).first;
}

TEST_F(ServerTest, LinksAreTheSessionsChargedAsCodeAndWhatTheyMakeLoads) {
  start("[limits]\nsession_module_bytes = \"1MiB\"\n");
  RawClient client(url);
  client.retainPrimary();
  std::vector<std::uint8_t> fatbin = testImage("test_kernels.fatbin");
  ASSERT_GT(fatbin.size(), 16u * 1024);
  ASSERT_LT(fatbin.size(), 32u * 1024);
  auto [created, link] = createLink(client);
  ASSERT_EQ(created, CUDA_SUCCESS);
  // Inputs are charged while the link lives: some fit in 1 MiB, then one is refused.
  int added = 0;
  while (added < 100 && addInput(client, link, CU_JIT_INPUT_FATBINARY, fatbin) == CUDA_SUCCESS) ++added;
  EXPECT_EQ(added, static_cast<int>((1024 * 1024) / fatbin.size()));
  EXPECT_EQ(client.load().result, CUDA_ERROR_OUT_OF_MEMORY) << "a link's inputs count with the modules";
  EXPECT_EQ(destroyLink(client, link), CUDA_SUCCESS);
  EXPECT_EQ(destroyLink(client, link), CUDA_ERROR_INVALID_HANDLE) << "destroyed once";

  // Given back: a new link of one input completes, and its image loads with the kernels.
  auto [again, small] = createLink(client);
  ASSERT_EQ(again, CUDA_SUCCESS);
  EXPECT_EQ(addInput(client, small, CU_JIT_INPUT_CUBIN, testImage("test_kernels.cubin")), CUDA_SUCCESS);
  auto [completed, image] = client.callForData([&](wire::Call::Builder c) { c.setLinkComplete(small); });
  ASSERT_EQ(completed, CUDA_SUCCESS);
  ASSERT_FALSE(image.empty());
  auto answered = client.send([&](wire::Call::Builder c) { c.setModuleLoad(kj::arrayPtr(image.data(), image.size())); });
  ASSERT_NE(answered, nullptr);
  EXPECT_EQ(answered->reply().getResult(), CUDA_SUCCESS);
  ASSERT_TRUE(answered->reply().isModule());
  bool hasAppend = false;
  for (auto kernel : answered->reply().getModule().getKernels()) hasAppend |= kernel.getName() == "appendValue";
  EXPECT_TRUE(hasAppend);
  EXPECT_EQ(destroyLink(client, small), CUDA_SUCCESS);
}

TEST_F(ServerTest, ForgedLinksBadInputsAndTooManyLinksAreRefused) {
  RawClient client(url), other(url);
  client.retainPrimary();
  other.retainPrimary();
  auto [created, link] = createLink(client);
  ASSERT_EQ(created, CUDA_SUCCESS);
  std::vector<std::uint8_t> fatbin = testImage("test_kernels.fatbin");
  EXPECT_EQ(addInput(other, link, CU_JIT_INPUT_FATBINARY, fatbin), CUDA_ERROR_INVALID_HANDLE) << "another session's";
  EXPECT_EQ(addInput(client, 0x1234, CU_JIT_INPUT_FATBINARY, fatbin), CUDA_ERROR_INVALID_HANDLE) << "forged";
  EXPECT_EQ(addInput(client, client.context, CU_JIT_INPUT_FATBINARY, fatbin), CUDA_ERROR_INVALID_HANDLE)
      << "a context where a link belongs";
  EXPECT_EQ(addInput(client, link, static_cast<CUjitInputType>(99), fatbin), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(addInput(client, link, CU_JIT_INPUT_NVVM, fatbin), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(addInput(client, link, CU_JIT_INPUT_CUBIN, {}), CUDA_ERROR_INVALID_VALUE) << "empty";
  EXPECT_EQ(addInput(client, link, CU_JIT_INPUT_CUBIN, std::vector<std::uint8_t>(512, 0x7f)), CUDA_ERROR_INVALID_IMAGE);
  auto [empty, none] = client.callForData([&](wire::Call::Builder c) { c.setLinkComplete(link); });
  EXPECT_NE(empty, CUDA_SUCCESS) << "nothing to link";
  EXPECT_TRUE(none.empty());
  // Links are counted: kMaxLinks in all, then refused until one goes.
  std::vector<std::uint64_t> links{link};
  while (links.size() < static_cast<std::size_t>(kMaxLinks)) {
    auto [made, id] = createLink(client);
    ASSERT_EQ(made, CUDA_SUCCESS);
    links.push_back(id);
  }
  EXPECT_EQ(createLink(client).first, CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(destroyLink(client, links.back()), CUDA_SUCCESS);
  EXPECT_EQ(createLink(client).first, CUDA_SUCCESS);
  EXPECT_GT(client.freeMemory(), 0u) << "the session goes on";
}

}  // namespace
}  // namespace fastgpu::server
