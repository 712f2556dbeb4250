// Fuzz target: raw HTTP requests to the admin API of a server on cudasim with two vGPUs — the
// request line, headers, the bearer token, ids and names in paths, TOML bodies — over a real
// loopback connection. Answers are 2xx/4xx with a JSON body; nothing may crash or leak. The
// corpus carries the admin token ("fuzz-admin"), so that inputs reach the handlers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "scheduler/server_config.h"
#include "server/admin_api.h"
#include "server/logging.h"
#include "server/server.h"

using namespace fastgpu;

namespace {

server::Server* theServer = nullptr;
server::AdminApi* admin = nullptr;
int port = 0;

const char* kConfig = R"(
[[vgpu]]
name = "team-a"
memory = "1GiB"
tokens = ["t"]

[[vgpu]]
name = "team-b"
memory = "1GiB"
compute_cap = 50
tokens = ["t"]
)";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("FASTGPU_SIM_MEMORY", "4GiB", 1);
  server::serverLogger()->set_level(spdlog::level::off);
  auto config = scheduler::parseServerConfig(kConfig, "fuzz.toml");
  auto driver = server::LoadedDriver::load(FASTGPU_CUDASIM_LIBRARY);
  if (!config || !driver) std::abort();
  auto gpus = (*driver)->devices({});
  auto registry = scheduler::VgpuRegistry::create(config->vgpus, *gpus, config->placement);
  if (!registry) std::abort();
  std::vector<std::unique_ptr<protocol::Listener>> none;
  // Never run: the admin API's handlers are what is fuzzed (sessions are listed, none exist).
  theServer = new server::Server(std::move(*driver), std::move(*registry), std::move(none));
  admin = new server::AdminApi(*theServer, scheduler::hashToken("fuzz-admin"));
  if (!admin->start("tcp://127.0.0.1:0")) std::abort();
  port = std::stoi(admin->url().substr(admin->url().rfind(':') + 1));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (64u << 10)) return 0;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Tens of thousands of connections a second can use up the host's ephemeral ports (closed
  // connections wait in TIME_WAIT): a connect that fails is the harness's limit, not the API's, so
  // the input is skipped rather than reported as a crash (a CI run once aborted here).
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return 0;
  }
  timeval patience{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
  (void)::send(fd, data, size, MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  char sink[65536];
  while (::recv(fd, sink, sizeof(sink), 0) > 0) {
  }
  ::close(fd);
  return 0;
}
