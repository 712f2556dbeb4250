// The message decoder against forged input: nesting and traversal limits (a message cannot make
// the reader follow pointers without end, or read the same bytes over and over), bulk bytes
// that are announced but missing, and payloads that are not whole words.
#include "protocol/message.h"

#include <capnp/message.h>

#include <cstring>

#include <gtest/gtest.h>

#include "tests/protocol/decoder_test.capnp.h"

namespace fastgpu::protocol {
namespace {

using decodertest::Blobs;
using decodertest::Node;

std::vector<std::uint8_t> encode(capnp::MessageBuilder& message) {
  std::vector<std::uint8_t> bytes;
  appendMessage(message, bytes);
  return bytes;
}

// A chain of `depth` nodes; the reader walks to its end.
Status walkChain(int depth) {
  capnp::MallocMessageBuilder message;
  auto node = message.initRoot<Node>();
  for (int i = 1; i < depth; ++i) node = node.initChild();
  node.setValue(7);
  auto bytes = encode(message);
  MessageCursor cursor(bytes);
  std::optional<capnp::FlatArrayMessageReader> reader;
  if (Status status = cursor.next(reader); !status) return status;
  return decodeSafely("chain", [&] {
    auto at = reader->getRoot<Node>();
    while (at.hasChild()) at = at.getChild();
    return at.getValue() == 7 ? Status::ok() : Status(CUDA_ERROR_UNKNOWN, "lost the end of the chain");
  });
}

TEST(MessageDecoder, ModerateNestingDecodes) { EXPECT_TRUE(walkChain(20)); }

TEST(MessageDecoder, DeepNestingIsRefusedWithAReason) {
  Status status = walkChain(40);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.kind(), ErrorKind::kFailed);
  EXPECT_NE(status.message().find("malformed chain"), std::string::npos) << status.message();
}

// A Blobs message whose `count` items all point at the same `blobWords` words of data: small on
// the wire, `count` times larger to read. Written word by word, as a forger would.
std::vector<std::uint8_t> aliasedBlobs(std::uint32_t count, std::uint32_t blobWords) {
  std::vector<std::uint64_t> words;
  auto listPointer = [](std::int32_t offsetWords, std::uint64_t elementSize, std::uint64_t elements) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(offsetWords)) << 2) | 1 | (elementSize << 32) |
           (elements << 35);
  };
  std::uint64_t segmentWords = 1 + 1 + count + blobWords;  // root, the struct's pointer, items, blob
  words.push_back(segmentWords << 32);  // segment table: one segment (count - 1 = 0), its size
  // [0] root: a struct right after it, no data words, one pointer.
  words.push_back(static_cast<std::uint64_t>(1) << 48);
  // [1] Blobs.items: a list of `count` pointers starting right after this word.
  words.push_back(listPointer(0, 6, count));
  // [2 .. 2+count) each item: a byte list at the blob, which starts at word 2 + count.
  for (std::uint32_t i = 0; i < count; ++i) {
    std::int32_t offset = static_cast<std::int32_t>(count - i - 1);
    words.push_back(listPointer(offset, 2, static_cast<std::uint64_t>(blobWords) * 8));
  }
  // The blob.
  for (std::uint32_t i = 0; i < blobWords; ++i) words.push_back(0x0101010101010101ULL);
  std::vector<std::uint8_t> bytes(words.size() * 8);
  std::memcpy(bytes.data(), words.data(), bytes.size());
  return bytes;
}

// Reads every item of an aliased Blobs message; returns the bytes read or the failure.
Result<std::uint64_t> readAllItems(std::span<const std::uint8_t> bytes) {
  MessageCursor cursor(bytes);
  std::optional<capnp::FlatArrayMessageReader> reader;
  if (Status status = cursor.next(reader); !status) return status;
  std::uint64_t total = 0;
  Status status = decodeSafely("blobs", [&] {
    for (auto item : reader->getRoot<Blobs>().getItems()) total += item.size();
    return Status::ok();
  });
  if (!status) return status;
  return total;
}

