#include "server/worker_launch.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <map>
#include <string_view>

#include <fmt/format.h>

#include "protocol/frame.h"

extern char** environ;

namespace fastgpu::server {
namespace {

// A descriptor moved out of the way of the worker's fixed numbers (3 and 4), close-on-exec.
class HighDescriptor {
 public:
  explicit HighDescriptor(int fd) : fd_(::fcntl(fd, F_DUPFD_CLOEXEC, 10)) {}
  ~HighDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  HighDescriptor(const HighDescriptor&) = delete;
  HighDescriptor& operator=(const HighDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string joined(const std::vector<int>& values) {
  std::string text;
  for (int value : values) text += (text.empty() ? "" : ",") + std::to_string(value);
  return text;
}

// "a,b,c" -> {"a", "b", "c"}; "" -> {}.
std::vector<std::string_view> splitCommas(std::string_view text) {
  std::vector<std::string_view> fields;
  while (!text.empty()) {
    auto comma = text.find(',');
    fields.push_back(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return fields;
}

template <typename Number>
bool parseNumber(std::string_view text, Number& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<pid_t> launchWorker(const WorkerCommand& command, const WorkerSpec& spec, int connectionFd, int boardFd) {
  HighDescriptor connection(connectionFd), board(boardFd);
  if (connection.get() < 0 || board.get() < 0) {
    return Status(CUDA_ERROR_OUT_OF_MEMORY, fmt::format("out of descriptors: {}", std::strerror(errno)));
  }
  std::vector<std::string> arguments = {command.program,
                                        kWorkerFlag,
                                        "--session=" + std::to_string(spec.session),
                                        "--slot=" + std::to_string(spec.slot),
                                        "--devices=" + joined(spec.devices),
                                        "--vgpu-place=" + std::to_string(spec.vgpuPlace),
                                        "--gpu=" + std::to_string(spec.gpu),
                                        "--tenant=" + std::to_string(spec.tenant),
                                        "--peer=" + spec.peer,
                                        fmt::format("--session-limits={},{},{},{},{},{},{},{}", spec.limits.streams,
                                                    spec.limits.events, spec.limits.contexts, spec.limits.modules,
                                                    spec.limits.moduleBytes, spec.limits.silenceSeconds,
                                                    spec.limits.heartbeatSeconds, spec.limits.frameBytes),
                                        "--module-cache-bytes=" + std::to_string(spec.moduleCacheBytes),
                                        "--module-cache-dir=" + spec.moduleCacheDir,
                                        "--shared-memory=" + std::string(sharedMemoryOfferName(spec.sharedMemory)),
                                        std::string("--rdma=") + (spec.rdma ? "1" : "0"),
                                        "--driver=" + command.driverPath,
                                        "--log-level=" + command.logLevel};
  std::vector<char*> argv;
  for (auto& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, connection.get(), kWorkerConnectionFd);
  posix_spawn_file_actions_adddup2(&actions, board.get(), kWorkerBoardFd);
  // Nothing else of the main process: other tenants' sockets above all.
  posix_spawn_file_actions_addclosefrom_np(&actions, kWorkerBoardFd + 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // The main process blocks its stop signals for its signal thread; a worker starts clean.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int error = posix_spawn(&pid, command.program.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    return Status(CUDA_ERROR_OPERATING_SYSTEM,
                  fmt::format("cannot start a worker ({}): {}", command.program, std::strerror(error)));
  }
  return pid;
}

Result<WorkerSpec> parseWorkerArguments(int argc, char** argv, WorkerCommand& command) {
  std::map<std::string, std::string> values;
  for (int i = 2; i < argc; ++i) {
    std::string_view argument = argv[i];
    auto equals = argument.find('=');
    if (!argument.starts_with("--") || equals == std::string_view::npos) {
      return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("bad worker argument '{}'", argument));
    }
    values[std::string(argument.substr(2, equals - 2))] = std::string(argument.substr(equals + 1));
  }
  WorkerSpec spec;
  bool ok = parseNumber(values["session"], spec.session) && parseNumber(values["slot"], spec.slot) &&
            parseNumber(values["vgpu-place"], spec.vgpuPlace) && parseNumber(values["gpu"], spec.gpu) &&
            parseNumber(values["tenant"], spec.tenant) &&
            parseNumber(values["module-cache-bytes"], spec.moduleCacheBytes) &&
            parseSharedMemoryOffer(values["shared-memory"]).has_value() &&
            (values["rdma"] == "0" || values["rdma"] == "1");
  for (std::string_view field : splitCommas(values["devices"])) {
    int ordinal = 0;
    ok = ok && parseNumber(field, ordinal);
    spec.devices.push_back(ordinal);
  }
  std::vector<std::string_view> fields = splitCommas(values["session-limits"]);
  ok = ok && fields.size() == 8 && parseNumber(fields[0], spec.limits.streams) && parseNumber(fields[1], spec.limits.events) &&
       parseNumber(fields[2], spec.limits.contexts) && parseNumber(fields[3], spec.limits.modules) &&
       parseNumber(fields[4], spec.limits.moduleBytes) && parseNumber(fields[5], spec.limits.silenceSeconds) &&
       parseNumber(fields[6], spec.limits.heartbeatSeconds) && parseNumber(fields[7], spec.limits.frameBytes) &&
       spec.limits.frameBytes <= protocol::kMaxFrameBytes;
  if (!ok) return Status(CUDA_ERROR_INVALID_VALUE, "bad worker arguments");
  spec.peer = values["peer"];
  spec.moduleCacheDir = values["module-cache-dir"];
  spec.sharedMemory = *parseSharedMemoryOffer(values["shared-memory"]);
  spec.rdma = values["rdma"] == "1";
  command.driverPath = values["driver"];
  command.logLevel = values["log-level"];
  return spec;
}

}  // namespace fastgpu::server
