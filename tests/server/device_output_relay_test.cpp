// The relay of a worker's stdout and stderr: what is written there comes back whole and in order,
// the worker's log keeps the original stderr, and a flood of output is cut at the bound instead
// of blocking the writer or growing without limit. Each case runs in a child process, whose
// descriptors 1 and 2 it may redirect.
#include "server/device_output_relay.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace fastgpu::server {
namespace {

// Runs `check` in a child; the child's exit code is the number of failed expectations.
template <typename Check>
int inChild(Check&& check) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t child = fork();
  if (child == 0) std::_Exit(check());
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(DeviceOutputRelay, WhatTheWorkerPrintsComesBackWithTheNextReply) {
  EXPECT_EQ(inChild([] {
              auto relay = DeviceOutputRelay::start();
              if (!relay) return 50;
              int failed = 0;
              std::printf("block 0 says 3\n");
              std::fprintf(stderr, "Assertion `value > 0` failed.\n");
              auto taken = (*relay)->take();
              failed += taken.output != "block 0 says 3\n";
              failed += taken.errors != "Assertion `value > 0` failed.\n";
              taken = (*relay)->take();
              failed += !taken.output.empty() || !taken.errors.empty();
              failed += write((*relay)->logFd(), "", 0) != 0;  // the log's descriptor is open
              return failed;
            }),
            0);
}

TEST(DeviceOutputRelay, AFloodIsCutAtTheBoundWithoutBlockingTheWriter) {
  EXPECT_EQ(inChild([] {
              auto relay = DeviceOutputRelay::start();
              if (!relay) return 50;
              int failed = 0;
              std::string line(1000, 'x');
              line += '\n';
              for (int i = 0; i < 4000; ++i) std::fwrite(line.data(), 1, line.size(), stdout);  // 4 MB
              auto taken = (*relay)->take();
              failed += taken.output.size() > DeviceOutputRelay::kPipeBytes;
              failed += taken.output.empty();
              std::printf("after\n");  // the stream still works after a full pipe
              taken = (*relay)->take();
              failed += taken.output.find("after\n") == std::string::npos;
              return failed;
            }),
            0);
}

}  // namespace
}  // namespace fastgpu::server
