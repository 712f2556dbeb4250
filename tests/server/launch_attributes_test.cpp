// Launch attributes as the server converts them for its driver: the events they carry become the
// session's own events, and nothing else that could be a pointer passes.
#include "server/launch_attributes.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <map>

namespace fastgpu::server {
namespace {

// A launch message holding `attributes` as a client would send them.
class AttributeMessage {
 public:
  explicit AttributeMessage(std::initializer_list<CUlaunchAttribute> attributes) {
    auto sent = builder_.initRoot<wire::Launch>().initAttributes(static_cast<unsigned>(attributes.size()));
    unsigned i = 0;
    for (const CUlaunchAttribute& attribute : attributes) {
      sent[i].setId(static_cast<std::uint32_t>(attribute.id));
      sent[i].setValue(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(&attribute.value), sizeof(attribute.value)));
      ++i;
    }
  }
  capnp::List<wire::LaunchAttribute>::Reader attributes() {
    return builder_.getRoot<wire::Launch>().asReader().getAttributes();
  }

 private:
  capnp::MallocMessageBuilder builder_;
};

CUlaunchAttribute completionEvent(std::uintptr_t id) {
  CUlaunchAttribute attribute{};
  attribute.id = CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT;
  attribute.value.launchCompletionEvent.event = reinterpret_cast<CUevent>(id);
  return attribute;
}

// The session's events: its ids and the driver's handles differ, as they do in a server.
const std::map<std::uint64_t, CUevent> kSessionEvents = {{0x5010, reinterpret_cast<CUevent>(0xd00d0)}};

Result<CUevent> lookUp(std::uint64_t id) {
  auto found = kSessionEvents.find(id);
  if (found == kSessionEvents.end()) return Status(CUDA_ERROR_INVALID_HANDLE, "not an event of the session");
  return found->second;
}

TEST(LaunchAttributes, EventsBecomeTheSessionsOwnHandles) {
  CUlaunchAttribute programmatic{};
  programmatic.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT;
  programmatic.value.programmaticEvent.event = reinterpret_cast<CUevent>(0x5010);
  programmatic.value.programmaticEvent.triggerAtBlockStart = 1;
  CUlaunchAttribute priority{};
  priority.id = CU_LAUNCH_ATTRIBUTE_PRIORITY;
  priority.value.priority = -3;
  AttributeMessage message{completionEvent(0x5010), programmatic, priority};
  std::array<CUlaunchAttribute, 4> converted;
  auto count = convertLaunchAttributes(message.attributes(), converted, lookUp);
  ASSERT_TRUE(count) << count.status().message();
  ASSERT_EQ(*count, 3u);
  EXPECT_EQ(converted[0].value.launchCompletionEvent.event, reinterpret_cast<CUevent>(0xd00d0));
  EXPECT_EQ(converted[1].value.programmaticEvent.event, reinterpret_cast<CUevent>(0xd00d0));
  EXPECT_EQ(converted[1].value.programmaticEvent.triggerAtBlockStart, 1);
  EXPECT_EQ(converted[2].value.priority, -3);
}

TEST(LaunchAttributes, WhatIsNotTheSessionsOrNotKnownIsRefused) {
  std::array<CUlaunchAttribute, 2> converted;
  AttributeMessage forged{completionEvent(0x7f0000001000)};
  EXPECT_EQ(convertLaunchAttributes(forged.attributes(), converted, lookUp).code(), CUDA_ERROR_INVALID_HANDLE);
  CUlaunchAttribute unknown{};
  unknown.id = static_cast<CUlaunchAttributeID>(99);
  AttributeMessage strange{unknown};
  EXPECT_EQ(convertLaunchAttributes(strange.attributes(), converted, lookUp).code(), CUDA_ERROR_INVALID_VALUE);
  AttributeMessage tooMany{completionEvent(0x5010), completionEvent(0x5010), completionEvent(0x5010)};
  EXPECT_EQ(convertLaunchAttributes(tooMany.attributes(), converted, lookUp).code(), CUDA_ERROR_INVALID_VALUE);
}

}  // namespace
}  // namespace fastgpu::server
