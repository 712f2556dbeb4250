// The heap a same-host client's pinned memory comes from: both sides see the same pages, ranges
// are checked against the file before they are mapped, and a file that could shrink under a
// mapping is refused.
#include "protocol/transport/shared_heap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

namespace fastgpu::protocol {
namespace {

constexpr std::uint64_t kPage = 4096;

// The client's side of `heap`: a second descriptor of the same file, adopted.
SharedHeap clientSide(const SharedHeap& heap) {
  auto adopted = SharedHeap::adopt(::fcntl(heap.descriptor(), F_DUPFD_CLOEXEC, 0));
  EXPECT_TRUE(adopted) << adopted.status().message();
  return std::move(*adopted);
}

TEST(SharedHeap, BothSidesSeeTheSamePages) {
  auto server = SharedHeap::create();
  ASSERT_TRUE(server) << server.status().message();
  ASSERT_TRUE(server->reserve(0, 4 * kPage));
  SharedHeap client = clientSide(*server);
  auto theirs = server->map(kPage, 2 * kPage);
  auto ours = client.map(kPage, 2 * kPage);
  ASSERT_TRUE(theirs && ours);
  std::memset(*ours, 0x42, 2 * kPage);
  EXPECT_EQ(static_cast<unsigned char*>(*theirs)[2 * kPage - 1], 0x42);
  // A freed range reads as zeros afterwards, on both sides.
  server->release(kPage, 2 * kPage);
  EXPECT_EQ(static_cast<unsigned char*>(*ours)[0], 0);
  ::munmap(*theirs, 2 * kPage);
  ::munmap(*ours, 2 * kPage);
}

TEST(SharedHeap, RangesOutsideTheFileOrNotWholePagesAreRefused) {
  auto server = SharedHeap::create();
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->reserve(0, 2 * kPage));
  SharedHeap client = clientSide(*server);
  // Receive ranges past the file's end, unaligned, empty, or whose end overflows. Expect: refused.
  EXPECT_EQ(client.map(kPage, 2 * kPage).code(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(client.map(100, kPage).code(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(client.map(0, 100).code(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(client.map(0, 0).code(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(client.map(~0ULL - kPage + 1, kPage).code(), CUDA_ERROR_INVALID_VALUE);
  EXPECT_FALSE(server->reserve(~0ULL - kPage, 2 * kPage));
  EXPECT_FALSE(wholePages(~0ULL - 1));
  EXPECT_EQ(*wholePages(1), kPage);
}

TEST(SharedHeap, NeitherSideCanShrinkIt) {
  auto server = SharedHeap::create();
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->reserve(0, 2 * kPage));
  SharedHeap client = clientSide(*server);
  EXPECT_NE(::ftruncate(client.descriptor(), kPage), 0);
  // A client that grew it: the server's ranges below its size are there without growing.
  ASSERT_EQ(::ftruncate(client.descriptor(), 8 * kPage), 0);
  EXPECT_TRUE(server->reserve(2 * kPage, 2 * kPage));
}

TEST(SharedHeap, AFileThatCouldShrinkIsRefused) {
  int plain = ::memfd_create("unsealed", MFD_CLOEXEC);
  ASSERT_GE(plain, 0);
  auto adopted = SharedHeap::adopt(plain);
  ASSERT_FALSE(adopted);
  EXPECT_NE(adopted.status().message().find("not a sealed memory file"), std::string::npos);
  EXPECT_EQ(::fcntl(plain, F_GETFD), -1) << "the refused descriptor is closed";
}

}  // namespace
}  // namespace fastgpu::protocol
