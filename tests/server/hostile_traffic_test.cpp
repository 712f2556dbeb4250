// A legitimate client's byte stream, replayed with random mutations — bit flips, extreme values,
// truncation, duplication, broken frame lengths — a few hundred sessions one after the other
// against a server with a 2 GiB vGPU (issue 8, point 9: this once grew the server to 24 GB and
// corrupted it for a later, legitimate session). Each mutated session may only end itself: the
// server's main process stays small, every session is cleaned up, and a legitimate session
// afterwards works. Deterministic: the mutations come from a fixed seed.
#include <fstream>
#include <random>

#include "protocol/frame.h"
#include "session_test_support.h"
#include "tests/support/raw_socket.h"

namespace fastgpu::server {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kContext = (1ULL << 40) | (1ULL << 4);  // a fresh session's first context id
constexpr std::uint64_t kBase = 0x200000000000ULL;              // its first allocation on device 0

template <typename Build>
std::vector<std::uint8_t> message(Build&& build) {
  capnp::MallocMessageBuilder builder;
  build(builder);
  std::vector<std::uint8_t> bytes;
  protocol::appendMessage(builder, bytes);
  return bytes;
}

template <typename Build>
std::vector<std::uint8_t> call(std::uint64_t context, Build&& build) {
  return message([&](capnp::MessageBuilder& b) {
    auto root = b.initRoot<wire::Call>();
    root.setContext(context);
    build(root);
  });
}

// The frames of a legitimate session: log in, allocate, copy in, memset, copy out (1-D and
// 2-D), free, synchronize.
std::vector<std::vector<std::uint8_t>> legitimateSession() {
  std::vector<std::vector<std::uint8_t>> frames;
  frames.push_back(message([](capnp::MessageBuilder& b) {
    auto hello = b.initRoot<wire::Hello>();
    hello.setProtocolVersion(wire::PROTOCOL_VERSION);
    hello.setPid(7);
    hello.setHost("replayed");
    hello.setVgpu("team");
    hello.setToken("t");
  }));
  frames.push_back(call(0, [](wire::Call::Builder c) { c.setPrimaryRetain(0); }));
  frames.push_back(call(kContext, [](wire::Call::Builder c) { c.setMemAlloc(1 << 20); }));
  auto copyIn = call(kContext, [](wire::Call::Builder c) {
    auto copy = c.initCopy();
    copy.setDst(kBase);
    copy.setBytes(4096);
  });
  copyIn.resize(copyIn.size() + 4096, 0x5a);  // the bulk bytes follow the message (4096: no padding)
  frames.push_back(copyIn);
  frames.push_back(call(kContext, [](wire::Call::Builder c) {
    auto set = c.initMemset();
    set.setDst(kBase + 4096);
    set.setPitch(512);
    set.setValue(7);
    set.setElementBytes(1);
    set.setWidth(256);
    set.setHeight(8);
  }));
  frames.push_back(call(kContext, [](wire::Call::Builder c) {
    auto copy = c.initCopy();
    copy.setSrc(kBase);
    copy.setBytes(8192);
  }));
  frames.push_back(call(kContext, [](wire::Call::Builder c) {
    auto copy = c.initCopy2D();
    copy.setSrc(kBase);
    copy.setSrcPitch(512);
    copy.setWidth(128);
    copy.setHeight(16);
    copy.setToHost(true);
  }));
  frames.push_back(call(kContext, [](wire::Call::Builder c) { c.setMemFree(kBase); }));
  frames.push_back(call(kContext, [](wire::Call::Builder c) { c.setContextSynchronize(0); }));
  return frames;
}

// The session's byte stream with 1 to 4 random mutations.
std::vector<std::uint8_t> mutated(std::vector<std::vector<std::uint8_t>> frames, std::mt19937_64& random) {
  std::vector<std::uint32_t> lengths;
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(random() % n); };
  int mutations = 1 + static_cast<int>(random() % 4);
  for (int m = 0; m < mutations; ++m) {
    auto& frame = frames[pick(frames.size())];
    switch (random() % 6) {
      case 0:  // a bit flip
        if (!frame.empty()) frame[pick(frame.size())] ^= static_cast<std::uint8_t>(1u << (random() % 8));
        break;
      case 1: {  // an extreme value over 8 bytes (a size, an offset, a pointer, a count)
        static constexpr std::uint64_t kExtremes[] = {0, ~0ULL, 1ULL << 63, (1ULL << 63) - 1, 1ULL << 32, 0xfffffffULL};
        if (frame.size() >= 8) {
          std::uint64_t value = kExtremes[pick(std::size(kExtremes))];
          std::memcpy(frame.data() + pick(frame.size() - 7), &value, sizeof(value));
        }
        break;
      }
      case 2:  // truncation
        frame.resize(pick(frame.size() + 1));
        break;
      case 3:  // duplication
        frames.insert(frames.begin() + static_cast<std::ptrdiff_t>(pick(frames.size() + 1)), frame);
        break;
      case 4:  // random bytes
        for (auto& byte : frame) {
          if (random() % 16 == 0) byte = static_cast<std::uint8_t>(random());
        }
        break;
      default:  // a frame whose header lies about its length (marked, applied below)
        lengths.resize(frames.size(), 0);
        lengths[static_cast<std::size_t>(&frame - frames.data())] = static_cast<std::uint32_t>(random() % (1u << 27)) + 1;
        break;
    }
  }
  std::vector<std::uint8_t> stream;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    std::uint32_t announced = i < lengths.size() && lengths[i] != 0 ? lengths[i] : static_cast<std::uint32_t>(frames[i].size());
    auto header = protocol::encodeFrameHeader({0, announced});
    stream.insert(stream.end(), header.begin(), header.end());
    stream.insert(stream.end(), frames[i].begin(), frames[i].end());
  }
  return stream;
}

