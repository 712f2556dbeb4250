// Sessions in worker processes (DESIGN.md, decision 3): a crash or a stray pointer ends the
// offender's session alone, and ending a session — eviction, shutdown — takes effect within a
// second even while its kernel runs, with its quota free again.
#include <cstdlib>
#include <cstring>
#include <future>

#include "session_test_support.h"
#include "tests/support/test_certificates.h"

namespace fastgpu::server {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kOneVgpu = R"(
[[vgpu]]
name = "team"
gpu = 0
memory = "512MiB"
tokens = ["t"]

[limits]
shutdown_grace_seconds = 0.3
)";

// touch(int* address, int value): the parameters packed as the kernel lays them out.
std::vector<std::uint8_t> touchParams(std::uint64_t address, int value) {
  std::vector<std::uint8_t> bytes(sizeof(address) + sizeof(value));
  std::memcpy(bytes.data(), &address, sizeof(address));
  std::memcpy(bytes.data() + sizeof(address), &value, sizeof(value));
  return bytes;
}

std::optional<std::uint64_t> sessionOf(Server& server, const std::string& host) {
  for (const auto& info : server.sessions()) {
    if (info.host == host) return info.id;
  }
  return std::nullopt;
}

// How a synchronize ends for a client whose session the server ends: the session's last reply.
struct LastWords {
  CUresult result = CUDA_SUCCESS;
  std::string message;
  bool sessionEnded = false;
};

LastWords synchronizeToTheEnd(RawClient& client) {
  auto answered = client.send([](wire::Call::Builder c) { c.setContextSynchronize(0); });
  if (answered == nullptr) return {CUDA_ERROR_DEVICE_UNAVAILABLE, "no reply", false};
  auto reply = answered->reply();
  return {static_cast<CUresult>(reply.getResult()), reply.getMessage().cStr(), reply.getSessionEnded()};
}

// Pieces of work of session `id` on the GPU now, as its worker counts them on the shared board.
int piecesOnGpu(Server& server, std::uint64_t id) {
  auto& board = server.registry().board().layout();
  for (const auto& slot : board.sessions) {
    if (slot.session.load() == id) return slot.pieces.onGpu;
  }
  return 0;
}

class WorkerTest : public ServerTest {
 public:
  void SetUp() override {}  // each test starts its own server
  void TearDown() override {
    if (server) ServerTest::TearDown();
    unsetenv("FASTGPU_SIM_FAULT");
  }
};

TEST_F(WorkerTest, AWorkerThatCrashesEndsItsSessionAlone) {
  setenv("FASTGPU_SIM_FAULT", "failWith:segv", 1);  // a driver fault, on demand
  start("");
  RawClient victim(url, "", "", "victim"), crasher(url, "", "", "crasher");
  victim.retainPrimary();
  crasher.retainPrimary();
  std::uint64_t mine = victim.allocate(4096);
  ASSERT_EQ(victim.write(mine, std::vector<std::uint8_t>(64, 0x5a)), CUDA_SUCCESS);
  auto code = crasher.load();
  ASSERT_EQ(code.result, CUDA_SUCCESS);
  int zero = 0;
  crasher.launch(code.kernels.at("failWith"), {reinterpret_cast<const std::uint8_t*>(&zero), sizeof(zero)});
  LastWords last = synchronizeToTheEnd(crasher);
  EXPECT_EQ(last.result, CUDA_ERROR_LAUNCH_FAILED);
  EXPECT_TRUE(last.sessionEnded);
  EXPECT_NE(last.message.find("signal 11"), std::string::npos) << last.message;
  EXPECT_EQ(crasher.synchronize(), CUDA_ERROR_DEVICE_UNAVAILABLE) << "nothing follows the session's end";
  EXPECT_TRUE(eventually([&] { return !sessionOf(*server, "crasher"); }));
  // The victim's session, memory and work go on, and new clients are served.
  EXPECT_EQ(victim.read(mine, 64).second, std::vector<std::uint8_t>(64, 0x5a));
  auto kernel = victim.loadSpinKernel();
  victim.spin(kernel, 100);
  EXPECT_EQ(victim.synchronize(), CUDA_SUCCESS);
  RawClient next(url);
  next.retainPrimary();
  EXPECT_GT(next.freeMemory(), 0u);
}

