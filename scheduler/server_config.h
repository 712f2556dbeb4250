// fastgpu-server's configuration file (TOML). Keys (docs/operations.md, deploy/fastgpu-server.toml):
//
//   listen = ["tcp://0.0.0.0:7600"]     driver = "libcuda.so.1"     gpus = [0, 1]
//   placement = "binpack" | "spread"    state_dir = "..."           admin_listen, admin_token
//   module_cache_dir (default STATE_DIR/module-cache; "" for none), module_cache_bytes ("4GiB")
//   tls_cert, tls_key, tls_client_ca (PEM files, for tls:// listeners and an https:// admin API)
//   [[vgpu]] name, gpu (index, UUID or "auto"), memory ("8GiB"), compute_share, compute_cap,
//            max_kernel_ms
//            (percent), priority ("high"|"normal"|"low"), max_sessions, tokens | token_hashes
//
// A bad file is refused with "FILE:LINE:COLUMN: reason". Plaintext tokens are hashed at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cudaabi/result.h"
#include "scheduler/token.h"

namespace fastgpu::scheduler {

enum class Priority { kHigh, kNormal, kLow };
enum class Placement { kBinpack, kSpread };

struct VgpuSpec {
  std::string name;
  std::optional<int> gpuIndex;  // gpu = 2
  std::string gpuUuid;          // gpu = "GPU-..." (either this, gpuIndex, or auto)
  std::uint64_t memoryBytes = 0;
  double computeShare = 1.0;
  std::optional<double> computeCapPercent;
  Priority priority = Priority::kNormal;
  int maxSessions = 0;  // 0: no limit
  // A session whose kernel (or other piece of GPU work) runs longer is ended; 0: no limit.
  std::uint32_t maxKernelMs = 0;
  std::vector<TokenHash> tokenHashes;

  bool autoPlaced() const { return !gpuIndex && gpuUuid.empty(); }
};

// What one session may hold at once ([limits] session_*): a client that creates without end gets
// CUDA_ERROR_OUT_OF_MEMORY, as from a driver out of resources.
struct SessionLimits {
  int streams = 1024;
  int events = 65536;
  int contexts = 64;
  int modules = 1024;  // modules and libraries
  std::uint64_t moduleBytes = 2ULL << 30;  // the images of the loaded modules and libraries
  // A client that sends nothing for this long (not even the heartbeats an idle client sends
  // every 2 s) is gone: dead, frozen or cut off. Its session ends.
  double silenceSeconds = 30;
  // While a call takes long (a synchronize behind a long kernel), the server tells the client
  // it is alive this often.
  double heartbeatSeconds = 2;
  // The largest frame a logged-in client may send (its calls' batches and bulk copies travel in
  // frames of at most 9 MiB; the protocol's own bound is 64 MiB).
  std::uint32_t frameBytes = 64u << 20;
};

// Code images kept on disk for a vGPU's next sessions (module_cache_dir, module_cache_bytes): a
// client then sends an image's digest instead of the image (docs/operations.md, "Module cache").
struct ModuleCacheConfig {
  std::string dir;  // one directory per vGPU under it; empty: no cache
  std::uint64_t bytesPerVgpu = 4ULL << 30;

  // The directory of vGPU `vgpu`'s images; an open server's (no vGPU) is "@open", which no vGPU
  // name can be (server_config.cpp allows letters, digits, '.', '_' and '-').
  std::string vgpuDirectory(const std::string& vgpu) const { return dir + "/" + (vgpu.empty() ? "@open" : vgpu); }
};

// What a peer can make the server spend before and around login ([limits] in the file).
struct ServerLimits {
  int maxConnections = 1024;    // connections at once, logged in or not
  int maxHandshaking = 64;      // connections that have not finished their handshake
  double handshakeSeconds = 5;  // to send a whole Hello
  std::uint32_t helloBytes = 64 << 10;  // the largest frame before login
  // On SIGTERM, how long running sessions may go on before their workers are killed.
  double shutdownGraceSeconds = 10;
  // How often the usage of running sessions is written to the ledger: what a crash may lose.
  double ledgerCheckpointSeconds = 5;
  // Failed logins (unknown vGPU, wrong token) a peer address may make a minute, in bursts of as
  // many; then its logins are refused unchecked until its budget recovers. 0: no limit.
  double loginFailuresPerMinute = 10;
  SessionLimits session;
  ModuleCacheConfig moduleCache;  // the disk the sessions' code may take
  // The server has an rdma:// listener: a client that asks (its URL is rdma://) logs in over TCP
  // and its worker then moves the session onto RDMA (docs/rdma.md).
  bool servesRdma = false;
};

struct ServerConfig {
  std::vector<std::string> listen;
  std::string driver;
  std::vector<int> gpus;  // empty: all
  Placement placement = Placement::kBinpack;
  // vGPU quotas on one GPU may add up to more than its memory (off: such a vGPU is refused).
  bool overcommit = false;
  std::string stateDir;
  // PEM files: the certificate (with its chain) and key that tls:// listeners and an https://
  // admin API present, and the CAs client certificates must chain to (empty: none asked for).
  std::string tlsCertificateFile;
  std::string tlsKeyFile;
  std::string tlsClientCaFile;
  std::string adminListen;
  std::optional<TokenHash> adminTokenHash;
  std::vector<VgpuSpec> vgpus;
  ServerLimits limits;
};

// One vGPU given as the body of a [[vgpu]] table in TOML ("name = ...\nmemory = ..."), checked
// by the same rules as the file (the admin API's create).
Result<VgpuSpec> parseVgpuSpec(std::string_view text, const std::string& origin);
// `base` with the keys of `patch` (a partial vGPU table) replaced, checked as a whole (the admin
// API's update). The name cannot change.
Result<VgpuSpec> patchVgpuSpec(const VgpuSpec& base, std::string_view patch, const std::string& origin);
// A vGPU as a [[vgpu]] table body, with token hashes (never tokens).
std::string formatVgpuSpec(const VgpuSpec& spec);
// The state file: every vGPU as a [[vgpu]] table.
std::string formatVgpuState(const std::vector<VgpuSpec>& vgpus);

// Reads and checks a configuration file.
Result<ServerConfig> loadServerConfig(const std::string& path);
// The same from text (`origin` names it in errors).
Result<ServerConfig> parseServerConfig(std::string_view text, const std::string& origin);

}  // namespace fastgpu::scheduler
