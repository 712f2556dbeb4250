// The usage ledger: what is recorded comes back, filtered by time and vGPU, across a reopen.
#include "scheduler/usage_ledger.h"

#include <filesystem>

#include <gtest/gtest.h>

namespace fastgpu::scheduler {
namespace {

TEST(UsageLedgerTest, RecordsSurviveAReopenAndFilterByTimeAndVgpu) {
  std::string path = ::testing::TempDir() + "/usage-ledger-test.db";
  std::filesystem::remove(path);
  {
    auto ledger = UsageLedger::open(path);
    ASSERT_TRUE(ledger) << ledger.status().message();
    ASSERT_TRUE((*ledger)->record({1, "team-a", "host1", 11, 100, 200, 1.5, 2.0, 10, 20, 3}));
    ASSERT_TRUE((*ledger)->record({2, "team-b", "host2", 22, 150, 300, 0.5, 1.0, 30, 40, 5}));
  }
  auto ledger = UsageLedger::open(path);
  ASSERT_TRUE(ledger);
  auto all = (*ledger)->sessions(0, std::nullopt);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].vgpu, "team-a");
  EXPECT_EQ((*all)[0].gpuSeconds, 1.5);
  EXPECT_EQ((*all)[1].launches, 5u);
  auto late = (*ledger)->sessions(250, std::nullopt);
  ASSERT_TRUE(late);
  ASSERT_EQ(late->size(), 1u);
  EXPECT_EQ((*late)[0].session, 2u);
  auto onlyA = (*ledger)->sessions(0, std::string("team-a"));
  ASSERT_TRUE(onlyA);
  ASSERT_EQ(onlyA->size(), 1u);
  EXPECT_EQ((*onlyA)[0].host, "host1");
}

TEST(UsageLedgerTest, AnUnwritablePathIsAClearError) {
  auto ledger = UsageLedger::open("/nonexistent-directory/usage.db");
  ASSERT_FALSE(ledger);
  EXPECT_NE(ledger.status().message().find("usage ledger"), std::string::npos);
}

}  // namespace
}  // namespace fastgpu::scheduler
