// Client text on its way to the server's log: escaped, bounded, one line.
#include "server/logging.h"

#include <gtest/gtest.h>

#include "session_test_support.h"

namespace fastgpu::server {
namespace {

TEST(EscapeForLog, PrintableTextPassesUnchanged) { EXPECT_EQ(escapeForLog("team-a host=gpu1"), "team-a host=gpu1"); }

TEST(EscapeForLog, ControlCharactersAndEscapesCannotForgeOrColourALine) {
  EXPECT_EQ(escapeForLog("a\nb"), "a\\x0ab");
  EXPECT_EQ(escapeForLog("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(escapeForLog(std::string_view("nul\0byte", 8)), "nul\\x00byte");
  EXPECT_EQ(escapeForLog("back\\slash"), "back\\\\slash") << "a literal \\x41 must not read as an escape";
  EXPECT_EQ(escapeForLog("\xff\xfe"), "\\xff\\xfe");
}

TEST(EscapeForLog, LongTextIsCutWithANoteOfWhatWasLeftOut) {
  std::string huge(10'000'000, 'h');
  std::string logged = escapeForLog(huge, 64);
  EXPECT_EQ(logged, std::string(64, 'h') + "...(+9999936 bytes)");
}

TEST_F(ServerTest, AHostileHelloReachesTheLogEscapedAndBounded) {
  ::testing::internal::CaptureStderr();
  RawClient client(url, "", "", "\x1b[2J\n2026-01-01T00:00:00.000 info forged line " + std::string(50000, 'x'));
  client.retainPrimary();
  EXPECT_GT(client.freeMemory(), 0u) << "the session is served";
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "an escape sequence reached the log";
  EXPECT_EQ(log.find("\n2026-01-01T00:00:00.000 info forged"), std::string::npos) << "a forged line reached the log";
  EXPECT_LT(log.size(), 10'000u) << "a 50 KB host name filled the log";
  EXPECT_NE(log.find("\\x1b[2J\\x0a2026"), std::string::npos) << log.substr(0, 2000);
}

}  // namespace
}  // namespace fastgpu::server
