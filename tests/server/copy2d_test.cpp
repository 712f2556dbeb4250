// 2-D copies and memsets on the server: pitched rows land where they should and nowhere else,
// and shapes that run outside the session's memory, overlap or overflow are refused.
#include "session_test_support.h"

namespace fastgpu::server {
namespace {

constexpr std::uint64_t kPitch = 256, kRows = 4;

struct Copy2DShape {
  std::uint64_t dst = 0, dstPitch = 0, src = 0, srcPitch = 0, width = 0, height = 0;
};

// A 2-D copy: from `data` (packed rows) when shape.src is 0, to the client (packed rows into
// `back`) when `toHost`, else device to device.
CUresult copy2D(RawClient& client, const Copy2DShape& shape, std::span<const std::uint8_t> data = {},
                bool toHost = false, std::vector<std::uint8_t>* back = nullptr) {
  auto answered = client.send([&](wire::Call::Builder c) {
    auto copy = c.initCopy2D();
    copy.setDst(shape.dst);
    copy.setDstPitch(shape.dstPitch);
    copy.setSrc(shape.src);
    copy.setSrcPitch(shape.srcPitch);
    copy.setWidth(shape.width);
    copy.setHeight(shape.height);
    copy.setToHost(toHost);
    if (!data.empty()) copy.setData(kj::arrayPtr(data.data(), data.size()));
  });
  if (answered == nullptr) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  auto reply = answered->reply();
  if (back != nullptr && reply.isData()) back->assign(reply.getData().begin(), reply.getData().end());
  return static_cast<CUresult>(reply.getResult());
}

CUresult memset2D(RawClient& client, std::uint64_t dst, std::uint64_t pitch, std::uint32_t value, unsigned element,
                  std::uint64_t width, std::uint64_t height) {
  return client
      .call([&](wire::Call::Builder c) {
        auto set = c.initMemset();
        set.setDst(dst);
        set.setPitch(pitch);
        set.setValue(value);
        set.setElementBytes(static_cast<std::uint8_t>(element));
        set.setWidth(width);
        set.setHeight(height);
      })
      .first;
}

// A pitched allocation of kRows rows, filled with 0xcc.
std::uint64_t pitchedBuffer(RawClient& client) {
  std::uint64_t base = client.allocate(kPitch * kRows);
  EXPECT_EQ(client.write(base, std::vector<std::uint8_t>(kPitch * kRows, 0xcc)), CUDA_SUCCESS);
  return base;
}

std::vector<std::uint8_t> pattern(std::size_t bytes) {
  std::vector<std::uint8_t> data(bytes);
  for (std::size_t i = 0; i < bytes; ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return data;
}

TEST_F(ServerTest, PitchedRowsGoWhereTheyShouldAndNowhereElse) {
  RawClient client(url);
  client.retainPrimary();
  std::uint64_t base = pitchedBuffer(client);
  constexpr std::uint64_t kWidth = 100;
  auto rows = pattern(kWidth * kRows);
  ASSERT_EQ(copy2D(client, {base, kPitch, 0, 0, kWidth, kRows}, rows), CUDA_SUCCESS);
  // Read the whole buffer: each row's first kWidth bytes are the pattern, the rest untouched.
  auto [result, whole] = client.read(base, kPitch * kRows);
  ASSERT_EQ(result, CUDA_SUCCESS);
  for (std::uint64_t row = 0; row < kRows; ++row) {
    for (std::uint64_t column = 0; column < kPitch; ++column) {
      std::uint8_t expected = column < kWidth ? rows[row * kWidth + column] : 0xcc;
      ASSERT_EQ(whole[row * kPitch + column], expected) << "row " << row << " column " << column;
    }
  }
  // Read the rows back packed, then copy them device to device into a second pitched buffer.
  std::vector<std::uint8_t> back;
  ASSERT_EQ(copy2D(client, {0, 0, base, kPitch, kWidth, kRows}, {}, true, &back), CUDA_SUCCESS);
  EXPECT_EQ(back, rows);
  std::uint64_t second = pitchedBuffer(client);
  ASSERT_EQ(copy2D(client, {second, kPitch, base, kPitch, kWidth, kRows}), CUDA_SUCCESS);
  back.clear();
  ASSERT_EQ(copy2D(client, {0, 0, second, kPitch, kWidth, kRows}, {}, true, &back), CUDA_SUCCESS);
  EXPECT_EQ(back, rows);
}

TEST_F(ServerTest, PitchedMemsetsOfEveryElementSizeFillOnlyTheirRows) {
  RawClient client(url);
  client.retainPrimary();
  for (unsigned element : {1u, 2u, 4u}) {
    std::uint64_t base = pitchedBuffer(client);
    constexpr std::uint64_t kElements = 10;
    ASSERT_EQ(memset2D(client, base, kPitch, 0x01020304, element, kElements, kRows), CUDA_SUCCESS);
    auto [result, whole] = client.read(base, kPitch * kRows);
    ASSERT_EQ(result, CUDA_SUCCESS);
    const std::uint8_t value[] = {0x04, 0x03, 0x02, 0x01};  // little-endian, first `element` bytes
    for (std::uint64_t row = 0; row < kRows; ++row) {
      for (std::uint64_t column = 0; column < kPitch; ++column) {
        std::uint8_t expected = column < kElements * element ? value[column % element] : 0xcc;
        ASSERT_EQ(whole[row * kPitch + column], expected) << element << "-byte memset, row " << row << " column " << column;
      }
    }
  }
}

TEST_F(ServerTest, PitchedRegionsPastTheAllocationAreRefusedAndWriteNothing) {
  RawClient client(url);
  client.retainPrimary();
  std::uint64_t base = pitchedBuffer(client);
  // The last row runs 1 byte past the end.
  auto rows = pattern(kPitch * kRows);
  EXPECT_EQ(copy2D(client, {base + 1, kPitch, 0, 0, kPitch, kRows}, rows), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(copy2D(client, {0, 0, base + 1, kPitch, kPitch, kRows}, {}, true), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(memset2D(client, base + 1, kPitch, 7, 1, kPitch, kRows), CUDA_ERROR_INVALID_VALUE);
  // One row too many.
  EXPECT_EQ(memset2D(client, base, kPitch, 7, 1, 16, kRows + 1), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(client.read(base, kPitch * kRows).second, std::vector<std::uint8_t>(kPitch * kRows, 0xcc));
}

TEST_F(ServerTest, PitchesAndSizesThatWrapAroundAreRefused) {
  RawClient victim(url), attacker(url);
  victim.retainPrimary();
  attacker.retainPrimary();
  // Sessions have address spaces of their own: the victim's second buffer lies where the
  // attacker has nothing.
  (void)pitchedBuffer(victim);
  std::uint64_t theirs = pitchedBuffer(victim);
  std::uint64_t mine = pitchedBuffer(attacker);
  constexpr std::uint64_t kMinus4096 = ~std::uint64_t{4095};  // a "negative" pitch
  // Receive rows 4096 bytes apart backwards from my buffer: the second row would be the
  // victim's memory or anything else. Expect: CUDA_ERROR_INVALID_VALUE, nothing read or written.
  std::vector<std::uint8_t> back;
  EXPECT_EQ(copy2D(attacker, {0, 0, mine + 8, kMinus4096, 4104, 2}, {}, true, &back), CUDA_ERROR_INVALID_VALUE);
  EXPECT_TRUE(back.empty());
  EXPECT_EQ(copy2D(attacker, {mine + 8, kMinus4096, 0, 0, 4104, 2}, pattern(4104 * 2)), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(memset2D(attacker, mine + 8, kMinus4096, 0x41, 1, 4104, 2), CUDA_ERROR_INVALID_VALUE);
  // Widths and pitches of 2^63, and a packed size that wraps to 0.
  EXPECT_EQ(copy2D(attacker, {mine, 1ULL << 63, 0, 0, 1ULL << 63, 2}, pattern(16)), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(copy2D(attacker, {0, 0, mine, 1ULL << 33, 1ULL << 33, 1ULL << 31}, {}, true), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(memset2D(attacker, mine, 1ULL << 62, 0, 4, 1ULL << 62, 3), CUDA_ERROR_INVALID_VALUE);
  // A row of 2^62 + 4 four-byte elements: its size in bytes wraps to 16, which would fit.
  EXPECT_EQ(memset2D(attacker, mine, 0, 0x41, 4, (1ULL << 62) + 4, 1), CUDA_ERROR_INVALID_VALUE);
  // Rows that overlap (width over the pitch).
  EXPECT_EQ(memset2D(attacker, mine, 16, 0, 1, 32, 2), CUDA_ERROR_INVALID_VALUE);
  // A 2-D copy straight into the other session's memory.
  EXPECT_EQ(copy2D(attacker, {theirs, kPitch, 0, 0, 16, 2}, pattern(32)), CUDA_ERROR_INVALID_VALUE);
  // The victim's memory is untouched and the server still serves both.
  EXPECT_EQ(victim.read(theirs, kPitch * kRows).second, std::vector<std::uint8_t>(kPitch * kRows, 0xcc));
  EXPECT_EQ(attacker.read(mine, kPitch * kRows).second, std::vector<std::uint8_t>(kPitch * kRows, 0xcc));
}

}  // namespace
}  // namespace fastgpu::server
