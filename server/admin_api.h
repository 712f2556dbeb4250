// The HTTP admin API of fastgpu-server (docs/operations.md). Every request needs the admin token
// ("Authorization: Bearer TOKEN"); without it, or with a wrong one, the answer is 401 and nothing
// else happens. Listens on localhost by default; serves HTTPS when given the server's TLS
// certificate and key (admin_listen = "https://...").
//
//   GET    /metrics               Prometheus text: per vGPU and per GPU
//   GET    /v1/vgpus              the vGPUs, their configuration and usage (JSON)
//   POST   /v1/vgpus              creates one; body: a [[vgpu]] table's keys in TOML
//   PATCH  /v1/vgpus/NAME         changes some of its keys (TOML), live
//   DELETE /v1/vgpus/NAME         deletes it and ends its sessions
//   GET    /v1/sessions           the sessions being served (JSON)
//   GET    /v1/usage?since=UNIX&vgpu=NAME   the usage ledger: per vGPU totals and sessions
//   DELETE /v1/sessions/ID        ends a session; its resources are freed
//
// Threading: start() and stop() from the owner's thread; requests run on the HTTP library's
// threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "protocol/transport/tls_settings.h"
#include "scheduler/token.h"
#include "server/server.h"
#include "server/state_store.h"

namespace httplib {
class Server;
}

namespace fastgpu::server {

class AdminApi {
 public:
  // With `state`, every change of the vGPUs is saved there. With `tls`, the API serves HTTPS
  // with that certificate and key (and asks clients for certificates when it names client CAs).
  AdminApi(Server& server, scheduler::TokenHash token, const StateStore* state = nullptr,
           std::optional<protocol::TlsServerSettings> tls = std::nullopt);
  ~AdminApi();
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  // Listens on `url` (http://HOST:PORT or tcp://HOST:PORT; https://HOST:PORT when set up with
  // TLS; port 0 picks a free one) and serves in the background. A certificate or key that did
  // not load fails here, naming the file.
  Status start(const std::string& url);
  void stop();
  std::string url() const { return url_; }

 private:
  void routes();

  Status persist();

  Server& server_;
  const scheduler::TokenHash token_;
  const StateStore* state_;
  Status tlsSetup_;  // how setting up HTTPS went (ok without TLS)
  std::unique_ptr<httplib::Server> http_;
  const bool https_;
  std::thread thread_;
  std::string url_;
};

}  // namespace fastgpu::server
