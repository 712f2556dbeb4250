// The admin API: the token, the session list and eviction, and /metrics checked against what the
// test did.
#include <httplib.h>

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "server/admin_api.h"
#include "tests/support/test_certificates.h"
#include "session_test_support.h"
#include "tests/support/scratch_directory.h"

namespace fastgpu::server {
namespace {

constexpr const char* kConfig = R"(
[[vgpu]]
name = "team-a"
memory = "1GiB"
tokens = ["secret-a"]
)";

class AdminApiTest : public ServerTest {
 protected:
  void SetUp() override { startWith(kConfig); }
  // (Re)starts the server with `config` and its admin API.
  void startWith(const std::string& config) {
    if (admin) admin->stop();
    start(config);
    admin = std::make_unique<AdminApi>(*server, scheduler::hashToken("admin-secret"));
    ASSERT_TRUE(admin->start("tcp://127.0.0.1:0"));
    http = std::make_unique<httplib::Client>(admin->url());
    http->set_bearer_token_auth("admin-secret");
  }
  void TearDown() override {
    admin->stop();
    ServerTest::TearDown();
  }

  nlohmann::json getJson(const std::string& path) {
    auto response = http->Get(path);
    EXPECT_TRUE(response);
    if (!response) return {};
    EXPECT_EQ(response->status, 200) << response->body;
    return nlohmann::json::parse(response->body);
  }

  // The value of one sample of /metrics, e.g. `fastgpu_vgpu_launches_total{vgpu="team-a",gpu="0"}`.
  std::string metric(const std::string& sample) {
    auto response = http->Get("/metrics");
    EXPECT_TRUE(response && response->status == 200);
    if (!response) return "";
    std::size_t at = response->body.find("\n" + sample + " ");
    if (at == std::string::npos) return "<missing " + sample + ">";
    std::size_t begin = at + sample.size() + 2;
    return response->body.substr(begin, response->body.find('\n', begin) - begin);
  }

  std::unique_ptr<AdminApi> admin;
  std::unique_ptr<httplib::Client> http;
};

TEST_F(AdminApiTest, CallsWithoutTheAdminTokenAreRefused) {
  httplib::Client anonymous(admin->url());
  auto response = anonymous.Get("/v1/vgpus");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 401);
  anonymous.set_bearer_token_auth("guess");
  EXPECT_EQ(anonymous.Get("/metrics")->status, 401);
  EXPECT_EQ(anonymous.Delete("/v1/sessions/1")->status, 401);
  EXPECT_EQ(http->Get("/v1/vgpus")->status, 200);
}

TEST_F(AdminApiTest, MetricsMatchWhatTheClientsDid) {
  RawClient wrong(url, "team-a", "nope");
  RawClient client(url, "team-a", "secret-a");
  client.retainPrimary();
  std::uint64_t base = client.allocate(3 * kMiB);
  std::vector<std::uint8_t> bytes(kMiB, 7), back;
  client.call(
      [&](wire::Call::Builder c) {
        auto copy = c.initCopy();
        copy.setDst(base);
        copy.setBytes(bytes.size());
        copy.setAsync(true);
      },
      nullptr, bytes);
  client.call(
      [&](wire::Call::Builder c) {
        auto copy = c.initCopy();
        copy.setSrc(base);
        copy.setBytes(kMiB);
      },
      nullptr, {}, &back);
  std::uint64_t spin = client.loadSpinKernel();
  for (int i = 0; i < 5; ++i) client.spin(spin, 0);
  ASSERT_EQ(client.synchronize(), CUDA_SUCCESS);

  const std::string labels = "{vgpu=\"team-a\",gpu=\"0\"}";
  // The allocation, and the test module's globals that count too: deviceCounter and deviceTable
  // (4 + 32 bytes), and the strings of report's printf and assert (24 + 10 + 16 + 7).
  const std::uint64_t held = 3 * kMiB + 36 + 57;
  EXPECT_EQ(metric("fastgpu_vgpu_memory_used_bytes" + labels), std::to_string(held));
  EXPECT_EQ(metric("fastgpu_vgpu_memory_limit_bytes" + labels), std::to_string(1ULL << 30));
  EXPECT_EQ(metric("fastgpu_vgpu_launches_total" + labels), "5");
  EXPECT_EQ(metric("fastgpu_vgpu_bytes_to_device_total" + labels), std::to_string(kMiB));
  EXPECT_EQ(metric("fastgpu_vgpu_bytes_from_device_total" + labels), std::to_string(kMiB));
  EXPECT_EQ(metric("fastgpu_vgpu_sessions" + labels), "1");
  EXPECT_EQ(metric("fastgpu_sessions_refused_total{reason=\"wrong_token\"}"), "1");
  EXPECT_NE(metric("fastgpu_call_latency_seconds_count{vgpu=\"team-a\"}"), "0");
  auto vgpus = getJson("/v1/vgpus");
  ASSERT_EQ(vgpus.size(), 1u);
  EXPECT_EQ(vgpus[0]["name"], "team-a");
  EXPECT_EQ(vgpus[0]["memory_used_bytes"], held);
  EXPECT_EQ(vgpus[0]["launches"], 5);
}

