// The module cache on its own: what it keeps, what it refuses to read back, and what it evicts.
#include "server/module_cache.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/scratch_directory.h"

namespace fastgpu::server {
namespace {

std::vector<std::uint8_t> imageOf(std::uint8_t fill, std::size_t bytes = 1000) {
  return std::vector<std::uint8_t>(bytes, fill);
}

std::string fileOf(const ModuleCache& cache, const std::vector<std::uint8_t>& image) {
  return cache.directory() + "/" + protocol::hexOf(protocol::codeDigest(image));
}

// Sets a file's last use `secondsAgo` in the past (the cache's LRU clock is the file's mtime).
void usedAgo(const std::string& path, int secondsAgo) {
  timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= secondsAgo;
  times[1] = times[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

std::unique_ptr<ModuleCache> openIn(const testing::ScratchDirectory& scratch, std::uint64_t capacity) {
  auto cache = ModuleCache::open(scratch.path() + "/vgpu", capacity);
  EXPECT_TRUE(cache) << cache.status().message();
  return cache ? std::move(*cache) : nullptr;
}

TEST(ModuleCache, AKeptImageIsFoundByItsDigestInAPrivateDirectory) {
  testing::ScratchDirectory scratch;
  auto cache = openIn(scratch, 1 << 20);
  auto image = imageOf(7);
  EXPECT_FALSE(cache->find(protocol::codeDigest(image))) << "nothing kept yet";
  cache->keep(image);
  EXPECT_EQ(cache->find(protocol::codeDigest(image)), image);
  EXPECT_FALSE(cache->find(protocol::codeDigest(imageOf(8))));
  struct stat info {};
  ASSERT_EQ(::stat(cache->directory().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u) << "other tenants' code: the server's user only";
  ASSERT_EQ(::stat(fileOf(*cache, image).c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST(ModuleCache, ADamagedImageIsNotReadBackAndIsRemoved) {
  testing::ScratchDirectory scratch;
  auto cache = openIn(scratch, 1 << 20);
  auto image = imageOf(7);
  cache->keep(image);
  std::string path = fileOf(*cache, image);
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(10);
    file.put('\x01');  // one flipped byte: a torn write or a disk error
  }
  EXPECT_FALSE(cache->find(protocol::codeDigest(image)));
  EXPECT_FALSE(std::filesystem::exists(path));
  cache->keep(image);  // kept again whole when next loaded
  EXPECT_EQ(cache->find(protocol::codeDigest(image)), image);
}

TEST(ModuleCache, AFileUnderADigestNameThatIsNotARegularFileIsNotFollowed) {
  testing::ScratchDirectory scratch;
  auto cache = openIn(scratch, 1 << 20);
  auto image = imageOf(7);
  std::string elsewhere = scratch.path() + "/elsewhere";
  std::ofstream(elsewhere, std::ios::binary).write(reinterpret_cast<const char*>(image.data()), image.size());
  ASSERT_EQ(::symlink(elsewhere.c_str(), fileOf(*cache, image).c_str()), 0);
  EXPECT_FALSE(cache->find(protocol::codeDigest(image)));
  EXPECT_TRUE(std::filesystem::exists(elsewhere)) << "the link's target is not ours to remove";
}

TEST(ModuleCache, KeepingPastTheBoundEvictsTheLeastRecentlyUsed) {
  testing::ScratchDirectory scratch;
  auto cache = openIn(scratch, 3000);  // three images of 1000 bytes
  auto a = imageOf(1), b = imageOf(2), c = imageOf(3), d = imageOf(4);
  cache->keep(a);
  cache->keep(b);
  cache->keep(c);
  usedAgo(fileOf(*cache, a), 30);
  usedAgo(fileOf(*cache, b), 20);
  usedAgo(fileOf(*cache, c), 10);
  ASSERT_TRUE(cache->find(protocol::codeDigest(a)));  // a is now the most recently used
  cache->keep(d);
  EXPECT_FALSE(std::filesystem::exists(fileOf(*cache, b))) << "the least recently used goes";
  EXPECT_TRUE(cache->find(protocol::codeDigest(a)));
  EXPECT_TRUE(cache->find(protocol::codeDigest(c)));
  EXPECT_TRUE(cache->find(protocol::codeDigest(d)));
}

TEST(ModuleCache, AnImageLargerThanTheBoundIsNotKept) {
  testing::ScratchDirectory scratch;
  auto cache = openIn(scratch, 3000);
  auto small = imageOf(1);
  cache->keep(small);
  cache->keep(imageOf(2, 3001));
  EXPECT_FALSE(cache->find(protocol::codeDigest(imageOf(2, 3001))));
  EXPECT_TRUE(cache->find(protocol::codeDigest(small))) << "nothing was evicted for it";
}

TEST(ModuleCache, AbandonedPartialFilesAreRemovedAndRecentOnesLeftAlone) {
  testing::ScratchDirectory scratch;
  auto cache = openIn(scratch, 1 << 20);
  std::string abandoned = cache->directory() + "/.partial-abandoned-1";
  std::string writing = cache->directory() + "/.partial-writing-2";
  std::ofstream(abandoned) << "half an image";
  std::ofstream(writing) << "another session is writing this";
  usedAgo(abandoned, 3600);
  cache->keep(imageOf(1));
  EXPECT_FALSE(std::filesystem::exists(abandoned));
  EXPECT_TRUE(std::filesystem::exists(writing));
}

TEST(ModuleCache, ADirectoryThatCannotBeMadeIsAClearError) {
  testing::ScratchDirectory scratch;
  std::ofstream(scratch.path() + "/file") << "not a directory";
  auto cache = ModuleCache::open(scratch.path() + "/file/vgpu", 1 << 20);
  ASSERT_FALSE(cache);
  EXPECT_NE(cache.status().message().find("cannot create module cache"), std::string::npos) << cache.status().message();
}

}  // namespace
}  // namespace fastgpu::server
