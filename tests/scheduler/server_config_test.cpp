// The server's configuration file: what it accepts, and how it refuses what it does not.
#include "scheduler/server_config.h"

#include <gtest/gtest.h>

#include "scheduler/vgpu_registry.h"

namespace fastgpu::scheduler {
namespace {

TEST(ServerConfig, ReadsTheShippedExample) {
  auto config = loadServerConfig(FASTGPU_SOURCE_DIR "/deploy/fastgpu-server.toml");
  ASSERT_TRUE(config) << config.status().message();
  EXPECT_EQ(config->listen, std::vector<std::string>{"tcp://0.0.0.0:7600"});
  ASSERT_EQ(config->vgpus.size(), 2u);
  const VgpuSpec& a = config->vgpus[0];
  EXPECT_EQ(a.name, "team-a");
  EXPECT_EQ(a.gpuIndex, 0);
  EXPECT_EQ(a.memoryBytes, 16ULL << 30);
  EXPECT_EQ(a.computeShare, 3.0);
  EXPECT_EQ(a.priority, Priority::kHigh);
  EXPECT_EQ(a.maxSessions, 8);
  ASSERT_EQ(a.tokenHashes.size(), 1u);
  EXPECT_TRUE(sameHash(a.tokenHashes[0], hashToken("password")));
  const VgpuSpec& b = config->vgpus[1];
  EXPECT_TRUE(b.autoPlaced());
  EXPECT_EQ(b.computeCapPercent, 50.0);
  EXPECT_TRUE(sameHash(b.tokenHashes[0], hashToken("change-me")));
}

TEST(ServerConfig, ReadsLimitsAndKeepsSafeDefaults) {
  auto defaults = parseServerConfig("", "empty.toml");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->limits.maxHandshaking, 64);
  EXPECT_EQ(defaults->limits.helloBytes, 64u << 10);
  auto set = parseServerConfig(
      "[limits]\nmax_connections = 10\nmax_handshaking = 3\nhandshake_seconds = 0.5\nhello_bytes = \"16KiB\"\n", "l.toml");
  ASSERT_TRUE(set) << set.status().message();
  EXPECT_EQ(set->limits.maxConnections, 10);
  EXPECT_EQ(set->limits.maxHandshaking, 3);
  EXPECT_DOUBLE_EQ(set->limits.handshakeSeconds, 0.5);
  EXPECT_EQ(set->limits.helloBytes, 16u << 10);
  EXPECT_DOUBLE_EQ(defaults->limits.shutdownGraceSeconds, 10);
  EXPECT_EQ(defaults->limits.session.streams, 1024);
  auto session = parseServerConfig(
      "[limits]\nshutdown_grace_seconds = 0\nsession_streams = 5\nsession_events = 6\nsession_contexts = 7\n"
      "session_modules = 8\nsession_module_bytes = \"9MiB\"\n",
      "s.toml");
  ASSERT_TRUE(session) << session.status().message();
  EXPECT_DOUBLE_EQ(session->limits.shutdownGraceSeconds, 0);
  EXPECT_EQ(session->limits.session.streams, 5);
  EXPECT_EQ(session->limits.session.events, 6);
  EXPECT_EQ(session->limits.session.contexts, 7);
  EXPECT_EQ(session->limits.session.modules, 8);
  EXPECT_EQ(session->limits.session.moduleBytes, 9u << 20);
  auto limited =
      parseServerConfig("[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\ntokens = [\"t\"]\nmax_kernel_ms = 250\n", "k.toml");
  ASSERT_TRUE(limited) << limited.status().message();
  EXPECT_EQ(limited->vgpus[0].maxKernelMs, 250u);
  EXPECT_NE(formatVgpuSpec(limited->vgpus[0]).find("max_kernel_ms = 250"), std::string::npos) << "kept in the state";
}

// Each bad file is refused with its name, the line and the reason.
TEST(ServerConfig, ReadsTlsFiles) {
  auto config = parseServerConfig(
      "listen = [\"tls://0.0.0.0:7600\"]\ntls_cert = \"/etc/fastgpu/server.pem\"\ntls_key = \"/etc/fastgpu/server.key\"\n"
      "tls_client_ca = \"/etc/fastgpu/clients.pem\"\nadmin_listen = \"https://127.0.0.1:7601\"\n",
      "tls.toml");
  ASSERT_TRUE(config) << config.status().message();
  EXPECT_EQ(config->tlsCertificateFile, "/etc/fastgpu/server.pem");
  EXPECT_EQ(config->tlsKeyFile, "/etc/fastgpu/server.key");
  EXPECT_EQ(config->tlsClientCaFile, "/etc/fastgpu/clients.pem");
  EXPECT_EQ(config->adminListen, "https://127.0.0.1:7601");
}

TEST(ServerConfig, RefusesBadFilesNamingTheLineAndTheReason) {
  struct Case {
    const char* text;
    const char* expected;
  } cases[] = {
      {"listen = [\"tcp://x:1\"\n", "bad.toml:1:"},
      {"colour = \"blue\"\n", "bad.toml:1:1: unknown key 'colour'"},
      {"[[vgpu]]\nname = \"a\"\nmemory = \"lots\"\ntokens = [\"t\"]\n", "bad.toml:3:10: 'lots' is not a size"},
      {"[[vgpu]]\nname = \"a\"\ntokens = [\"t\"]\n", "needs a memory size"},
      {"[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\n", "vGPU 'a' needs tokens or token_hashes"},
      {"[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\ntokens = [\"t\"]\npriority = \"urgent\"\n",
       "bad.toml:5:12: priority 'urgent' is not high, normal or low"},
      {"[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\ntoken_hashes = [\"abc\"]\n", "a token hash is 64 hex digits"},
      {"[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\ntokens = [\"t\"]\ncompute_cap = 150\n",
       "compute_cap must be a percentage"},
      {"[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\ntokens = [\"t\"]\n[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\n"
       "tokens = [\"t\"]\n",
       "vGPU 'a' is defined twice"},
      {"placement = \"random\"\n", "placement 'random' is not binpack or spread"},
      // A string where a list belongs is refused, not ignored.
      {"listen = \"tcp://0.0.0.0:7600\"\n", "bad.toml:1:10: listen must be a list"},
      {"gpus = 0\n", "bad.toml:1:8: gpus must be a list"},
      {"[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\ntokens = \"t\"\n", "bad.toml:4:10: tokens must be a list"},
      {"overcommit = \"yes\"\n", "bad.toml:1:14: overcommit has the wrong type"},
      // An empty token would admit clients that send none.
      {"[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\ntokens = [\"\"]\n", "bad.toml:4:11: a token cannot be empty"},
      // Names travel in URLs and logs.
      {"[[vgpu]]\nname = \"a/b\"\nmemory = \"1GiB\"\ntokens = [\"t\"]\n", "bad.toml:2:8: a vGPU name is 1 to 64"},
      {"[[vgpu]]\nname = \"\"\nmemory = \"1GiB\"\ntokens = [\"t\"]\n", "a vGPU name is 1 to 64"},
      {"[[vgpu]]\nname = \"..\"\nmemory = \"1GiB\"\ntokens = [\"t\"]\n", "a vGPU name is 1 to 64"},
      {"[[vgpu]]\nname = \"\\u001b[31mred\"\nmemory = \"1GiB\"\ntokens = [\"t\"]\n", "a vGPU name is 1 to 64"},
      {"[[vgpu]]\nname = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\nmemory = \"1GiB\"\n"
       "tokens = [\"t\"]\n",
       "a vGPU name is 1 to 64"},
      // Not-a-numbers and absurd values.
      {"[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\ntokens = [\"t\"]\ncompute_share = nan\n", "compute_share must be"},
      {"[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\ntokens = [\"t\"]\ncompute_cap = nan\n", "compute_cap must be"},
      {"[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\ntokens = [\"t\"]\ngpu = 99999999999\n", "a gpu index is between"},
      // Limits: in range, known keys, a table.
      {"[limits]\nmax_connections = 0\n", "bad.toml:2:19: max_connections must be 1 to 4096"},
      {"[limits]\nhandshake_seconds = -1\n", "handshake_seconds must be more than 0"},
      {"[limits]\nhello_bytes = \"1GiB\"\n", "hello_bytes must be 1KiB to 16MiB"},
      {"[limits]\nthreads = 5\n", "bad.toml:2:1: unknown limits key 'threads'"},
      {"limits = 5\n", "limits must be a table"},
      {"[limits]\nshutdown_grace_seconds = nan\n", "shutdown_grace_seconds must be a number of seconds"},
      {"[limits]\nsession_streams = 0\n", "session_streams must be 1 to"},
      {"[limits]\nframe_bytes = \"1MiB\"\n", "frame_bytes must be 16MiB to 64MiB"},
      {"[limits]\nsession_module_bytes = \"1KiB\"\n", "session_module_bytes must be at least 1MiB"},
      {"module_cache_bytes = \"lots\"\n", "bad.toml:1:22: 'lots' is not a size"},
      {"module_cache_dir = 7\n", "module_cache_dir has the wrong type"},
      {"[[vgpu]]\nname = \"a\"\nmemory = \"1GiB\"\ntokens = [\"t\"]\nmax_kernel_ms = -1\n", "max_kernel_ms must be"},
      // TLS: a certificate goes with its key; what needs one names the line.
      {"tls_cert = \"s.pem\"\n", "bad.toml:1:12: tls_cert and tls_key go together"},
      {"tls_key = \"s.key\"\n", "bad.toml:1:11: tls_cert and tls_key go together"},
      {"listen = [\"tcp://0.0.0.0:1\", \"tls://0.0.0.0:2\"]\n", "bad.toml:1:30: a tls:// listener needs tls_cert and tls_key"},
      {"admin_listen = \"https://127.0.0.1:7601\"\n", "an https:// admin_listen needs tls_cert and tls_key"},
      {"tls_client_ca = \"ca.pem\"\n", "tls_client_ca needs tls_cert and tls_key"},
      {"tls_cert = 5\ntls_key = \"k\"\n", "bad.toml:1:12: tls_cert has the wrong type"},
  };
  for (const auto& c : cases) {
    auto config = parseServerConfig(c.text, "bad.toml");
    ASSERT_FALSE(config) << c.text;
    EXPECT_NE(config.status().message().find(c.expected), std::string::npos)
        << "for:\n" << c.text << "got: " << config.status().message();
  }
}

std::vector<PhysicalGpu> twoGpus() { return {{0, "GPU-a", 80ULL << 30}, {1, "GPU-b", 80ULL << 30}}; }

VgpuSpec vgpu(const char* name, std::uint64_t gib) {
  VgpuSpec spec;
  spec.name = name;
  spec.memoryBytes = gib << 30;
  spec.tokenHashes = {hashToken("t")};
  return spec;
}

TEST(VgpuPlacement, BinpackFillsOneGpuSpreadBalances) {
  std::vector<VgpuSpec> specs = {vgpu("a", 30), vgpu("b", 30), vgpu("c", 30)};
  auto packed = VgpuRegistry::create(specs, twoGpus(), Placement::kBinpack);
  ASSERT_TRUE(packed);
  auto gpus = [](const VgpuRegistry& r) {
    std::vector<int> placed;
    for (const auto& v : r.vgpus()) placed.push_back(v->physicalGpu());
    return placed;
  };
  EXPECT_EQ(gpus(**packed), (std::vector<int>{0, 0, 1}));
  auto spread = VgpuRegistry::create(specs, twoGpus(), Placement::kSpread);
  ASSERT_TRUE(spread);
  EXPECT_EQ(gpus(**spread), (std::vector<int>{0, 1, 0}));
}

TEST(VgpuPlacement, RefusesWhatDoesNotFitOrDoesNotExist) {
  EXPECT_FALSE(VgpuRegistry::create({vgpu("big", 100)}, twoGpus(), Placement::kBinpack));
  auto named = vgpu("x", 1);
  named.gpuIndex = 5;
  EXPECT_FALSE(VgpuRegistry::create({named}, twoGpus(), Placement::kBinpack));
  auto byUuid = vgpu("y", 1);
  byUuid.gpuUuid = "GPU-b";
  auto registry = VgpuRegistry::create({byUuid}, twoGpus(), Placement::kBinpack);
  ASSERT_TRUE(registry);
  EXPECT_EQ(registry->get()->vgpus()[0]->physicalGpu(), 1);
}

TEST(VgpuRegistryLive, AddUpdateAndRemoveTakeEffectForNewSessionsOnly) {
  auto created = VgpuRegistry::create({vgpu("a", 1)}, twoGpus(), Placement::kBinpack);
  ASSERT_TRUE(created);
  VgpuRegistry& registry = **created;
  // add: placed, admits with its token, refuses a second of the same name.
  ASSERT_TRUE(registry.add(vgpu("b", 2)));
  EXPECT_FALSE(registry.add(vgpu("b", 1)));
  auto lease = registry.admit("b", "t");
  ASSERT_TRUE(lease) << lease.status().message();
  EXPECT_EQ((*lease)->vgpu()->quota().limit(), 2ULL << 30);
  // update: a new quota at once, for the session already holding it too; moving is refused.
  auto smaller = vgpu("b", 1);
  ASSERT_TRUE(registry.update(smaller));
  EXPECT_EQ((*lease)->vgpu()->quota().limit(), 1ULL << 30);
  auto moved = vgpu("b", 1);
  moved.gpuIndex = 1 - registry.find("b")->physicalGpu();
  EXPECT_EQ(registry.update(moved).code(), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(registry.update(vgpu("b", 100)).code(), CUDA_ERROR_OUT_OF_MEMORY) << "more than the GPU has";
  EXPECT_FALSE(registry.update(vgpu("nobody", 1)));
  // remove: no new sessions; the one holding it keeps its lease until it ends.
  ASSERT_TRUE(registry.remove("b"));
  EXPECT_FALSE(registry.remove("b"));
  EXPECT_EQ(registry.find("b"), nullptr);
  auto refused = registry.admit("b", "t");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find("b"), std::string::npos) << refused.status().message();
  SessionMemory held;
  EXPECT_TRUE((*lease)->vgpu()->quota().reserve(1 << 20, held));
  (*lease)->vgpu()->quota().release(1 << 20, held);
  // A registry whose vGPUs were all removed stays closed: it does not fall back to open.
  ASSERT_TRUE(registry.remove("a"));
  EXPECT_FALSE(registry.open());
  EXPECT_FALSE(registry.admit("", ""));
}

TEST(VgpuPlacement, QuotasBeyondAGpusMemoryAreRefusedUnlessOvercommitted) {
  std::vector<PhysicalGpu> oneGpu = {{0, "GPU-a", 80ULL << 30}};
  auto fixed = [](const char* name, std::uint64_t gib) {
    VgpuSpec spec = vgpu(name, gib);
    spec.gpuIndex = 0;
    return spec;
  };
  // Placed by index: 50 + 40 GiB on an 80 GiB GPU.
  auto refused = VgpuRegistry::create({fixed("a", 50), fixed("b", 40)}, oneGpu, Placement::kBinpack);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find("overcommit = true"), std::string::npos) << refused.status().message();
  EXPECT_TRUE(VgpuRegistry::create({fixed("a", 50), fixed("b", 40)}, oneGpu, Placement::kBinpack, true));
  // Live: an add or an update that would overcommit is refused and changes nothing.
  auto live = VgpuRegistry::create({fixed("a", 50)}, oneGpu, Placement::kBinpack);
  ASSERT_TRUE(live);
  EXPECT_EQ((*live)->add(vgpu("b", 40)).code(), CUDA_ERROR_OUT_OF_MEMORY);
  ASSERT_TRUE((*live)->add(vgpu("b", 30)));
  EXPECT_EQ((*live)->update(fixed("a", 51)).code(), CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ((*live)->find("a")->quota().limit(), 50ULL << 30);
  EXPECT_TRUE((*live)->update(fixed("a", 50)));
  // Overcommitting, automatic placement still finds a GPU.
  auto over = VgpuRegistry::create({vgpu("a", 60), vgpu("b", 60)}, oneGpu, Placement::kBinpack, true);
  ASSERT_TRUE(over) << over.status().message();
}

TEST(MemoryQuotaTest, RefusesOverQuotaAndShrinksLive) {
  MemoryQuota quota(100);
  SessionMemory a, b;
  EXPECT_TRUE(quota.reserve(60, a));
  EXPECT_FALSE(quota.reserve(41, b));
  EXPECT_EQ(quota.used(), 60u);
  EXPECT_EQ(a.heldBytes.load(), 60u);
  EXPECT_EQ(b.heldBytes.load(), 0u);
  quota.setLimit(50);  // below current use: nothing is freed, nothing new is allowed
  EXPECT_EQ(quota.available(), 0u);
  EXPECT_FALSE(quota.reserve(1, b));
  quota.release(60, a);
  EXPECT_TRUE(quota.reserve(50, b));
}

TEST(MemoryQuotaTest, WhatADeadSessionHeldGoesBackExactly) {
  MemoryQuota quota(100);
  SessionMemory dead, alive;
  ASSERT_TRUE(quota.reserve(30, dead));
  ASSERT_TRUE(quota.reserve(20, alive));
  ASSERT_TRUE(quota.reserve(10, dead));
  quota.releaseAll(dead);
  EXPECT_EQ(quota.used(), 20u);
  EXPECT_EQ(dead.heldBytes.load(), 0u);
  EXPECT_TRUE(quota.reserve(80, alive));
}

// The module cache a configuration file gives (it must parse).
ModuleCacheConfig moduleCacheOf(const std::string& text) {
  auto config = parseServerConfig(text, "a.toml");
  EXPECT_TRUE(config) << text << ": " << config.status().message();
  return config ? config->limits.moduleCache : ModuleCacheConfig{"unparsed", 0};
}

TEST(ServerConfig, TheModuleCacheLivesInTheStateDirectoryUnlessToldOtherwise) {
  EXPECT_EQ(moduleCacheOf("").dir, "") << "no state_dir: no cache";
  ModuleCacheConfig inState = moduleCacheOf("state_dir = \"/var/lib/fastgpu\"\n");
  EXPECT_EQ(inState.dir, "/var/lib/fastgpu/module-cache");
  EXPECT_EQ(inState.bytesPerVgpu, 4ULL << 30);
  ModuleCacheConfig placed = moduleCacheOf("module_cache_dir = \"/cache\"\nmodule_cache_bytes = \"512MiB\"\n");
  EXPECT_EQ(placed.dir, "/cache");
  EXPECT_EQ(placed.bytesPerVgpu, 512ULL << 20);
  EXPECT_EQ(moduleCacheOf("state_dir = \"/s\"\nmodule_cache_bytes = \"0\"\n").dir, "") << "a size of 0 turns it off";
  EXPECT_EQ(moduleCacheOf("state_dir = \"/s\"\nmodule_cache_dir = \"\"\n").dir, "");
}

}  // namespace
}  // namespace fastgpu::scheduler
