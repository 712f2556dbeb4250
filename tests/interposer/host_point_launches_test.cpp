#include "interposer/host_point_launches.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace fastgpu::interposer {
namespace {

using namespace std::chrono_literals;

void nothing(void*) {}

// An executable's record: copy to the host (staging 11) -> point 5 -> copy from the host (12);
// another copy to the host (13) after it; point 6 at the end, after 11 and 13.
std::shared_ptr<const CapturedGraph> record() {
  auto graph = std::make_shared<CapturedGraph>();
  graph->effects.push_back(HostEffect{.kind = HostEffect::Kind::kCopyToHost, .staging = 11, .bytes = 4});
  graph->effects.push_back(HostEffect{.kind = HostEffect::Kind::kHostFunction, .function = nothing, .point = 5});
  graph->effects.push_back(HostEffect{.kind = HostEffect::Kind::kCopyFromHost, .staging = 12, .bytes = 4});
  graph->effects.push_back(HostEffect{.kind = HostEffect::Kind::kCopyToHost, .staging = 13, .bytes = 4});
  graph->effects.push_back(HostEffect{.kind = HostEffect::Kind::kHostFunction, .function = nothing, .point = 6});
  graph->effects.push_back(HostEffect{.kind = HostEffect::Kind::kCopyToHost, .staging = 14, .bytes = 4});
  graph->pointCopies = {{5, 11}, {5, 12}, {6, 11}, {6, 13}};
  return graph;
}

TEST(HostPointLaunches, APointBringsItsFunctionTheCopiesBeforeItOnceAndTheCopiesAfterIt) {
  HostPointLaunches launches;
  EXPECT_NE(launches.nextPoint(), launches.nextPoint());
  std::uint32_t launch = launches.begin(record());
  auto first = launches.reached(5);
  ASSERT_TRUE(first.function);
  EXPECT_EQ(first.function->point, 5u);
  ASSERT_EQ(first.copies.size(), 1u);
  EXPECT_EQ(first.copies[0].staging, 11u);
  ASSERT_EQ(first.refills.size(), 1u);
  EXPECT_EQ(first.refills[0].staging, 12u);
  auto second = launches.reached(6);
  ASSERT_EQ(second.copies.size(), 1u) << "11 was delivered at point 5 already";
  EXPECT_EQ(second.copies[0].staging, 13u);
  EXPECT_FALSE(launches.reached(99).function) << "a point no launch knows brings nothing";
  auto left = launches.end(launch);
  ASSERT_EQ(left.size(), 1u) << "only the copy after every point is left for the end";
  EXPECT_EQ(left[0].staging, 14u);
  // A second launch delivers everything again.
  std::uint32_t again = launches.begin(record());
  EXPECT_EQ(launches.reached(6).copies.size(), 2u);
  EXPECT_EQ(launches.end(again).size(), 1u);
}

// Another thread's call waits for the launch in flight, and a launch for the calls in progress
// and the launch in flight; the launching thread's own calls pass at once.
TEST(HostPointLaunches, LaunchesAndOtherThreadsCallsExcludeEachOther) {
  HostPointLaunches launches;
  std::uint32_t launch = launches.begin(record());
  { auto own = launches.callTurn(); }  // would block forever if it counted
  std::atomic<bool> tripped{false};
  std::thread other([&] {
    auto trip = launches.callTurn();
    tripped = true;
  });
  std::this_thread::sleep_for(50ms);  // not a synchronization: only gives a wrong trip a chance
  EXPECT_FALSE(tripped) << "another thread's round trip went while a launch was in flight";
  launches.end(launch);
  other.join();
  EXPECT_TRUE(tripped);

  std::promise<void> release;
  std::promise<void> holding;
  std::thread holder([&] {
    auto trip = launches.callTurn();
    holding.set_value();
    release.get_future().wait();
  });
  holding.get_future().wait();
  auto started = std::async(std::launch::async, [&] { return launches.begin(record()); });
  EXPECT_EQ(started.wait_for(50ms), std::future_status::timeout) << "a launch began during a round trip";
  release.set_value();
  holder.join();
  std::uint32_t next = started.get();
  auto second = std::async(std::launch::async, [&] { return launches.begin(record()); });
  EXPECT_EQ(second.wait_for(50ms), std::future_status::timeout) << "two launches in flight at once";
  launches.end(next);
  launches.end(second.get());
}

}  // namespace
}  // namespace fastgpu::interposer