TEST_F(WorkerTest, AKernelWithAStrayPointerFaultsInTheOffendersSessionOnly) {
  start("");
  RawClient victim(url, "", "", "victim"), attacker(url, "", "", "attacker");
  victim.retainPrimary();
  attacker.retainPrimary();
  (void)victim.allocate(1 * kMiB);
  std::uint64_t theirs = victim.allocate(1 * kMiB);  // where the attacker has nothing
  ASSERT_EQ(victim.write(theirs, std::vector<std::uint8_t>(64, 0x5a)), CUDA_SUCCESS);
  auto code = attacker.load();
  ASSERT_EQ(code.result, CUDA_SUCCESS);
  attacker.launch(code.kernels.at("touch"), touchParams(theirs, 0x41414141));
  EXPECT_NE(attacker.synchronize(), CUDA_SUCCESS);
  EXPECT_TRUE(eventually([&] { return !sessionOf(*server, "attacker"); }));
  EXPECT_EQ(victim.read(theirs, 64).second, std::vector<std::uint8_t>(64, 0x5a)) << "the victim's bytes changed";
  EXPECT_EQ(victim.synchronize(), CUDA_SUCCESS);
}

// A client whose kernel runs for a minute, waiting for it on its own thread.
struct LongKernel {
  explicit LongKernel(const std::string& url, const std::string& host, const protocol::ConnectOptions& options = {})
      : client(url, "team", "t", host, options) {
    client.retainPrimary();
    held = client.allocate(64 * kMiB);
    kernel = client.loadSpinKernel();
    client.spin(kernel, 60'000'000);
    waited = std::async(std::launch::async, [this] { return synchronizeToTheEnd(client); });
  }
  RawClient client;
  std::uint64_t held = 0;
  std::uint64_t kernel = 0;
  std::future<LastWords> waited;
};

// Evicts the session of `running` (host "busy", vGPU "team") while its kernel runs: its client
// learns why, and the quota is free again, within a second.
void evictWhileItsKernelRuns(ServerTest& test, LongKernel& running) {
  auto vgpu = test.registry_->find("team");
  ASSERT_TRUE(test.eventually([&] { return vgpu->quota().used() >= 64 * kMiB; }));
  auto id = sessionOf(*test.server, "busy");
  ASSERT_TRUE(id);
  ASSERT_TRUE(test.eventually([&] { return piecesOnGpu(*test.server, *id) > 0; })) << "the kernel never started";
  auto evicted = Clock::now();
  ASSERT_TRUE(test.server->evict(*id));
  ASSERT_EQ(running.waited.wait_for(1s), std::future_status::ready) << "the evicted client still waits";
  LastWords last = running.waited.get();
  EXPECT_EQ(last.result, CUDA_ERROR_DEVICE_UNAVAILABLE);
  EXPECT_EQ(last.message, "the server ended the session: evicted by the administrator");
  EXPECT_TRUE(test.eventually([&] { return vgpu->quota().used() == 0 && !sessionOf(*test.server, "busy"); }, 1s))
      << "quota in use " << vgpu->quota().used();
  EXPECT_LT(Clock::now() - evicted, 1s);
}

TEST_F(WorkerTest, EvictionEndsASessionWithinASecondWhileItsKernelRuns) {
  start(kOneVgpu);
  LongKernel running(url, "busy");
  evictWhileItsKernelRuns(*this, running);
  // The device is free again (the killed worker held it): the next kernel runs at once.
  RawClient next(url, "team", "t");
  next.retainPrimary();
  next.spin(next.loadSpinKernel(), 1000);
  auto started = Clock::now();
  EXPECT_EQ(next.synchronize(), CUDA_SUCCESS);
  EXPECT_LT(Clock::now() - started, 1s);
}

// Over TLS the worker speaks through the main process's relay: the kill and the last reply
// travel the same way.
TEST_F(WorkerTest, EvictionOverTlsTellsTheClientWhyWithinASecond) {
  const auto& certificates = testing::testCertificates();
  listenUrl = "tls://127.0.0.1:0";
  listenOptions.tls = certificates.serverSettings();
  start(kOneVgpu);
  LongKernel running(url, "busy", {5s, certificates.clientSettings()});
  evictWhileItsKernelRuns(*this, running);
}

TEST_F(WorkerTest, ShutdownEndsRunningSessionsAfterItsGracePeriod) {
  start(kOneVgpu);
  LongKernel running(url, "busy");
  ASSERT_TRUE(eventually([&] {
    auto id = sessionOf(*server, "busy");
    return id && piecesOnGpu(*server, *id) > 0;
  })) << "the kernel never started";
  auto stopping = Clock::now();
  server->stop();
  thread.join();
  auto took = Clock::now() - stopping;
  EXPECT_GE(took, 300ms) << "the session got no grace period";
  EXPECT_LT(took, 1s + 300ms) << "the server waited for the kernel, not the grace period";
  ASSERT_EQ(running.waited.wait_for(1s), std::future_status::ready);
  EXPECT_EQ(running.waited.get().message, "the server ended the session: the server is shutting down");
  server.reset();
}

