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
  // The standard flat-array layout, written straight into the batch: a segment table (count - 1,
  // then each size in words, padded to a word), then the segments.
  auto segments = message.getSegmentsForOutput();
  std::size_t tableWords = (segments.size() + 2) / 2;
  std::size_t words = tableWords;
  for (auto segment : segments) words += segment.size();
  std::size_t at = batch.size();
  batch.resize(at + words * sizeof(capnp::word));
  std::uint8_t* out = batch.data() + at;
  std::memset(out, 0, tableWords * sizeof(capnp::word));
  auto put = [&](std::size_t index, std::uint32_t value) { std::memcpy(out + index * 4, &value, 4); };
  put(0, static_cast<std::uint32_t>(segments.size() - 1));
  for (std::size_t i = 0; i < segments.size(); ++i) put(i + 1, static_cast<std::uint32_t>(segments[i].size()));
  out += tableWords * sizeof(capnp::word);
  for (auto segment : segments) {
    std::memcpy(out, segment.begin(), segment.size() * sizeof(capnp::word));
    out += segment.size() * sizeof(capnp::word);
  }
}

std::span<const std::uint8_t> bulkPadding(std::uint64_t bytes) {
  static constexpr std::uint8_t kZeros[sizeof(capnp::word)] = {};
  return {kZeros, (sizeof(capnp::word) - bytes % sizeof(capnp::word)) % sizeof(capnp::word)};
}

MessageCursor::MessageCursor(std::span<const std::uint8_t> payload) {
  misaligned_ = payload.size() % sizeof(capnp::word) != 0 ||
                reinterpret_cast<std::uintptr_t>(payload.data()) % alignof(capnp::word) != 0;
  remaining_ = kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word*>(payload.data()),
                                               payload.size() / sizeof(capnp::word));
}

Status MessageCursor::next(std::optional<capnp::FlatArrayMessageReader>& slot) {
  slot.reset();
  if (misaligned_) {
    remaining_ = nullptr;
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE, "malformed batch: not a whole number of words");
  }
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kTraversalLimitWords;
  options.nestingLimit = kNestingLimit;
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions([&] { slot.emplace(remaining_, options); });
  KJ_IF_MAYBE(exception, failure) {
    slot.reset();
    remaining_ = nullptr;
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE,
                  fmt::format("malformed message: {}", exception->getDescription().cStr()));
  }
  remaining_ = kj::ArrayPtr<const capnp::word>(slot->getEnd(), remaining_.end());
  return Status::ok();
}

Result<std::span<const std::uint8_t>> MessageCursor::takeBulk(std::uint64_t bytes) {
  // (Rounded up without `bytes + 7`, which wraps for a forged 2^64 - 1 and took 0 words.)
  std::uint64_t words = bytes / sizeof(capnp::word) + (bytes % sizeof(capnp::word) != 0 ? 1 : 0);
  if (misaligned_ || words > remaining_.size()) {
    remaining_ = nullptr;
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE,
                  fmt::format("malformed batch: {} bulk bytes announced, fewer present", bytes));
  }
  std::span<const std::uint8_t> bulk(reinterpret_cast<const std::uint8_t*>(remaining_.begin()), bytes);
  remaining_ = kj::ArrayPtr<const capnp::word>(remaining_.begin() + words, remaining_.end());
  return bulk;
}

}  // namespace fastgpu::protocol
