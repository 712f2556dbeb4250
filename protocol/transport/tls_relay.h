// Carries a session's bytes between a TLS stream and one end of a socket pair, whose other end a
// session's worker process holds: the TLS state cannot move to another process, so the main
// process keeps it and the worker speaks in clear over a pipe that never leaves the host.
// One thread per direction; both joined by the destructor.
//
// Ends: when the TLS peer closes or fails, the worker's end reads end-of-stream; when every
// holder of the worker's end has closed it, what it wrote is flushed to the peer, followed by
// close_notify.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "protocol/transport/tls_stream.h"

namespace fastgpu::protocol {

class TlsRelay {
 public:
  // How long the destructor lets bytes on their way to the peer (the server's last reply, a
  // refusal) drain to a peer that reads slowly or not at all.
  static constexpr std::chrono::seconds kFlushSeconds{2};

  // Takes `plainFd`. Throws std::system_error when its threads cannot start (the caller then
  // still owns nothing: `plainFd` is closed).
  TlsRelay(std::shared_ptr<TlsStream> stream, int plainFd);
  // Waits up to kFlushSeconds for the bytes on their way to the peer, then shuts the TLS stream
  // down and joins both threads.
  ~TlsRelay();
  TlsRelay(const TlsRelay&) = delete;
  TlsRelay& operator=(const TlsRelay&) = delete;

 private:
  void fromPeer();  // TLS -> plain
  void toPeer();    // plain -> TLS

  const std::shared_ptr<TlsStream> stream_;
  const int plainFd_;
  std::mutex mutex_;
  std::condition_variable flushed_;
  bool toPeerDone_ = false;  // guarded by mutex_
  std::thread fromPeer_;
  std::thread toPeer_;
};

}  // namespace fastgpu::protocol
