// fastgpu-server as a child process, for tests whose client must live in a process of its own
// (the interposer reserves the server's device addresses in its process, which an in-process
// cudasim already uses). Hermetic: it listens on a port the system picks, on loopback.
//
// Threading: create and destroy on one thread.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

extern char** environ;

namespace fastgpu::testing {

class ServerProcess {
 public:
  // Starts `binary` on cudasim `driver` with `environment` added to this process's; waits (at
  // most 30 s, as the server's own start-up limit) for its "listening on URL" line.
  ServerProcess(const std::string& binary, const std::string& driver, const std::map<std::string, std::string>& environment) {
    int pipeFds[2];
    if (pipe(pipeFds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipeFds[0]);
    std::vector<std::string> variables;
    for (char** entry = environ; *entry != nullptr; ++entry) variables.emplace_back(*entry);
    for (const auto& [name, value] : environment) variables.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& variable : variables) envp.push_back(variable.data());
    envp.push_back(nullptr);
    // No grace at the end: the test's own clients may still be connected.
    std::vector<std::string> arguments = {binary,       "--listen",  "tcp://127.0.0.1:0", "--driver", driver,
                                          "--log-level", "warn",     "--shutdown-grace",  "0"};
    std::vector<char*> argv;
    for (auto& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(pipeFds[1]);
    output_ = fdopen(pipeFds[0], "r");
    char line[512] = {};
    if (pid_ > 0 && output_ != nullptr && std::fgets(line, sizeof(line), output_) != nullptr) {
      std::string text(line);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      url_ = text.substr(text.rfind(' ') + 1);
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    // Open until the server is gone: a later line on its stdout must not meet a closed pipe.
    if (output_ != nullptr) std::fclose(output_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // The server's URL ("tcp://127.0.0.1:PORT"); empty when it did not start.
  const std::string& url() const { return url_; }
  // Its process (to stop and continue it: a frozen server).
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  FILE* output_ = nullptr;
  std::string url_;
};

}  // namespace fastgpu::testing
