#include "protocol/message.h"

#include <cstring>

#include <fmt/format.h>

namespace fastgpu::protocol {
namespace {

// Limits what one message may make a reader traverse or nest: a forged message cannot make
// decoding take unbounded time.
constexpr std::uint64_t kTraversalLimitWords = 16ULL << 20;  // 128 MiB of reads
constexpr int kNestingLimit = 32;

}  // namespace

void appendMessage(capnp::MessageBuilder& message, std::vector<std::uint8_t>& batch) {
  // TODO(perf): write the segments straight into the batch instead of through a flat array.
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  batch.insert(batch.end(), bytes.begin(), bytes.end());
}

MessageCursor::MessageCursor(std::span<const std::uint8_t> payload) {
  misaligned_ = payload.size() % sizeof(capnp::word) != 0 ||
                reinterpret_cast<std::uintptr_t>(payload.data()) % alignof(capnp::word) != 0;
  remaining_ = kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word*>(payload.data()),
                                               payload.size() / sizeof(capnp::word));
}

Result<std::unique_ptr<capnp::FlatArrayMessageReader>> MessageCursor::next() {
  if (misaligned_) {
    remaining_ = nullptr;
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE, "malformed batch: not a whole number of words");
  }
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kTraversalLimitWords;
  options.nestingLimit = kNestingLimit;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader;
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions(
      [&] { reader = std::make_unique<capnp::FlatArrayMessageReader>(remaining_, options); });
  KJ_IF_MAYBE(exception, failure) {
    remaining_ = nullptr;
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE,
                  fmt::format("malformed message: {}", exception->getDescription().cStr()));
  }
  const capnp::word* end = reader->getEnd();
  remaining_ = kj::ArrayPtr<const capnp::word>(end, remaining_.end());
  return reader;
}

}  // namespace fastgpu::protocol
