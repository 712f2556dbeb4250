// A connected shared-memory pair made the way a same-host TCP session moves (shm_rendezvous.h):
// the client joins the worker's rendezvous with the nonce, the segment follows on that socket.
#pragma once

#include <future>
#include <memory>
#include <utility>

#include <gtest/gtest.h>

#include "protocol/transport/shm.h"
#include "protocol/transport/shm_rendezvous.h"

namespace fastgpu::testing {

using protocol::Connection;

// {client's end, server's end}; both null (and a test failure) when the move fails.
inline std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> rendezvousPair() {
  auto point = protocol::RendezvousPoint::open();
  EXPECT_TRUE(point) << point.status().message();
  auto segment = protocol::SharedSegment::create();
  EXPECT_TRUE(segment) << segment.status().message();
  if (!point || !segment) return {};
  auto client = std::async(std::launch::async, [name = point->name(), nonce = point->nonce()] {
    return protocol::joinRendezvous(name, nonce, std::chrono::seconds(10));
  });
  auto arrived = point->await(-1, std::chrono::steady_clock::now() + std::chrono::seconds(10),
                              [](const std::string& stranger) { ADD_FAILURE() << "a stranger: " << stranger; });
  EXPECT_TRUE(arrived && *arrived) << "the worker did not take its client";
  if (!arrived || !*arrived) return {};
  // The segment is the worker's answer: the client waits for it.
  auto server = protocol::offerSharedMemory(std::move(*segment), **arrived, "shm:server");
  auto joined = client.get();
  EXPECT_TRUE(server);
  EXPECT_TRUE(joined && *joined) << "the client did not get in";
  if (!server || !joined || !*joined) return {};
  auto accepted = protocol::acceptSharedMemory(**joined, "shm:client");
  EXPECT_TRUE(accepted);
  if (!accepted) return {};
  return {std::move(*accepted), std::move(*server)};
}

}  // namespace fastgpu::testing
