// Which memory the client may move into the shared heap when a program registers it: private
// anonymous read-write pages only.
#include "interposer/process_mappings.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include <gtest/gtest.h>

namespace fastgpu::interposer {
namespace {

constexpr std::uint64_t kPage = 4096;

std::uint64_t addressOf(const void* pointer) { return reinterpret_cast<std::uint64_t>(pointer); }

TEST(ProcessMappings, MallocedAndAnonymousMemoryMayMove) {
  std::vector<char> small(5000);
  EXPECT_TRUE(privateAnonymousPages(addressOf(small.data()), small.size()));
  std::vector<char> large(64 << 20);  // its own mapping
  EXPECT_TRUE(privateAnonymousPages(addressOf(large.data()) + 100, large.size() - 200));
  void* anonymous = mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(anonymous, MAP_FAILED);
  EXPECT_TRUE(privateAnonymousPages(addressOf(anonymous), 4 * kPage));
  // Executable pages (code made at run time) may not: moved pages come back read-write only.
  ASSERT_EQ(mprotect(static_cast<char*>(anonymous) + kPage, kPage, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
  EXPECT_FALSE(privateAnonymousPages(addressOf(anonymous), 4 * kPage));
  EXPECT_TRUE(privateAnonymousPages(addressOf(anonymous) + 2 * kPage, 2 * kPage)) << "the pages after it";
  munmap(anonymous, 4 * kPage);
}

TEST(ProcessMappings, TheStackFilesSharedReadOnlyAndUnmappedMemoryMayNot) {
  int onStack = 0;
  EXPECT_FALSE(privateAnonymousPages(addressOf(&onStack), sizeof(onStack)));
  void* shared = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED);
  EXPECT_FALSE(privateAnonymousPages(addressOf(shared), kPage));
  munmap(shared, kPage);
  void* readOnly = mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(readOnly, MAP_FAILED);
  EXPECT_FALSE(privateAnonymousPages(addressOf(readOnly), kPage));
  munmap(readOnly, kPage);
  int file = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(file, 0);
  void* mapped = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, file, 0);
  close(file);
  ASSERT_NE(mapped, MAP_FAILED);
  EXPECT_FALSE(privateAnonymousPages(addressOf(mapped), kPage)) << "a private file mapping is the file's";
  munmap(mapped, kPage);
  // A hole in the middle.
  char* three = static_cast<char*>(mmap(nullptr, 3 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(three, MAP_FAILED);
  munmap(three + kPage, kPage);
  EXPECT_FALSE(privateAnonymousPages(addressOf(three), 3 * kPage));
  EXPECT_TRUE(privateAnonymousPages(addressOf(three), kPage));
  munmap(three, 3 * kPage);
  EXPECT_FALSE(privateAnonymousPages(~0ULL - 10, 100)) << "wraps";
  EXPECT_FALSE(privateAnonymousPages(addressOf(three), 0));
}

}  // namespace
}  // namespace fastgpu::interposer
