// The client's table of asynchronous copies to pinned memory on its own: ids in order, the
// bounds it keeps below the server's, and a server's deliveries written where they belong or
// refused when nobody asked for them.
#include "interposer/delivery_table.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace fastgpu::interposer {
namespace {

// A reply carrying deliveries (id, bytes).
struct Reply {
  explicit Reply(std::initializer_list<std::pair<std::uint64_t, std::uint64_t>> deliveries) {
    auto list = builder.initRoot<wire::Reply>().initDeliveries(static_cast<unsigned>(deliveries.size()));
    unsigned i = 0;
    for (auto [id, bytes] : deliveries) {
      list[i].setDelivery(id);
      list[i].setBytes(bytes);
      ++i;
    }
  }
  capnp::List<wire::Delivery>::Reader deliveries() { return builder.getRoot<wire::Reply>().asReader().getDeliveries(); }
  capnp::MallocMessageBuilder builder;
};

TEST(DeliveryTable, DeliveriesAreNumberedInOrderAndWrittenWhereTheyBelong) {
  DeliveryTable table;
  std::vector<std::uint8_t> first(16, 0), second(8, 0);
  EXPECT_EQ(table.add(first.data(), first.size()), 1u);
  EXPECT_EQ(table.add(second.data(), second.size()), 2u);
  EXPECT_TRUE(table.anyInto(reinterpret_cast<std::uintptr_t>(first.data()), first.size()));
  std::vector<std::uint8_t> bytes(24);
  std::iota(bytes.begin(), bytes.end(), 1);
  Reply reply({{2, 8}, {1, 16}});  // completed out of order (two streams)
  ASSERT_EQ(*DeliveryTable::bytesOf(reply.deliveries()), 24u);
  ASSERT_TRUE(table.apply(reply.deliveries(), bytes));
  EXPECT_EQ(second, std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 8));
  EXPECT_EQ(first, std::vector<std::uint8_t>(bytes.begin() + 8, bytes.end()));
  EXPECT_TRUE(table.empty());
}

TEST(DeliveryTable, AFailedCopyIsForgottenWithoutWriting) {
  DeliveryTable table;
  std::vector<std::uint8_t> target(16, 0x11);
  ASSERT_TRUE(table.add(target.data(), target.size()));
  Reply reply({{1, 0}});
  ASSERT_TRUE(table.apply(reply.deliveries(), {}));
  EXPECT_EQ(target, std::vector<std::uint8_t>(16, 0x11));
  EXPECT_TRUE(table.empty());
}

TEST(DeliveryTable, DeliveriesNobodyAskedForAreRefused) {
  DeliveryTable table;
  std::vector<std::uint8_t> target(16, 0);
  ASSERT_TRUE(table.add(target.data(), target.size()));
  std::vector<std::uint8_t> bytes(64, 0xee);
  // Receive an unknown id, a known one of another size, and one whose bytes the reply lacks.
  // Expect: refused, nothing written.
  Reply unknown({{9, 16}});
  EXPECT_FALSE(table.apply(unknown.deliveries(), bytes));
  Reply resized({{1, 32}});
  EXPECT_FALSE(table.apply(resized.deliveries(), bytes));
  Reply short_({{1, 16}});
  EXPECT_FALSE(table.apply(short_.deliveries(), std::span(bytes).first(8)));
  EXPECT_EQ(target, std::vector<std::uint8_t>(16, 0));
  // Sizes that overflow when added.
  Reply overflowing({{1, ~0ULL}, {1, 2}});
  EXPECT_FALSE(DeliveryTable::bytesOf(overflowing.deliveries()));
}

TEST(DeliveryTable, MemoryGoingAwayIsNeverWritten) {
  DeliveryTable table;
  std::vector<std::uint8_t> target(16, 0x22);
  ASSERT_TRUE(table.add(target.data() + 4, 8));
  table.dropInto(reinterpret_cast<std::uintptr_t>(target.data()), target.size());
  EXPECT_FALSE(table.anyInto(reinterpret_cast<std::uintptr_t>(target.data()), target.size()));
  std::vector<std::uint8_t> bytes(8, 0xee);
  Reply reply({{1, 8}});
  ASSERT_TRUE(table.apply(reply.deliveries(), bytes));
  EXPECT_EQ(target, std::vector<std::uint8_t>(16, 0x22));
}

TEST(DeliveryTable, TheBoundsAreKept) {
  DeliveryTable table;
  std::vector<std::uint8_t> target(1);
  for (std::size_t i = 0; i < DeliveryTable::kMaxPending; ++i) ASSERT_TRUE(table.add(target.data(), 1));
  EXPECT_FALSE(table.add(target.data(), 1)) << "one copy too many";
  DeliveryTable bytes;
  EXPECT_TRUE(bytes.add(target.data(), DeliveryTable::kMaxPendingBytes - 1));
  EXPECT_FALSE(bytes.add(target.data(), 2)) << "one byte too many";
  EXPECT_TRUE(bytes.add(target.data(), 1));
}

}  // namespace
}  // namespace fastgpu::interposer
