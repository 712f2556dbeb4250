// Moving a same-host TCP (or TLS) session onto shared memory. Its connection cannot carry
// descriptors, so the worker listens on a fresh Unix socket in the abstract namespace (nothing in
// the file system; it exists only in the server's network namespace) and names it, with a random
// nonce, in the Welcome — over the session's own connection, the one channel the server knows
// leads to this client. The client connects there and sends the nonce; the worker checks it
// (in constant time), and the segment follows on that socket as over a unix:// connection
// (shm.h). The socket then stays open, silent, as the session's liveness signal.
//
//   worker                                       client
//   RendezvousPoint::open()
//   Welcome {sharedMemory, rendezvous, nonce} -->
//   await(): accept, check the nonce <---------- joinRendezvous(): connect, send the nonce
//   offerSharedMemory(segment, socket) -------->  acceptSharedMemory(socket)
//
// Either side can stay on the connection instead, and both then agree without another message:
// a client that cannot connect (another network namespace: a container with its own network)
// simply sends its calls over the connection, and await() returns when they arrive; a worker
// that stops waiting (its deadline, strangers at the socket) closes the socket before sending
// anything, which joinRendezvous() reads as "stay". Anyone in the namespace can see and connect
// to the socket: a stranger without the nonce is closed on, and a few of them only cost the
// session its move, never its connection.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cudaabi/result.h"

namespace fastgpu::protocol {

inline constexpr std::size_t kRendezvousNonceBytes = 32;
// The longest socket name a client accepts from a Welcome (the abstract namespace allows 107).
inline constexpr std::size_t kMaxRendezvousName = 100;

class RendezvousPoint {
 public:
  // A listening socket under a fresh random name, and a fresh nonce.
  static Result<RendezvousPoint> open();
  RendezvousPoint(RendezvousPoint&& other) noexcept;
  RendezvousPoint& operator=(RendezvousPoint&&) = delete;
  ~RendezvousPoint();

  const std::string& name() const { return name_; }
  std::span<const std::uint8_t> nonce() const { return nonce_; }

  // Waits until the client arrives with the nonce, and returns its socket (close-on-exec, the
  // caller's). Returns nullopt — the client stays on its connection — when `connection` (a
  // descriptor poll() finds readable once the client sends there, or -1) becomes readable first,
  // when `deadline` passes, or after kMaxStrangers connections without the nonce; each of those
  // is described to `stranger` (their uid and pid, for the log). Closes the listening socket
  // before returning: nobody else can arrive.
  Result<std::optional<int>> await(int connection, std::chrono::steady_clock::time_point deadline,
                                   const std::function<void(const std::string&)>& stranger);

  static constexpr int kMaxStrangers = 8;

 private:
  RendezvousPoint(int listener, std::string name, std::array<std::uint8_t, kRendezvousNonceBytes> nonce)
      : listener_(listener), name_(std::move(name)), nonce_(nonce) {}
  // Reads a nonce from `socket` by `deadline`; whether it is ours.
  bool provesNonce(int socket, std::chrono::steady_clock::time_point deadline) const;
  void close();

  int listener_ = -1;
  std::string name_;
  std::array<std::uint8_t, kRendezvousNonceBytes> nonce_{};
};

// The client's side: connects to `name` and sends `nonce`, then waits (as long as `timeout`)
// for the worker's answer. Returns the socket, the segment's descriptor next on it (shm.h's
// acceptSharedMemory); nullopt when the worker cannot be reached (another network namespace) or
// closed the socket without offering anything: the session stays on its connection. Fails on a
// malformed name or nonce (a Welcome this client does not trust).
Result<std::optional<int>> joinRendezvous(std::string_view name, std::span<const std::uint8_t> nonce,
                                          std::chrono::milliseconds timeout);

}  // namespace fastgpu::protocol
