// The main process's half of starting a session (DESIGN.md, decisions 3 and 14): read the Hello
// within the login limits (frame size, deadline), check the protocol version, and admit the client
// to a vGPU. A refused client is told why in a Welcome, and its connection ends; an admitted one
// is handed to a worker process, which greets it (session.h).
//
// Threading: any thread; one connection per call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "protocol/transport/transport.h"
#include "scheduler/server_config.h"
#include "scheduler/vgpu_registry.h"
#include "server/login_throttle.h"

namespace fastgpu::server {

// What the admin API shows of a session.
struct SessionInfo {
  std::uint64_t id = 0;
  std::string peer;
  std::string vgpu;
  std::string host;
  std::uint32_t pid = 0;
  std::int64_t startedUnix = 0;
  bool admitted = false;
  bool sharedMemoryAsked = false;  // the Hello asked to move onto shared memory
  bool rdmaAsked = false;          // the Hello asked to move onto RDMA
};

struct Login {
  SessionInfo info;  // what the client said about itself, bounded
  std::unique_ptr<scheduler::VgpuLease> lease;
};

// Reads and checks the Hello on `connection` and admits its client; `info` is filled in as far as
// the Hello was read, also when the login fails. Refusals are logged with the peer's address;
// failed logins (unknown vGPU, wrong token) count against the peer's address in `throttle`, and
// a throttled address is refused without its token being looked at.
Result<std::unique_ptr<scheduler::VgpuLease>> login(protocol::Connection& connection, scheduler::VgpuRegistry& registry,
                                                    const scheduler::ServerLimits& limits, LoginThrottle& throttle,
                                                    int driverVersion, SessionInfo& info);

// Tells a client that it is refused, and why (a Welcome with the error); the caller then ends
// the connection.
void sendRefusal(protocol::Connection& connection, const Status& refusal, std::uint64_t session, int driverVersion);

}  // namespace fastgpu::server