// Sends `stream` on a fresh connection, then reads whatever comes back until the server closes
// (at most 3 s: a stream cut short leaves the server waiting, and closing our side ends that).
void replay(const std::string& url, const std::vector<std::uint8_t>& stream) {
  int fd = testing::rawSocket(url, 3);
  ASSERT_GE(fd, 0);
  (void)::send(fd, stream.data(), stream.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  char sink[65536];
  while (::recv(fd, sink, sizeof(sink), 0) > 0) {
  }
  ::close(fd);
}

std::uint64_t residentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

TEST_F(ServerTest, MutatedTrafficEndsOnlyItsOwnSessions) {
  start(R"(
[limits]
login_failures_per_minute = 0

[[vgpu]]
name = "team"
gpu = 0
memory = "2GiB"
tokens = ["t"]
)");
  auto frames = legitimateSession();
  replay(url, mutated(frames, *std::make_unique<std::mt19937_64>(0)));  // warm up the server's allocations
  std::uint64_t before = residentBytes();
  std::mt19937_64 random(20261127);
  constexpr int kSessions = 200;
  for (int i = 0; i < kSessions; ++i) replay(url, mutated(frames, random));
  // Every mutated session ends and gives everything back.
  EXPECT_TRUE(eventually([&] { return server->sessions().empty(); }, 10s))
      << server->sessions().size() << " mutated sessions are still open";
  auto vgpu = registry_->find("team");
  EXPECT_TRUE(eventually([&] { return vgpu->quota().used() == 0; })) << vgpu->quota().used() << " bytes still held";
  std::uint64_t after = residentBytes();
  EXPECT_LT(after, before + (64ULL << 20)) << "the main process grew from " << before << " to " << after << " bytes";
  // A legitimate session afterwards works, byte for byte.
  RawClient legit(url, "team", "t");
  legit.retainPrimary();
  std::uint64_t base = legit.allocate(1 << 20);
  std::vector<std::uint8_t> bytes(4096);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 13);
  ASSERT_EQ(legit.write(base, bytes), CUDA_SUCCESS);
  EXPECT_EQ(legit.read(base, bytes.size()).second, bytes);
}

}  // namespace
}  // namespace fastgpu::server
