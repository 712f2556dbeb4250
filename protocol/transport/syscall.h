// One door for system calls: retries EINTR and turns failures into a Status with context.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "cudaabi/result.h"

namespace fastgpu::protocol {

// Runs `call` until it does not fail with EINTR. Returns its result (>= 0) or the Status
// "<what> <subject>: <strerror>", with kDisconnected for errors that mean the peer is gone. The
// message is built only on failure: this runs on the hot path.
template <typename Call>
Result<long> retrySyscall(std::string_view what, std::string_view subject, Call&& call) {
  for (;;) {
    long result = static_cast<long>(call());
    if (result >= 0) return result;
    if (errno == EINTR) continue;
    int error = errno;
    bool gone = error == EPIPE || error == ECONNRESET || error == ENOTCONN || error == ESHUTDOWN ||
                error == ECONNREFUSED || error == EBADF;
    // A socket timeout (SO_RCVTIMEO, or SO_SNDTIMEO bounding a connect) ran out.
    if (error == EAGAIN || error == EWOULDBLOCK || error == EINPROGRESS) {
      return Status(ErrorKind::kFailed, CUDA_ERROR_TIMEOUT,
                    std::string(what) + " " + std::string(subject) + " timed out");
    }
    return Status(gone ? ErrorKind::kDisconnected : ErrorKind::kFailed, CUDA_ERROR_UNKNOWN,
                  std::string(what) + " " + std::string(subject) + ": " + std::strerror(error));
  }
}

}  // namespace fastgpu::protocol
