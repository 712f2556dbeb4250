#include "scheduler/server_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "cudaabi/byte_size.h"

namespace fastgpu::scheduler {
namespace {

// A configuration error, located.
struct ConfigError {
  std::string message;
};

[[noreturn]] void fail(const std::string& origin, const toml::source_region& where, const std::string& why) {
  throw ConfigError{fmt::format("{}:{}:{}: {}", origin, where.begin.line, where.begin.column, why)};
}

template <typename T>
T required(const std::string& origin, const toml::node& node, const char* what) {
  auto value = node.value<T>();
  if (!value) fail(origin, node.source(), fmt::format("{} has the wrong type", what));
  return *value;
}

// The array at `key`, or null when absent; any other type is an error (a string where a list
// belongs must not be ignored).
const toml::array* arrayAt(const std::string& origin, const toml::table& table, const char* key, const char* what) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return nullptr;
  const toml::array* array = node->as_array();
  if (array == nullptr) fail(origin, node->source(), fmt::format("{} must be a list: {} = [...]", key, what));
  return array;
}

// vGPU names travel in URLs and logs: letters, digits, '.', '_' and '-', at most 64.
bool isValidVgpuName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

Priority parsePriority(const std::string& origin, const toml::node& node) {
  auto text = required<std::string>(origin, node, "priority");
  if (text == "high") return Priority::kHigh;
  if (text == "normal") return Priority::kNormal;
  if (text == "low") return Priority::kLow;
  fail(origin, node.source(), fmt::format("priority '{}' is not high, normal or low", text));
}

VgpuSpec parseVgpu(const std::string& origin, const toml::table& table) {
  static const std::set<std::string> kKeys = {"name",     "gpu",          "memory",      "compute_share", "compute_cap",
                                              "priority", "max_sessions", "tokens",      "token_hashes",
                                              "max_kernel_ms"};
  for (const auto& [key, node] : table) {
    if (!kKeys.contains(std::string(key.str()))) fail(origin, key.source(), fmt::format("unknown vgpu key '{}'", key.str()));
  }
  VgpuSpec spec;
  const toml::node* name = table.get("name");
  if (name == nullptr) fail(origin, table.source(), "a [[vgpu]] needs a name");
  spec.name = required<std::string>(origin, *name, "name");
  if (!isValidVgpuName(spec.name)) {
    fail(origin, name->source(), "a vGPU name is 1 to 64 letters, digits, '.', '_' or '-'");
  }
  if (const toml::node* gpu = table.get("gpu")) {
    if (auto index = gpu->value<std::int64_t>()) {
      if (*index < 0 || *index > 1024) fail(origin, gpu->source(), "a gpu index is between 0 and 1024");
      spec.gpuIndex = static_cast<int>(*index);
    } else if (auto text = gpu->value<std::string>()) {
      if (*text != "auto") spec.gpuUuid = *text;
    } else {
      fail(origin, gpu->source(), "gpu must be an index, a UUID or \"auto\"");
    }
  }
  const toml::node* memory = table.get("memory");
  if (memory == nullptr) fail(origin, table.source(), fmt::format("vGPU '{}' needs a memory size", spec.name));
  auto bytes = parseByteSize(required<std::string>(origin, *memory, "memory"));
  if (!bytes || *bytes == 0) fail(origin, memory->source(), bytes ? "memory must be more than 0" : bytes.status().message());
  spec.memoryBytes = *bytes;
  if (const toml::node* share = table.get("compute_share")) {
    spec.computeShare = share->value<double>().value_or(-1);
    // (Written so that nan fails too.)
    if (!(spec.computeShare > 0 && spec.computeShare <= 1e6)) {
      fail(origin, share->source(), "compute_share must be a positive number up to 1000000");
    }
  }
  if (const toml::node* cap = table.get("compute_cap")) {
    double percent = cap->value<double>().value_or(-1);
    if (!(percent > 0 && percent <= 100)) fail(origin, cap->source(), "compute_cap must be a percentage in (0, 100]");
    spec.computeCapPercent = percent;
  }
  if (const toml::node* priority = table.get("priority")) spec.priority = parsePriority(origin, *priority);
  if (const toml::node* sessions = table.get("max_sessions")) {
    auto count = required<std::int64_t>(origin, *sessions, "max_sessions");
    if (count < 1 || count > 1'000'000) fail(origin, sessions->source(), "max_sessions must be 1 to 1000000");
    spec.maxSessions = static_cast<int>(count);
  }
  if (const toml::node* limit = table.get("max_kernel_ms")) {
    auto ms = required<std::int64_t>(origin, *limit, "max_kernel_ms");
    if (ms < 0 || ms > 86'400'000) fail(origin, limit->source(), "max_kernel_ms must be 0 (no limit) to 86400000");
    spec.maxKernelMs = static_cast<std::uint32_t>(ms);
  }
  if (const toml::array* tokens = arrayAt(origin, table, "tokens", "the tokens clients present")) {
    for (const auto& token : *tokens) {
      std::string text = required<std::string>(origin, token, "token");
      // An empty token would let in clients that send none.
      if (text.empty()) fail(origin, token.source(), "a token cannot be empty");
      spec.tokenHashes.push_back(hashToken(text));
    }
  }
  if (const toml::array* hashes = arrayAt(origin, table, "token_hashes", "SHA-256 hashes of tokens")) {
    for (const auto& hash : *hashes) {
      auto parsed = parseTokenHash(required<std::string>(origin, hash, "token hash"));
      if (!parsed) fail(origin, hash.source(), "a token hash is 64 hex digits (SHA-256)");
      spec.tokenHashes.push_back(*parsed);
    }
  }
  if (spec.tokenHashes.empty()) fail(origin, table.source(), fmt::format("vGPU '{}' needs tokens or token_hashes", spec.name));
  return spec;
}

// An integer key of a table within [low, high].
std::int64_t boundedInteger(const std::string& origin, const toml::node& node, const char* key, std::int64_t low,
                            std::int64_t high) {
  auto value = required<std::int64_t>(origin, node, key);
  if (value < low || value > high) fail(origin, node.source(), fmt::format("{} must be {} to {}", key, low, high));
  return value;
}

double boundedSeconds(const std::string& origin, const toml::node& node, const char* key, double high) {
  double value = node.value<double>().value_or(-1);
  if (!(value >= 0 && value <= high)) fail(origin, node.source(), fmt::format("{} must be a number of seconds, 0 to {}", key, high));
  return value;
}

ServerLimits parseLimits(const std::string& origin, const toml::node& node) {
  const toml::table* table = node.as_table();
  if (table == nullptr) fail(origin, node.source(), "limits must be a table: [limits]");
  static const std::set<std::string> kKeys = {"max_connections", "max_handshaking", "handshake_seconds", "hello_bytes",
                                                "shutdown_grace_seconds", "session_streams", "session_events",
                                                "session_contexts", "session_modules", "session_module_bytes",
                                                "client_silence_seconds", "heartbeat_seconds", "ledger_checkpoint_seconds",
                                                "login_failures_per_minute", "frame_bytes"};
  for (const auto& [key, value] : *table) {
    if (!kKeys.contains(std::string(key.str()))) fail(origin, key.source(), fmt::format("unknown limits key '{}'", key.str()));
  }
  ServerLimits limits;
  if (const toml::node* value = table->get("max_connections")) {
    limits.maxConnections = static_cast<int>(boundedInteger(origin, *value, "max_connections", 1, 4096));
  }
  if (const toml::node* value = table->get("max_handshaking")) {
    limits.maxHandshaking = static_cast<int>(boundedInteger(origin, *value, "max_handshaking", 1, 1'000'000));
  }
  if (const toml::node* value = table->get("handshake_seconds")) {
    limits.handshakeSeconds = value->value<double>().value_or(-1);
    if (!(limits.handshakeSeconds > 0 && limits.handshakeSeconds <= 3600)) {
      fail(origin, value->source(), "handshake_seconds must be more than 0 and at most 3600");
    }
  }
  if (const toml::node* value = table->get("shutdown_grace_seconds")) {
    limits.shutdownGraceSeconds = boundedSeconds(origin, *value, "shutdown_grace_seconds", 3600);
  }
  SessionLimits& session = limits.session;
  if (const toml::node* value = table->get("session_streams")) {
    session.streams = static_cast<int>(boundedInteger(origin, *value, "session_streams", 1, 1'000'000));
  }
  if (const toml::node* value = table->get("session_events")) {
    session.events = static_cast<int>(boundedInteger(origin, *value, "session_events", 1, 10'000'000));
  }
  if (const toml::node* value = table->get("session_contexts")) {
    session.contexts = static_cast<int>(boundedInteger(origin, *value, "session_contexts", 1, 10'000));
  }
  if (const toml::node* value = table->get("session_modules")) {
    session.modules = static_cast<int>(boundedInteger(origin, *value, "session_modules", 1, 1'000'000));
  }
  if (const toml::node* value = table->get("login_failures_per_minute")) {
    limits.loginFailuresPerMinute = static_cast<double>(boundedInteger(origin, *value, "login_failures_per_minute", 0, 100'000));
  }
  if (const toml::node* value = table->get("ledger_checkpoint_seconds")) {
    limits.ledgerCheckpointSeconds = boundedSeconds(origin, *value, "ledger_checkpoint_seconds", 3600);
    if (limits.ledgerCheckpointSeconds < 0.05) fail(origin, value->source(), "ledger_checkpoint_seconds must be at least 0.05");
  }
  if (const toml::node* value = table->get("client_silence_seconds")) {
    session.silenceSeconds = boundedSeconds(origin, *value, "client_silence_seconds", 86400);
    if (session.silenceSeconds < 0.1) fail(origin, value->source(), "client_silence_seconds must be at least 0.1");
  }
  if (const toml::node* value = table->get("heartbeat_seconds")) {
    session.heartbeatSeconds = boundedSeconds(origin, *value, "heartbeat_seconds", 60);
    if (session.heartbeatSeconds < 0.05) fail(origin, value->source(), "heartbeat_seconds must be at least 0.05");
  }
  if (const toml::node* value = table->get("frame_bytes")) {
    auto bytes = parseByteSize(required<std::string>(origin, *value, "frame_bytes"));
    if (!bytes || *bytes < (16u << 20) || *bytes > (64u << 20)) {
      fail(origin, value->source(), bytes ? "frame_bytes must be 16MiB to 64MiB" : bytes.status().message());
    }
    session.frameBytes = static_cast<std::uint32_t>(*bytes);
  }
  if (const toml::node* value = table->get("session_module_bytes")) {
    auto bytes = parseByteSize(required<std::string>(origin, *value, "session_module_bytes"));
    if (!bytes || *bytes < (1u << 20)) {
      fail(origin, value->source(), bytes ? "session_module_bytes must be at least 1MiB" : bytes.status().message());
    }
    session.moduleBytes = *bytes;
  }
  if (const toml::node* value = table->get("hello_bytes")) {
    auto bytes = parseByteSize(required<std::string>(origin, *value, "hello_bytes"));
    if (!bytes || *bytes < 1024 || *bytes > (16u << 20)) {
      fail(origin, value->source(), bytes ? "hello_bytes must be 1KiB to 16MiB" : bytes.status().message());
    }
    limits.helloBytes = static_cast<std::uint32_t>(*bytes);
  }
  return limits;
}

// module_cache_dir defaults to a directory in state_dir (none without one); a size of 0 is none.
void parseModuleCache(const std::string& origin, const toml::table& root, ServerConfig& config) {
  ModuleCacheConfig& cache = config.limits.moduleCache;
  cache.dir = config.stateDir.empty() ? std::string() : config.stateDir + "/module-cache";
  if (const toml::node* dir = root.get("module_cache_dir")) {
    cache.dir = required<std::string>(origin, *dir, "module_cache_dir");
  }
  if (const toml::node* value = root.get("module_cache_bytes")) {
    auto bytes = parseByteSize(required<std::string>(origin, *value, "module_cache_bytes"));
    if (!bytes) fail(origin, value->source(), bytes.status().message());
    cache.bytesPerVgpu = *bytes;
  }
  if (cache.bytesPerVgpu == 0) cache.dir.clear();
}

// tls_cert and tls_key go together; tls:// listeners, an https:// admin API and client CAs need
// them.
void parseTls(const std::string& origin, const toml::table& root, ServerConfig& config) {
  const toml::node* certificate = root.get("tls_cert");
  const toml::node* key = root.get("tls_key");
  if (certificate != nullptr) config.tlsCertificateFile = required<std::string>(origin, *certificate, "tls_cert");
  if (key != nullptr) config.tlsKeyFile = required<std::string>(origin, *key, "tls_key");
  if (const toml::node* clientCa = root.get("tls_client_ca")) {
    config.tlsClientCaFile = required<std::string>(origin, *clientCa, "tls_client_ca");
    if (certificate == nullptr) fail(origin, clientCa->source(), "tls_client_ca needs tls_cert and tls_key");
  }
  if ((certificate == nullptr) != (key == nullptr)) {
    fail(origin, (certificate != nullptr ? certificate : key)->source(), "tls_cert and tls_key go together");
  }
  if (certificate != nullptr) return;
  if (const toml::array* listen = root.get("listen") ? root.get("listen")->as_array() : nullptr) {
    for (const auto& url : *listen) {
      if (url.value_or(std::string_view()).starts_with("tls://")) {
        fail(origin, url.source(), "a tls:// listener needs tls_cert and tls_key");
      }
    }
  }
  if (const toml::node* admin = root.get("admin_listen"); admin && admin->value_or(std::string_view()).starts_with("https://")) {
    fail(origin, admin->source(), "an https:// admin_listen needs tls_cert and tls_key");
  }
}

ServerConfig parse(const toml::table& root, const std::string& origin) {
  static const std::set<std::string> kKeys = {"listen",   "driver",  "gpus",          "placement",    "overcommit",
                                              "state_dir", "tls_cert", "tls_key",      "tls_client_ca", "admin_listen",
                                              "admin_token", "vgpu",   "limits", "module_cache_dir", "module_cache_bytes"};
  for (const auto& [key, node] : root) {
    if (!kKeys.contains(std::string(key.str()))) fail(origin, key.source(), fmt::format("unknown key '{}'", key.str()));
  }
  ServerConfig config;
  if (const toml::array* listen = arrayAt(origin, root, "listen", "URLs such as \"tcp://0.0.0.0:7600\"")) {
    for (const auto& url : *listen) config.listen.push_back(required<std::string>(origin, url, "listen URL"));
  }
  if (const toml::node* driver = root.get("driver")) config.driver = required<std::string>(origin, *driver, "driver");
  if (const toml::node* overcommit = root.get("overcommit")) {
    config.overcommit = required<bool>(origin, *overcommit, "overcommit");
  }
  if (const toml::array* gpus = arrayAt(origin, root, "gpus", "GPU ordinals")) {
    for (const auto& gpu : *gpus) {
      auto index = required<std::int64_t>(origin, gpu, "gpu index");
      if (index < 0 || index > 1024) fail(origin, gpu.source(), "a gpu index is between 0 and 1024");
      config.gpus.push_back(static_cast<int>(index));
    }
  }
  if (const toml::node* placement = root.get("placement")) {
    auto text = required<std::string>(origin, *placement, "placement");
    if (text == "binpack") config.placement = Placement::kBinpack;
    else if (text == "spread") config.placement = Placement::kSpread;
    else fail(origin, placement->source(), fmt::format("placement '{}' is not binpack or spread", text));
  }
  if (const toml::node* dir = root.get("state_dir")) config.stateDir = required<std::string>(origin, *dir, "state_dir");
  parseTls(origin, root, config);
  if (const toml::node* admin = root.get("admin_listen")) {
    config.adminListen = required<std::string>(origin, *admin, "admin_listen");
  }
  if (const toml::node* token = root.get("admin_token")) {
    config.adminTokenHash = hashToken(required<std::string>(origin, *token, "admin_token"));
  }
  if (const toml::node* limits = root.get("limits")) config.limits = parseLimits(origin, *limits);
  parseModuleCache(origin, root, config);
  std::set<std::string> names;
  if (const toml::node* vgpus = root.get("vgpu")) {
    const toml::array* list = vgpus->as_array();
    if (list == nullptr) fail(origin, vgpus->source(), "vgpu must be an array of tables: [[vgpu]]");
    for (const auto& entry : *list) {
      const toml::table* table = entry.as_table();
      if (table == nullptr) fail(origin, entry.source(), "each [[vgpu]] must be a table");
      VgpuSpec spec = parseVgpu(origin, *table);
      if (!names.insert(spec.name).second) fail(origin, table->source(), fmt::format("vGPU '{}' is defined twice", spec.name));
      config.vgpus.push_back(std::move(spec));
    }
  }
  return config;
}

// Runs a parse, turning TOML syntax errors and configuration errors into a located Status.
template <typename Parse>
auto located(Parse&& parse) -> Result<decltype(parse())> {
  try {
    return parse();
  } catch (const toml::parse_error& error) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("{}:{}:{}: {}", *error.source().path, error.source().begin.line,
                                                        error.source().begin.column, error.description()));
  } catch (const ConfigError& error) {
    return Status(CUDA_ERROR_INVALID_VALUE, error.message);
  }
}

}  // namespace

Result<ServerConfig> parseServerConfig(std::string_view text, const std::string& origin) {
  return located([&] { return parse(toml::parse(text, origin), origin); });
}

Result<VgpuSpec> parseVgpuSpec(std::string_view text, const std::string& origin) {
  return located([&] { return parseVgpu(origin, toml::parse(text, origin)); });
}

Result<VgpuSpec> patchVgpuSpec(const VgpuSpec& base, std::string_view patch, const std::string& origin) {
  return located([&] {
    std::string current = formatVgpuSpec(base);
    toml::table merged = toml::parse(std::string_view(current), std::string_view("current"));
    toml::table changes = toml::parse(patch, origin);
    if (const toml::node* name = changes.get("name"); name != nullptr && name->value<std::string>() != base.name) {
      fail(origin, name->source(), "a vGPU cannot be renamed");
    }
    if (changes.contains("tokens") || changes.contains("token_hashes")) {
      merged.erase("tokens");
      merged.erase("token_hashes");
    }
    if (changes.contains("gpu")) merged.erase("gpu");
    for (auto&& [key, value] : changes) merged.insert_or_assign(key, value);
    return parseVgpu(origin, merged);
  });
}

std::string formatVgpuSpec(const VgpuSpec& spec) {
  toml::table table;
  table.insert("name", spec.name);
  if (spec.gpuIndex) table.insert("gpu", static_cast<std::int64_t>(*spec.gpuIndex));
  else if (!spec.gpuUuid.empty()) table.insert("gpu", spec.gpuUuid);
  else table.insert("gpu", "auto");
  table.insert("memory", fmt::format("{}", spec.memoryBytes));
  table.insert("compute_share", spec.computeShare);
  if (spec.computeCapPercent) table.insert("compute_cap", *spec.computeCapPercent);
  table.insert("priority", spec.priority == Priority::kHigh ? "high" : spec.priority == Priority::kLow ? "low" : "normal");
  if (spec.maxSessions > 0) table.insert("max_sessions", static_cast<std::int64_t>(spec.maxSessions));
  if (spec.maxKernelMs > 0) table.insert("max_kernel_ms", static_cast<std::int64_t>(spec.maxKernelMs));
  toml::array hashes;
  for (const auto& hash : spec.tokenHashes) hashes.push_back(tokenHashHex(hash));
  table.insert("token_hashes", hashes);
  std::stringstream text;
  text << table << "\n";
  return text.str();
}

std::string formatVgpuState(const std::vector<VgpuSpec>& vgpus) {
  std::string text = "# fastgpu-server state: the vGPUs as the admin API last left them. Written by the server.\n";
  for (const auto& spec : vgpus) text += "\n[[vgpu]]\n" + formatVgpuSpec(spec);
  return text;
}

Result<ServerConfig> loadServerConfig(const std::string& path) {
  std::ifstream file(path);
  if (!file) return Status(CUDA_ERROR_FILE_NOT_FOUND, fmt::format("{}: cannot open the configuration file", path));
  std::stringstream text;
  text << file.rdbuf();
  return parseServerConfig(text.str(), path);
}

}  // namespace fastgpu::scheduler