TEST_F(AdminApiTest, AnEvictedSessionEndsAndItsMemoryIsFreed) {
  RawClient client(url, "team-a", "secret-a");
  client.retainPrimary();
  client.allocate(100 * kMiB);
  auto sessions = getJson("/v1/sessions");
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0]["vgpu"], "team-a");
  std::uint64_t id = sessions[0]["id"];
  auto evicted = http->Delete("/v1/sessions/" + std::to_string(id));
  ASSERT_TRUE(evicted);
  EXPECT_EQ(evicted->status, 200);
  EXPECT_EQ(http->Delete("/v1/sessions/999999")->status, 404);
  // Expect: the client's connection ends, and the memory goes back to the quota.
  EXPECT_NE(client.call([](wire::Call::Builder c) { c.setMemGetInfo(); }).first, CUDA_SUCCESS);
  EXPECT_TRUE(eventually([&] { return metric("fastgpu_vgpu_memory_used_bytes{vgpu=\"team-a\",gpu=\"0\"}") == "0"; }));
}

TEST_F(AdminApiTest, DeletingAVgpuEndsItsSessionsAndRefusesNewOnes) {
  RawClient doomed(url, "team-a", "secret-a");
  doomed.retainPrimary();
  doomed.allocate(10 * kMiB);
  auto deleted = http->Delete("/v1/vgpus/team-a");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 200) << deleted->body;
  // Expect: its session ends, it is no longer listed, and a new client is refused by name.
  EXPECT_NE(doomed.call([](wire::Call::Builder c) { c.setMemGetInfo(); }).first, CUDA_SUCCESS);
  EXPECT_TRUE(eventually([&] { return getJson("/v1/sessions").empty(); }));
  EXPECT_TRUE(getJson("/v1/vgpus").empty());
  RawClient refused(url, "team-a", "secret-a");
  EXPECT_EQ(refused.welcome().getResult(), CUDA_ERROR_INVALID_DEVICE) << refused.welcome().getMessage().cStr();
  EXPECT_EQ(http->Delete("/v1/vgpus/team-a")->status, 404) << "deleting twice";
}

TEST_F(AdminApiTest, DeletingAVgpuDropsItsModuleCache) {
  testing::ScratchDirectory scratch;
  startWith(fmt::format("module_cache_dir = \"{}\"\n{}", scratch.path(), kConfig));
  {
    RawClient client(url, "team-a", "secret-a");
    client.retainPrimary();
    ASSERT_EQ(client.loadImage(largeTestPtx()).result, CUDA_SUCCESS);
  }
  std::string kept = scratch.path() + "/team-a";
  ASSERT_FALSE(std::filesystem::is_empty(kept)) << "the vGPU's image is kept under its name";
  ASSERT_EQ(http->Delete("/v1/vgpus/team-a")->status, 200);
  EXPECT_FALSE(std::filesystem::exists(kept)) << "a vGPU made later under this name must not find team-a's code";
}

TEST_F(AdminApiTest, AVgpuCreatedLiveAdmitsItsClientsAndAnUpdateChangesItsQuota) {
  auto created = http->Post("/v1/vgpus", "name = \"team-b\"\nmemory = \"64MiB\"\ntokens = [\"secret-b\"]\n",
                            "application/toml");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status / 100, 2) << created->body;
  RawClient client(url, "team-b", "secret-b");
  ASSERT_EQ(client.welcome().getResult(), CUDA_SUCCESS) << client.welcome().getMessage().cStr();
  client.retainPrimary();
  EXPECT_EQ(client.memoryInfo().second, 64 * kMiB);
  std::uint64_t held = client.allocate(40 * kMiB);
  // Shrink the quota below what is held: nothing is taken away, nothing more is given.
  auto updated = http->Patch("/v1/vgpus/team-b", "memory = \"32MiB\"\n", "application/toml");
  ASSERT_TRUE(updated);
  ASSERT_EQ(updated->status / 100, 2) << updated->body;
  EXPECT_EQ(client.memoryInfo().second, 32 * kMiB);
  client.allocate(kMiB, CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(client.write(held, std::vector<std::uint8_t>(16, 1)), CUDA_SUCCESS) << "held memory stays usable";
  // A duplicate name is refused.
  auto duplicate = http->Post("/v1/vgpus", "name = \"team-b\"\nmemory = \"1MiB\"\n", "application/toml");
  ASSERT_TRUE(duplicate);
  EXPECT_EQ(duplicate->status / 100, 4) << duplicate->body;
}

