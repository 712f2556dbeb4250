// What a session worker's driver writes to stdout and stderr — the output of kernels' printf and
// the messages of failed device asserts, which a GPU's driver writes at its flush points — goes to
// the client with the next reply (Reply.deviceOutput / deviceErrors), as a local driver would
// write it into the program's own streams. Without this it would land in the server's log.
//
// start() points the worker's descriptors 1 and 2 at pipes (the worker's own log keeps the
// original stderr, logFd()). The pipes' write ends are non-blocking and hold at most 1 MiB each (a
// GPU's printf FIFO): output past that between two replies is dropped, as on a GPU, so a client's
// kernels cannot make the worker block or hold unbounded memory.
//
// Threading: the session's thread (take()).
#pragma once

#include <memory>
#include <string>

#include "cudaabi/result.h"

namespace fastgpu::server {

class DeviceOutputRelay {
 public:
  static constexpr std::size_t kPipeBytes = 1 << 20;

  static Result<std::unique_ptr<DeviceOutputRelay>> start();
  ~DeviceOutputRelay();
  DeviceOutputRelay(const DeviceOutputRelay&) = delete;
  DeviceOutputRelay& operator=(const DeviceOutputRelay&) = delete;

  // The worker's original stderr, for its log.
  int logFd() const { return logFd_; }
  // What was written to stdout and stderr since the last call (flushing stdio first).
  struct Taken {
    std::string output;
    std::string errors;
  };
  Taken take();

 private:
  DeviceOutputRelay(int logFd, int outputFd, int errorsFd) : logFd_(logFd), outputFd_(outputFd), errorsFd_(errorsFd) {}

  int logFd_;
  int outputFd_;  // the read ends
  int errorsFd_;
};

}  // namespace fastgpu::server
