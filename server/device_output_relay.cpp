#include "server/device_output_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

namespace fastgpu::server {

namespace {

// A pipe whose write end replaces descriptor `target`; returns its read end.
Result<int> redirect(int target) {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) return Status(CUDA_ERROR_OPERATING_SYSTEM, fmt::format("pipe: {}", std::strerror(errno)));
  (void)fcntl(ends[1], F_SETPIPE_SZ, static_cast<int>(DeviceOutputRelay::kPipeBytes));
  // Non-blocking: a full pipe drops output instead of stopping the session's thread.
  if (fcntl(ends[1], F_SETFL, O_NONBLOCK) != 0 || fcntl(ends[0], F_SETFL, O_NONBLOCK) != 0 ||
      dup2(ends[1], target) < 0) {
    int error = errno;
    close(ends[0]);
    close(ends[1]);
    return Status(CUDA_ERROR_OPERATING_SYSTEM, fmt::format("redirecting descriptor {}: {}", target, std::strerror(error)));
  }
  close(ends[1]);
  return ends[0];
}

void drain(int fd, std::string& into) {
  char buffer[65536];
  while (into.size() < DeviceOutputRelay::kPipeBytes) {
    ssize_t got = read(fd, buffer, sizeof(buffer));
    if (got <= 0) {
      if (got < 0 && errno == EINTR) continue;
      return;  // empty (EAGAIN) or closed
    }
    into.append(buffer, static_cast<std::size_t>(got));
  }
  into.resize(DeviceOutputRelay::kPipeBytes);
}

}  // namespace

Result<std::unique_ptr<DeviceOutputRelay>> DeviceOutputRelay::start() {
  std::fflush(stdout);
  std::fflush(stderr);
  int logFd = fcntl(2, F_DUPFD_CLOEXEC, 3);
  if (logFd < 0) return Status(CUDA_ERROR_OPERATING_SYSTEM, fmt::format("dup: {}", std::strerror(errno)));
  auto output = redirect(1);
  if (!output) {
    close(logFd);
    return output.status();
  }
  auto errors = redirect(2);
  if (!errors) {
    dup2(logFd, 1);
    close(*output);
    close(logFd);
    return errors.status();
  }
  return std::unique_ptr<DeviceOutputRelay>(new DeviceOutputRelay(logFd, *output, *errors));
}

DeviceOutputRelay::~DeviceOutputRelay() {
  close(outputFd_);
  close(errorsFd_);
}

DeviceOutputRelay::Taken DeviceOutputRelay::take() {
  std::fflush(stdout);
  std::fflush(stderr);
  // A write that met a full pipe left stdio's error flag set: later output must still go out.
  std::clearerr(stdout);
  std::clearerr(stderr);
  Taken taken;
  pollfd ready[] = {{outputFd_, POLLIN, 0}, {errorsFd_, POLLIN, 0}};
  if (poll(ready, 2, 0) <= 0) return taken;  // the common case: one system call
  if ((ready[0].revents & POLLIN) != 0) drain(outputFd_, taken.output);
  if ((ready[1].revents & POLLIN) != 0) drain(errorsFd_, taken.errors);
  return taken;
}

}  // namespace fastgpu::server
