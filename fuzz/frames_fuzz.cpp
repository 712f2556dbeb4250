// Fuzz target: bytes as a server's connection receives them — frame headers, payloads, the
// messages in them, the bulk bytes after copies — through the real receive path (a socketpair)
// and the same decoder calls the session makes. Nothing may crash, hang or allocate beyond the
// frame limit.
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include <capnp/message.h>

#include "protocol/frame.h"
#include "protocol/message.h"
#include "protocol/schema/fastgpu.capnp.h"
#include "protocol/transport/transport.h"

using namespace fastgpu;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (128u << 10)) return 0;  // within a socketpair's buffer: written before it is read
  auto [sender, receiver] = protocol::loopbackPair();
  receiver->setMaxFrameBytes(1u << 20);
  receiver->setIdleTimeout(std::chrono::milliseconds(50));
  // The input is the byte stream itself, written raw (headers included) on the sending socket.
  int fd = sender->detach();
  std::size_t sent = 0;
  while (sent < size) {
    ssize_t wrote = ::write(fd, data + sent, size - sent);
    if (wrote <= 0) break;
    sent += static_cast<std::size_t>(wrote);
  }
  ::close(fd);
  std::vector<std::uint8_t> payload;
  while (receiver->receive(payload)) {
    protocol::MessageCursor cursor(payload);
    std::optional<capnp::FlatArrayMessageReader> message;
    while (!cursor.done()) {
      if (!cursor.next(message)) break;
      Status decoded = protocol::decodeSafely("call", [&] {
        auto call = message->getRoot<wire::Call>();
        (void)call.which();
        (void)call.getContext();
        if (call.isCopy() && call.getCopy().getSrc() == 0) {
          auto taken = cursor.takeBulk(call.getCopy().getBytes());
          if (!taken) return taken.status();
        }
        if (call.isCopy2D()) (void)call.getCopy2D().getData().size();
        if (call.isModuleLoad()) (void)call.getModuleLoad().size();
        return Status::ok();
      });
      if (!decoded) break;
    }
  }
  return 0;
}