TEST_F(AdminApiTest, BadSessionIdsGetAJsonErrorAndNothingOfTheServersInsides) {
  for (const char* id : {"99999999999999999999999", "abc", "-1", "1x"}) {
    auto response = http->Delete(std::string("/v1/sessions/") + id);
    ASSERT_TRUE(response) << id;
    EXPECT_EQ(response->status, 400) << id << ": " << response->body;
    EXPECT_FALSE(response->has_header("EXCEPTION_WHAT")) << id;
    EXPECT_TRUE(nlohmann::json::parse(response->body).contains("error")) << response->body;
  }
  EXPECT_EQ(http->Delete("/v1/sessions/12345")->status, 404);
}

TEST_F(AdminApiTest, ASecondServerCannotTakeTheAdminPort) {
  AdminApi second(*server, scheduler::hashToken("other"));
  std::string port = admin->url().substr(admin->url().rfind(':') + 1);
  EXPECT_FALSE(second.start("tcp://127.0.0.1:" + port)) << "two admin APIs on one port (SO_REUSEPORT)";
}

TEST_F(AdminApiTest, HttpsServesClientsThatTrustItsCaOnly) {
  const auto& files = testing::testCertificates();
  AdminApi https(*server, scheduler::hashToken("admin-secret"), nullptr, files.serverSettings());
  EXPECT_FALSE(https.start("http://127.0.0.1:0")) << "set up for HTTPS, listening in clear";
  ASSERT_TRUE(https.start("https://127.0.0.1:0"));
  ASSERT_TRUE(https.url().starts_with("https://127.0.0.1:")) << https.url();
  httplib::Client trusting(https.url());
  trusting.set_ca_cert_path(files.ca);
  trusting.set_bearer_token_auth("admin-secret");
  auto listed = trusting.Get("/v1/vgpus");
  ASSERT_TRUE(listed) << httplib::to_string(listed.error());
  EXPECT_EQ(listed->status, 200);
  httplib::Client mistrusting(https.url());
  mistrusting.set_ca_cert_path(files.otherCa);
  mistrusting.set_bearer_token_auth("admin-secret");
  auto refused = mistrusting.Get("/v1/vgpus");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), httplib::Error::SSLServerVerification);
  httplib::Client plain("http://" + https.url().substr(std::string_view("https://").size()));
  plain.set_bearer_token_auth("admin-secret");
  auto cleartext = plain.Get("/v1/vgpus");
  EXPECT_TRUE(!cleartext || cleartext->status == 400) << "a cleartext request to the HTTPS port is served";
  https.stop();
}

TEST_F(AdminApiTest, HttpsWithAMissingKeyFailsToStartNamingTheFile) {
  const auto& files = testing::testCertificates();
  AdminApi https(*server, scheduler::hashToken("admin-secret"), nullptr,
                 protocol::TlsServerSettings{files.serverCert, "/nonexistent/admin.key", ""});
  Status started = https.start("https://127.0.0.1:0");
  ASSERT_FALSE(started);
  EXPECT_NE(started.message().find("/nonexistent/admin.key"), std::string::npos) << started.message();
}

TEST_F(AdminApiTest, ASessionStillShakingHandsIsListedUnderItsOwnId) {
  auto connected = protocol::connect(url);  // connects, sends no Hello
  ASSERT_TRUE(connected);
  nlohmann::json sessions;
  EXPECT_TRUE(eventually([&] {
    sessions = getJson("/v1/sessions");
    return sessions.size() == 1;
  }));
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_NE(sessions[0]["id"], 0);
  EXPECT_EQ(sessions[0]["admitted"], false);
}

TEST_F(AdminApiTest, WhatAClientCallsItsHostCannotBreakTheSessionList) {
  RawClient client(url, "team-a", "secret-a", std::string("bad\xff\xfe utf-8 \x1b[31m") + std::string(50000, 'h'));
  ASSERT_EQ(client.welcome().getResult(), CUDA_SUCCESS);
  auto sessions = getJson("/v1/sessions");
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_LE(sessions[0]["host"].get<std::string>().size(), 255u * 3) << "kept bounded";
}

TEST_F(AdminApiTest, AVgpuNameThatCouldNotBeAddressedIsRefused) {
  auto created = http->Post("/v1/vgpus", "name = \"a/b\"\nmemory = \"64MiB\"\ntokens = [\"t\"]\n", "application/toml");
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 400) << created->body;
  EXPECT_NE(created->body.find("a vGPU name is 1 to 64"), std::string::npos) << created->body;
}

}  // namespace
}  // namespace fastgpu::server
