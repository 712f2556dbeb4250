#include "cudaabi/md2.h"

#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "cudaabi/integrity_check.h"

namespace fastgpu::cudaabi {
namespace {

std::string md2Hex(std::string_view text) {
  Md2 md2;
  md2.update({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  auto digest = md2.finish();
  std::string hex;
  for (auto byte : digest) hex += fmt::format("{:02x}", byte);
  return hex;
}

// The test suite of RFC 1319, appendix A.5.
TEST(Md2, MatchesTheRfc1319TestSuite) {
  EXPECT_EQ(md2Hex(""), "8350e5a3e24c153df2275c9f80692773");
  EXPECT_EQ(md2Hex("a"), "32ec01ec4a6dac72c0ab96fb34c0b5d1");
  EXPECT_EQ(md2Hex("abc"), "da853b0d3f88d99b30283a69e6ded6bb");
  EXPECT_EQ(md2Hex("message digest"), "ab4f496bfb2a530b219ff33031fe06b0");
  EXPECT_EQ(md2Hex("abcdefghijklmnopqrstuvwxyz"), "4e8ddff3650292ab5a4108c3aa47940b");
  EXPECT_EQ(md2Hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            "da33def2a42df13975352846c30338cd");
  EXPECT_EQ(md2Hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "d5976f79d83d3a0dc9806c3c66f3efd8");
}

TEST(IntegrityCheck, VersionsEndingInZeroOrOneHaveFixedAnswers) {
  IntegrityInputs inputs{13000, 13000, 1, 2, nullptr, nullptr, nullptr, 3};
  auto zero = integrityAnswer(inputs, {});
  EXPECT_EQ(zero[0], 0x3341181C03CB675CULL);
  EXPECT_EQ(zero[1], 0x8ED383AA1F4CD1E8ULL);
  inputs.version = 13001;
  EXPECT_EQ(integrityAnswer(inputs, {})[0], 0x1841181C03CB675CULL);
}

TEST(IntegrityCheck, AnswerDependsOnEveryInput) {
  IntegrityDeviceRecord device{{1, 2, 3}, 0, 0x19, 0};
  IntegrityInputs inputs{13000, 13002, 100, 200, &device, &inputs, nullptr, 1700000000};
  auto base = integrityAnswer(inputs, {&device, 1});
  EXPECT_EQ(base, integrityAnswer(inputs, {&device, 1})) << "deterministic";
  auto changed = inputs;
  changed.unixTime += 1;
  EXPECT_NE(base, integrityAnswer(changed, {&device, 1}));
  changed = inputs;
  changed.pid += 1;
  EXPECT_NE(base, integrityAnswer(changed, {&device, 1}));
  EXPECT_NE(base, integrityAnswer(inputs, {}));
  auto otherDevice = device;
  otherDevice.pciBus = 0x3b;
  EXPECT_NE(base, integrityAnswer(inputs, {&otherDevice, 1}));
}

}  // namespace
}  // namespace fastgpu::cudaabi