TEST_F(WorkerTest, AKernelOverItsVgpusTimeLimitEndsItsSession) {
  start(R"(
[[vgpu]]
name = "team"
gpu = 0
memory = "512MiB"
max_kernel_ms = 200
tokens = ["t"]
)");
  RawClient quick(url, "team", "t", "quick");
  quick.retainPrimary();
  auto kernel = quick.loadSpinKernel();
  for (int i = 0; i < 5; ++i) quick.spin(kernel, 100'000);  // 0.5 s of kernels, none over the limit
  EXPECT_EQ(quick.synchronize(), CUDA_SUCCESS);
  std::uint64_t quickHolds = registry_->find("team")->quota().used();  // its module's globals
  LongKernel running(url, "slow");
  auto started = Clock::now();
  ASSERT_EQ(running.waited.wait_for(2s), std::future_status::ready);
  LastWords last = running.waited.get();
  EXPECT_EQ(last.result, CUDA_ERROR_LAUNCH_TIMEOUT);
  EXPECT_EQ(last.message, "the server ended the session: a kernel ran longer than the vGPU's max_kernel_ms (200 ms)");
  EXPECT_GE(Clock::now() - started, 200ms);
  EXPECT_TRUE(eventually([&] { return registry_->find("team")->quota().used() == quickHolds; }, 1s));
  EXPECT_EQ(quick.synchronize(), CUDA_SUCCESS) << "the other session goes on";
}

}  // namespace
}  // namespace fastgpu::server

namespace fastgpu::server {
namespace {

// Liveness: a client that goes silent is noticed; a long call is kept alive by heartbeats.
TEST_F(ServerTest, AClientThatGoesSilentIsNoticedAndItsSessionEnds) {
  start("[limits]\nclient_silence_seconds = 0.3\n");
  RawClient silent(url, "", "", "silent");
  silent.retainPrimary();
  (void)silent.allocate(1 << 20);
  auto stoppedTalking = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] { return server->sessions().empty(); }, std::chrono::seconds(2)));
  EXPECT_GE(std::chrono::steady_clock::now() - stoppedTalking, std::chrono::milliseconds(300));
}

TEST_F(ServerTest, ALongCallIsKeptAliveByHeartbeats) {
  start("[limits]\nheartbeat_seconds = 0.1\nclient_silence_seconds = 0.5\n");
  RawClient client(url);
  client.retainPrimary();
  auto kernel = client.loadSpinKernel();
  client.spin(kernel, 600'000);  // longer than the client's silence limit: the call itself is not silence
  EXPECT_EQ(client.synchronize(), CUDA_SUCCESS);
  EXPECT_GE(client.heartbeats, 3) << "the server said nothing while the kernel ran";
  // Between calls, empty frames from the client are heartbeats too: the session stays.
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // an idle client, pacing its heartbeats
    ASSERT_TRUE(client.connection().send(std::span<const std::uint8_t>{}));
  }
  EXPECT_EQ(client.synchronize(), CUDA_SUCCESS) << "a client that sent heartbeats was taken for gone";
}

}  // namespace
}  // namespace fastgpu::server

namespace fastgpu::server {
namespace {

// The ledger: running sessions are checkpointed (a crash loses at most a checkpoint's worth), and
// a restarted server never reuses a session id.
TEST_F(ServerTest, RunningSessionsAreCheckpointedAndIdsNeverRepeat) {
  std::string path = ::testing::TempDir() + "ledger-" + std::to_string(getpid()) + ".db";
  std::remove(path.c_str());
  start("[limits]\nledger_checkpoint_seconds = 0.1\n", path);
  auto reader = scheduler::UsageLedger::open(path);
  ASSERT_TRUE(reader);
  auto rowOf = [&](const std::string& host) -> std::optional<scheduler::SessionRecord> {
    auto rows = (*reader)->sessions(0, std::nullopt);
    if (!rows) return std::nullopt;
    for (const auto& row : *rows) {
      if (row.host == host) return row;
    }
    return std::nullopt;
  };
  std::uint64_t firstId = 0;
  {
    RawClient client(url, "", "", "running");
    client.retainPrimary();
    client.spin(client.loadSpinKernel(), 100);
    ASSERT_EQ(client.synchronize(), CUDA_SUCCESS);
    // Still running, it is in the ledger already, with its launch.
    ASSERT_TRUE(eventually([&] {
      auto row = rowOf("running");
      return row && row->launches == 1;
    })) << "no checkpoint of the running session";
    firstId = rowOf("running")->session;
  }
  ASSERT_TRUE(eventually([&] { return server->sessions().empty(); }));
  auto rows = (*reader)->sessions(0, std::nullopt);
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 1u) << "checkpoints and the final record are one row";
  start("", path);  // a restart on the same ledger
  RawClient next(url, "", "", "next");
  next.retainPrimary();
  ASSERT_TRUE(eventually([&] { return !server->sessions().empty(); }));
  EXPECT_GT(server->sessions().front().id, firstId);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace fastgpu::server
