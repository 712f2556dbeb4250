#include "server/login.h"

#include <capnp/message.h>

#include <chrono>
#include <ctime>
#include <optional>

#include <fmt/format.h>

#include "protocol/frame.h"
#include "protocol/message.h"
#include "protocol/schema/fastgpu.capnp.h"
#include "server/logging.h"

namespace fastgpu::server {
namespace {

// Receives the Hello frame: before login a peer gets a small frame and a few seconds, so that a
// huge announced frame or a Hello sent a byte at a time costs the server nothing lasting.
Status receiveHello(protocol::Connection& connection, const scheduler::ServerLimits& limits,
                    std::vector<std::uint8_t>& payload) {
  connection.setMaxFrameBytes(limits.helloBytes);
  connection.setReceiveDeadline(std::chrono::steady_clock::now() +
                                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(limits.handshakeSeconds)));
  Status received = connection.receive(payload);
  connection.setReceiveDeadline(std::nullopt);
  connection.setMaxFrameBytes(protocol::kMaxFrameBytes);
  return received;
}

}  // namespace

void sendRefusal(protocol::Connection& connection, const Status& refusal, std::uint64_t session, int driverVersion) {
  capnp::MallocMessageBuilder builder;
  auto welcome = builder.initRoot<wire::Welcome>();
  welcome.setProtocolVersion(wire::PROTOCOL_VERSION);
  welcome.setSession(session);
  welcome.setDriverVersion(driverVersion);
  welcome.setResult(refusal.code());
  welcome.setMessage(refusal.message());
  std::vector<std::uint8_t> bytes;
  protocol::appendMessage(builder, bytes);
  (void)connection.send(bytes);  // the connection ends next either way
}

Result<std::unique_ptr<scheduler::VgpuLease>> login(protocol::Connection& connection, scheduler::VgpuRegistry& registry,
                                                    const scheduler::ServerLimits& limits, LoginThrottle& throttle,
                                                    int driverVersion, SessionInfo& info) {
  auto log = serverLogger();
  std::vector<std::uint8_t> payload;
  if (Status received = receiveHello(connection, limits, payload); !received) {
    log->warn("session={} peer={} refused before login: {}", info.id, connection.peer(), escapeForLog(received.message()));
    return received;
  }
  // Over TLS with client certificates: who the peer proved to be, next to what it says.
  std::string identity = connection.peerIdentity();
  if (!identity.empty()) log->info("session={} peer={} certificate {}", info.id, connection.peer(), escapeForLog(identity, 256));
  protocol::MessageCursor cursor(payload);
  std::optional<capnp::FlatArrayMessageReader> message;
  if (Status status = cursor.next(message); !status) return status;
  // Everything read from the Hello is read here, inside the decoder's guard: a malformed one
  // (a text without its terminator, a pointer out of bounds) is a refusal, never an exception.
  std::uint32_t protocolVersion = 0;
  std::string vgpu, token;
  Status decoded = protocol::decodeSafely("hello", [&] {
    auto hello = message->getRoot<wire::Hello>();
    protocolVersion = hello.getProtocolVersion();
    // Bounded, whatever the client sent (host names are at most 253; vGPU names 64).
    vgpu = std::string(hello.getVgpu().cStr()).substr(0, 256);
    token = std::string(hello.getToken().cStr()).substr(0, 4096);
    info.vgpu = vgpu.substr(0, 64);
    info.host = std::string(hello.getHost().cStr()).substr(0, 255);
    info.pid = hello.getPid();
    info.sharedMemoryAsked = hello.getSharedMemory();
    info.rdmaAsked = hello.getRdma();
    info.startedUnix = std::time(nullptr);
    log->info("session={} hello host={} pid={} cuda={} vgpu={}", info.id, escapeForLog(info.host, 64), info.pid,
              hello.getCudaVersion(), escapeForLog(vgpu, 64));
    return Status::ok();
  });
  if (!decoded) {
    log->warn("session={} peer={} refused: {}", info.id, connection.peer(), escapeForLog(decoded.message()));
    return decoded;
  }

  std::string address = LoginThrottle::addressOf(info.peer);
  std::string reason;
  Result<std::unique_ptr<scheduler::VgpuLease>> lease =
      protocolVersion != wire::PROTOCOL_VERSION
          ? Status(CUDA_ERROR_NOT_SUPPORTED, fmt::format("protocol version {} is not supported (the server speaks {})",
                                                         protocolVersion, wire::PROTOCOL_VERSION))
      : !throttle.allows(address)
          ? Status(CUDA_ERROR_NOT_PERMITTED, "too many failed logins from this address; try again in a minute")
          : registry.admit(vgpu, token, &reason);
  if (reason == "unknown_vgpu" || reason == "wrong_token") throttle.failed(address);
  if (!lease) {
    // The operator's log tells an unknown vGPU from a wrong token; the client's answer does not.
    log->warn("session={} peer={} refused{}: {}", info.id, connection.peer(), reason.empty() ? "" : " (" + reason + ")",
              escapeForLog(lease.status().message()));
    sendRefusal(connection, lease.status(), info.id, driverVersion);
    return lease.status();
  }
  info.admitted = true;
  log->info("session={} admitted vgpu={}", info.id, escapeForLog(info.vgpu, 64));
  return lease;
}

}  // namespace fastgpu::server