TEST(MessageDecoder, AliasedDataWithinTheTraversalLimitDecodes) {
  auto bytes = aliasedBlobs(4, 1024);
  auto read = readAllItems(bytes);
  ASSERT_TRUE(read) << read.status().message();
  EXPECT_EQ(*read, 4u * 1024 * 8);
}

TEST(MessageDecoder, AliasedDataBeyondTheTraversalLimitIsRefused) {
  // 1 MiB of data on the wire, read 200 times: 200 MiB, over the 128 MiB limit.
  auto bytes = aliasedBlobs(200, 128 * 1024);
  auto read = readAllItems(bytes);
  ASSERT_FALSE(read) << "read " << *read << " bytes";
  EXPECT_EQ(read.status().kind(), ErrorKind::kFailed);
}

TEST(MessageDecoder, BulkBytesFollowTheirMessagePaddedToAWord) {
  capnp::MallocMessageBuilder first, second;
  first.initRoot<Node>().setValue(1);
  second.initRoot<Node>().setValue(2);
  std::vector<std::uint8_t> payload = encode(first);
  const std::uint8_t bulk[] = {9, 8, 7, 6, 5};
  payload.insert(payload.end(), std::begin(bulk), std::end(bulk));
  auto padding = bulkPadding(sizeof(bulk));
  EXPECT_EQ(padding.size(), 3u);
  payload.insert(payload.end(), padding.begin(), padding.end());
  auto tail = encode(second);
  payload.insert(payload.end(), tail.begin(), tail.end());

  MessageCursor cursor(payload);
  std::optional<capnp::FlatArrayMessageReader> reader;
  ASSERT_TRUE(cursor.next(reader));
  EXPECT_EQ(reader->getRoot<Node>().getValue(), 1u);
  auto taken = cursor.takeBulk(sizeof(bulk));
  ASSERT_TRUE(taken);
  EXPECT_EQ(std::vector<std::uint8_t>(taken->begin(), taken->end()), std::vector<std::uint8_t>(std::begin(bulk), std::end(bulk)));
  ASSERT_TRUE(cursor.next(reader));
  EXPECT_EQ(reader->getRoot<Node>().getValue(), 2u);
  EXPECT_TRUE(cursor.done());
}

TEST(MessageDecoder, BulkBytesAnnouncedButMissingAreRefused) {
  capnp::MallocMessageBuilder message;
  message.initRoot<Node>().setValue(1);
  auto payload = encode(message);
  payload.resize(payload.size() + 16, 0xaa);  // 16 bytes follow; 17 are announced
  MessageCursor cursor(payload);
  std::optional<capnp::FlatArrayMessageReader> reader;
  ASSERT_TRUE(cursor.next(reader));
  auto taken = cursor.takeBulk(17);
  ASSERT_FALSE(taken);
  EXPECT_NE(taken.status().message().find("17 bulk bytes announced"), std::string::npos) << taken.status().message();
  EXPECT_TRUE(cursor.done()) << "the rest of the payload is unusable";
  // A huge announcement does not wrap around.
  MessageCursor again(payload);
  ASSERT_TRUE(again.next(reader));
  EXPECT_FALSE(again.takeBulk(~std::uint64_t{0}));
}

TEST(MessageDecoder, APayloadOfPartWordsIsRefused) {
  capnp::MallocMessageBuilder message;
  message.initRoot<Node>().setValue(1);
  auto payload = encode(message);
  payload.push_back(0);
  MessageCursor cursor(payload);
  std::optional<capnp::FlatArrayMessageReader> reader;
  Status status = cursor.next(reader);
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("whole number of words"), std::string::npos);
}

TEST(MessageDecoder, ASegmentTableThatLiesIsRefused) {
  capnp::MallocMessageBuilder message;
  message.initRoot<Node>().setValue(1);
  auto payload = encode(message);
  // Announce a segment far longer than the payload.
  std::uint32_t huge = 1u << 30;
  std::memcpy(payload.data() + 4, &huge, sizeof(huge));
  MessageCursor cursor(payload);
  std::optional<capnp::FlatArrayMessageReader> reader;
  EXPECT_FALSE(cursor.next(reader));
}

}  // namespace
}  // namespace fastgpu::protocol
