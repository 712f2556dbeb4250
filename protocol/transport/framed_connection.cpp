// See framed_connection.h.
#include "protocol/transport/framed_connection.h"

#include <fmt/format.h>

namespace fastgpu::protocol {

std::size_t remainingBytes(std::span<const iovec> pieces, std::size_t first) {
  std::size_t bytes = 0;
  for (std::size_t i = first; i < pieces.size(); ++i) bytes += pieces[i].iov_len;
  return bytes;
}

std::size_t consumePieces(std::span<iovec> pieces, std::size_t first, std::size_t bytes) {
  while (first < pieces.size() && bytes >= pieces[first].iov_len) bytes -= pieces[first++].iov_len;
  if (first < pieces.size()) {
    pieces[first].iov_base = static_cast<std::uint8_t*>(pieces[first].iov_base) + bytes;
    pieces[first].iov_len -= bytes;
  }
  return first;
}

Status FramedConnection::send(std::span<const std::span<const std::uint8_t>> parts) {
  if (parts.size() > kMaxParts) return Status(CUDA_ERROR_INVALID_VALUE, "too many parts in one frame");
  std::size_t total = 0;
  for (const auto& part : parts) total += part.size();
  if (total > kMaxFrameBytes) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("frame of {} bytes exceeds {}", total, kMaxFrameBytes));
  }
  auto header = encodeFrameHeader({0, static_cast<std::uint32_t>(total)});
  iovec pieces[kMaxParts + 1];
  std::size_t count = 0;
  pieces[count++] = {header.data(), header.size()};
  for (const auto& part : parts) {
    if (!part.empty()) pieces[count++] = {const_cast<std::uint8_t*>(part.data()), part.size()};
  }
  return writeAll(std::span(pieces, count));
}

Status FramedConnection::receive(std::vector<std::uint8_t>& payload) {
  std::array<std::uint8_t, kFrameHeaderBytes> headerBytes;
  if (Status status = readExactly(headerBytes.data(), headerBytes.size()); !status) return status;
  auto header = decodeFrameHeader(headerBytes);
  if (!header) {
    shutdown();  // the stream is out of step: nothing after this can be trusted
    return Status(ErrorKind::kFailed, header.code(), header.status().message() + " from " + peer());
  }
  if (header->payloadBytes > maxFrameBytes_) {
    shutdown();  // the frame's bytes are still coming: the stream cannot be resynchronized
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE,
                  fmt::format("frame of {} bytes from {} exceeds the {} allowed now", header->payloadBytes, peer(),
                              maxFrameBytes_));
  }
  payload.resize(header->payloadBytes);
  return readExactly(payload.data(), payload.size());
}

}  // namespace fastgpu::protocol
