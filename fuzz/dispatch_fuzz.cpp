// Fuzz target: one frame of calls from a logged-in client, served by a real Session on cudasim
// (open server: every device, no quota) — decoding, handle lookups, range checks, checked
// arithmetic, the driver calls. The frame is the input; the session must end it with replies or
// a logged reason, never a crash, a hang or memory it cannot account for.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include "protocol/frame.h"
#include "protocol/transport/transport.h"
#include "scheduler/shared_board.h"
#include "server/loaded_driver.h"
#include "server/logging.h"
#include "server/session.h"

using namespace fastgpu;

namespace {

server::LoadedDriver* driver = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("FASTGPU_SIM_MEMORY", "256MiB", 1);
  setenv("FASTGPU_SIM_DEVICES", "2", 1);
  server::serverLogger()->set_level(spdlog::level::off);
  auto loaded = server::LoadedDriver::load(FASTGPU_CUDASIM_LIBRARY);
  if (!loaded) std::abort();
  driver = loaded->release();  // lives as long as the fuzzer
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (4u << 20)) return 0;
  auto [client, served] = protocol::loopbackPair();
  scheduler::SessionSlot slot;
  std::vector<scheduler::PhysicalGpu> devices = {{0, {}, 0}, {1, {}, 0}};
  scheduler::SessionLimits limits;
  limits.silenceSeconds = 1;
  limits.frameBytes = 16u << 20;
  server::Session session(std::move(served), driver->api(), std::make_unique<scheduler::VgpuAccess>(devices, slot), 1,
                          limits);
  // The client's side, raw: it sends the input as one frame and half-closes (the session then
  // sees the end after serving it), and reads everything the session sends (the Welcome, replies,
  // bulk data) so that the session never waits on a full socket.
  int fd = client->detach();
  std::thread reader([fd] {
    char sink[65536];
    while (::read(fd, sink, sizeof(sink)) > 0) {
    }
  });
  auto header = protocol::encodeFrameHeader({0, static_cast<std::uint32_t>(size)});
  std::vector<std::uint8_t> frame(header.begin(), header.end());
  frame.insert(frame.end(), data, data + size);
  std::thread writer([fd, &frame] {
    std::size_t sent = 0;
    while (sent < frame.size()) {
      ssize_t wrote = ::write(fd, frame.data() + sent, frame.size() - sent);
      if (wrote <= 0) break;
      sent += static_cast<std::size_t>(wrote);
    }
    ::shutdown(fd, SHUT_WR);
  });
  (void)session.run();
  writer.join();
  reader.join();
  ::close(fd);
  return 0;
}
