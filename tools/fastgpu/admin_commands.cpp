#include "tools/fastgpu/admin_commands.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <thread>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

namespace fastgpu::tools {
namespace {

struct AdminOptions {
  std::string url;
  std::string token;
  bool json = false;
};

std::string environment(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

void addConnectionOptions(CLI::App* command, AdminOptions& options) {
  command->add_option("--admin", options.url, "the admin API (default $FASTGPU_ADMIN, else http://127.0.0.1:7601); for https://, "
                      "$FASTGPU_TLS_CA names the CA to trust");
  command->add_option("--admin-token", options.token, "the admin token (default $FASTGPU_ADMIN_TOKEN)");
  command->add_flag("--json", options.json, "print the server's JSON");
}

// Sends a request; prints the error and exits non-zero unless the answer is 2xx.
nlohmann::json request(const AdminOptions& given, const std::string& method, const std::string& path,
                       const std::string& body = "") {
  std::string url = given.url.empty() ? environment("FASTGPU_ADMIN", "http://127.0.0.1:7601") : given.url;
  std::string token = given.token.empty() ? environment("FASTGPU_ADMIN_TOKEN", "") : given.token;
  httplib::Client client(url);
  // https://: the server's certificate must chain to FASTGPU_TLS_CA, else to the system's store.
  if (std::string ca = environment("FASTGPU_TLS_CA", ""); !ca.empty()) client.set_ca_cert_path(ca);
  client.set_bearer_token_auth(token);
  client.set_connection_timeout(5);
  httplib::Result result = method == "GET"      ? client.Get(path)
                           : method == "DELETE" ? client.Delete(path)
                           : method == "PATCH"  ? client.Patch(path, body, "application/toml")
                                                : client.Post(path, body, "application/toml");
  if (!result) {
    fmt::print(stderr, "fastgpu: cannot reach the admin API at {}: {}\n", url, httplib::to_string(result.error()));
    std::exit(1);
  }
  nlohmann::json answer = nlohmann::json::parse(result->body, nullptr, false);
  if (result->status / 100 != 2) {
    std::string why = answer.is_object() && answer.contains("error") ? answer["error"].get<std::string>() : result->body;
    fmt::print(stderr, "fastgpu: {} {} failed ({}): {}\n", method, path, result->status, why);
    std::exit(1);
  }
  return answer;
}

std::string humanSize(std::uint64_t bytes) {
  if (bytes >= (1ULL << 30) && bytes % (1ULL << 20) == 0) return fmt::format("{:.2f}GiB", bytes / double(1ULL << 30));
  return fmt::format("{:.1f}MiB", bytes / double(1ULL << 20));
}

void printVgpus(const nlohmann::json& list) {
  fmt::print("{:<16} {:>4} {:>12} {:>12} {:>6} {:>5} {:<7} {:>9} {:>11} {:>10}\n", "VGPU", "GPU", "MEMORY", "USED",
             "SHARE", "CAP", "PRIO", "SESSIONS", "GPU-SEC", "LAUNCHES");
  for (const auto& v : list) {
    std::string cap = v["compute_cap"].is_null() ? "-" : fmt::format("{:.0f}%", v["compute_cap"].get<double>());
    fmt::print("{:<16} {:>4} {:>12} {:>12} {:>6} {:>5} {:<7} {:>9} {:>11.3f} {:>10}\n", v["name"].get<std::string>(),
               v["gpu"].get<int>(), humanSize(v["memory_limit_bytes"].get<std::uint64_t>()), humanSize(v["memory_used_bytes"].get<std::uint64_t>()),
               v["compute_share"].get<double>(), cap, v["priority"].get<std::string>(), v["sessions"].get<int>(),
               v["gpu_seconds"].get<double>(), v["launches"].get<std::uint64_t>());
  }
}

// The TOML keys of `fastgpu vgpu create/update` options that were given.
struct VgpuOptions {
  std::string name;
  std::string memory, gpu, priority;
  std::optional<double> share, cap;
  std::optional<int> maxSessions;
  std::vector<std::string> tokens;

  std::string toml(bool withName) const {
    std::string text;
    auto quoted = [](const std::string& value) { return nlohmann::json(value).dump(); };  // a valid TOML string
    if (withName) text += fmt::format("name = {}\n", quoted(name));
    if (!memory.empty()) text += fmt::format("memory = {}\n", quoted(memory));
    if (!gpu.empty()) {
      bool index = !gpu.empty() && gpu.find_first_not_of("0123456789") == std::string::npos;
      text += fmt::format("gpu = {}\n", index ? gpu : quoted(gpu));
    }
    if (share) text += fmt::format("compute_share = {}\n", *share);
    if (cap) text += fmt::format("compute_cap = {}\n", *cap);
    if (!priority.empty()) text += fmt::format("priority = {}\n", quoted(priority));
    if (maxSessions) text += fmt::format("max_sessions = {}\n", *maxSessions);
    if (!tokens.empty()) {
      text += "tokens = [";
      for (std::size_t i = 0; i < tokens.size(); ++i) text += (i ? ", " : "") + quoted(tokens[i]);
      text += "]\n";
    }
    return text;
  }
};

void addVgpuOptions(CLI::App* command, VgpuOptions& v, bool create) {
  command->add_option("name", v.name, "the vGPU's name")->required();
  auto* memory = command->add_option("--memory", v.memory, "memory quota, e.g. 8GiB");
  if (create) memory->required();
  if (create) command->add_option("--gpu", v.gpu, "a GPU ordinal, a UUID, or auto (default)");
  command->add_option("--share", v.share, "compute share (a weight)");
  command->add_option("--cap", v.cap, "compute cap, percent of the GPU's time");
  command->add_option("--priority", v.priority, "high, normal or low");
  command->add_option("--max-sessions", v.maxSessions, "client processes at once");
  auto* tokens = command->add_option("--token", v.tokens, "an access token (repeatable; replaces the old ones)");
  if (create) tokens->required();
}

}  // namespace

void addAdminCommands(CLI::App& app) {
  auto options = std::make_shared<AdminOptions>();
  auto vgpu = std::make_shared<VgpuOptions>();
  auto sessionId = std::make_shared<std::uint64_t>(0);

  CLI::App* vgpus = app.add_subcommand("vgpu", "List, create, update and delete vGPUs (over the admin API)");
  vgpus->require_subcommand(1);
  CLI::App* list = vgpus->add_subcommand("list", "List the vGPUs with their usage");
  addConnectionOptions(list, *options);
  list->callback([options] {
    auto answer = request(*options, "GET", "/v1/vgpus");
    if (options->json) fmt::print("{}\n", answer.dump(2));
    else printVgpus(answer);
  });
  CLI::App* create = vgpus->add_subcommand("create", "Create a vGPU, live");
  addConnectionOptions(create, *options);
  addVgpuOptions(create, *vgpu, true);
  create->callback([options, vgpu] {
    auto answer = request(*options, "POST", "/v1/vgpus", vgpu->toml(true));
    if (options->json) fmt::print("{}\n", answer.dump(2));
    else fmt::print("created vGPU {} on GPU {}\n", answer["name"].get<std::string>(), answer["gpu"].get<int>());
  });
  CLI::App* update = vgpus->add_subcommand("update", "Change a vGPU, live (a smaller quota frees nothing)");
  addConnectionOptions(update, *options);
  addVgpuOptions(update, *vgpu, false);
  update->callback([options, vgpu] {
    auto answer = request(*options, "PATCH", "/v1/vgpus/" + vgpu->name, vgpu->toml(false));
    if (options->json) fmt::print("{}\n", answer.dump(2));
    else fmt::print("updated vGPU {}\n", vgpu->name);
  });
  CLI::App* remove = vgpus->add_subcommand("delete", "Delete a vGPU; its sessions end");
  addConnectionOptions(remove, *options);
  remove->add_option("name", vgpu->name, "the vGPU's name")->required();
  remove->callback([options, vgpu] {
    request(*options, "DELETE", "/v1/vgpus/" + vgpu->name);
    fmt::print("deleted vGPU {}\n", vgpu->name);
  });

  auto since = std::make_shared<std::string>();
  auto vgpuFilter = std::make_shared<std::string>();
  CLI::App* usage = app.add_subcommand("usage", "GPU time, memory and bytes used, from the server's usage ledger");
  addConnectionOptions(usage, *options);
  usage->add_option("--since", *since, "unix seconds, or a duration back from now: 90s, 30m, 12h, 7d");
  usage->add_option("--vgpu", *vgpuFilter, "one vGPU only");
  usage->callback([options, since, vgpuFilter] {
    double from = 0;
    if (!since->empty()) {
      char unit = since->back();
      double amount = std::atof(since->c_str());
      double scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 0;
      from = scale > 0 ? static_cast<double>(std::time(nullptr)) - amount * scale : amount;
    }
    std::string path = fmt::format("/v1/usage?since={:.0f}", from);
    if (!vgpuFilter->empty()) path += "&vgpu=" + httplib::detail::encode_query_param(*vgpuFilter);
    auto answer = request(*options, "GET", path);
    if (options->json) {
      fmt::print("{}\n", answer.dump(2));
      return;
    }
    fmt::print("{:<16} {:>9} {:>12} {:>14} {:>14} {:>14} {:>10}\n", "VGPU", "SESSIONS", "GPU-SEC", "MEM-GIB-SEC",
               "TO-DEVICE", "FROM-DEVICE", "LAUNCHES");
    for (const auto& v : answer["vgpus"]) {
      fmt::print("{:<16} {:>9} {:>12.3f} {:>14.3f} {:>14} {:>14} {:>10}\n", v["vgpu"].get<std::string>(),
                 v["sessions"].get<std::uint64_t>(), v["gpu_seconds"].get<double>(), v["memory_gib_seconds"].get<double>(),
                 humanSize(v["bytes_to_device"].get<std::uint64_t>()),
                 humanSize(v["bytes_from_device"].get<std::uint64_t>()), v["launches"].get<std::uint64_t>());
    }
  });

  auto interval = std::make_shared<double>(1.0);
  auto count = std::make_shared<int>(0);
  CLI::App* top = app.add_subcommand("top", "A live view per vGPU: sessions, memory, GPU share, launches");
  addConnectionOptions(top, *options);
  top->add_option("--interval", *interval, "seconds between refreshes (default 1)")->check(CLI::PositiveNumber);
  top->add_option("--count", *count, "stop after this many refreshes (default: run until interrupted)");
  top->callback([options, interval, count] {
    bool terminal = isatty(STDOUT_FILENO) != 0;
    std::map<std::string, std::pair<double, std::uint64_t>> previous;  // gpu seconds, launches
    auto last = std::chrono::steady_clock::now();
    for (int refresh = 0; *count == 0 || refresh < *count + 1; ++refresh) {
      auto answer = request(*options, "GET", "/v1/vgpus");
      auto now = std::chrono::steady_clock::now();
      double elapsed = std::chrono::duration<double>(now - last).count();
      last = now;
      if (refresh > 0) {  // the first sample only sets the baseline
        if (terminal) fmt::print("\033[H\033[2J");
        std::time_t wall = std::time(nullptr);
        char stamp[32];
        std::strftime(stamp, sizeof(stamp), "%H:%M:%S", std::localtime(&wall));
        fmt::print("fastgpu top  {}  every {:.1f}s\n", stamp, *interval);
        fmt::print("{:<16} {:>4} {:>9} {:>12} {:>12} {:>10} {:>12}\n", "VGPU", "GPU", "SESSIONS", "MEMORY", "USED",
                   "GPU-SHARE", "LAUNCHES/S");
        for (const auto& v : answer) {
          std::string name = v["name"].get<std::string>();
          double gpu = v["gpu_seconds"].get<double>();
          std::uint64_t launches = v["launches"].get<std::uint64_t>();
          auto [gpuBefore, launchesBefore] = previous.count(name) ? previous[name] : std::make_pair(gpu, launches);
          fmt::print("{:<16} {:>4} {:>9} {:>12} {:>12} {:>9.1f}% {:>12.0f}\n", name, v["gpu"].get<int>(),
                     v["sessions"].get<int>(), humanSize(v["memory_limit_bytes"].get<std::uint64_t>()),
                     humanSize(v["memory_used_bytes"].get<std::uint64_t>()), 100 * (gpu - gpuBefore) / elapsed,
                     static_cast<double>(launches - launchesBefore) / elapsed);
        }
        std::fflush(stdout);
      }
      for (const auto& v : answer) {
        previous[v["name"].get<std::string>()] = {v["gpu_seconds"].get<double>(), v["launches"].get<std::uint64_t>()};
      }
      if (*count != 0 && refresh == *count) break;
      std::this_thread::sleep_for(std::chrono::duration<double>(*interval));
    }
  });

  CLI::App* sessions = app.add_subcommand("session", "List and evict client sessions (over the admin API)");
  sessions->require_subcommand(1);
  CLI::App* listSessions = sessions->add_subcommand("list", "List the sessions being served");
  addConnectionOptions(listSessions, *options);
  listSessions->callback([options] {
    auto answer = request(*options, "GET", "/v1/sessions");
    if (options->json) {
      fmt::print("{}\n", answer.dump(2));
      return;
    }
    fmt::print("{:>8} {:<16} {:<24} {:<16} {:>8}\n", "SESSION", "VGPU", "PEER", "HOST", "PID");
    for (const auto& s : answer) {
      fmt::print("{:>8} {:<16} {:<24} {:<16} {:>8}\n", s["id"].get<std::uint64_t>(), s["vgpu"].get<std::string>(),
                 s["peer"].get<std::string>(), s["host"].get<std::string>(), s["pid"].get<std::uint32_t>());
    }
  });
  CLI::App* evict = sessions->add_subcommand("evict", "End a session; its resources are freed");
  addConnectionOptions(evict, *options);
  evict->add_option("id", *sessionId, "the session")->required();
  evict->callback([options, sessionId] {
    request(*options, "DELETE", "/v1/sessions/" + std::to_string(*sessionId));
    fmt::print("evicted session {}\n", *sessionId);
  });
}

}  // namespace fastgpu::tools
