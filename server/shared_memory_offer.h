// Whether and how a session's worker offers the client shared memory (protocol/transport/shm.h).
#pragma once

#include <optional>
#include <string_view>

namespace fastgpu::server {

enum class SharedMemoryOffer {
  kNone,            // the client did not ask, or is not on this host
  kOverConnection,  // the segment travels over the session's own Unix socket
  kByRendezvous,    // over a side socket the client joins (shm_rendezvous.h): TCP or TLS on this host
};

// Its name in a worker's arguments, and back.
constexpr std::string_view sharedMemoryOfferName(SharedMemoryOffer offer) {
  switch (offer) {
    case SharedMemoryOffer::kOverConnection: return "connection";
    case SharedMemoryOffer::kByRendezvous: return "rendezvous";
    case SharedMemoryOffer::kNone: break;
  }
  return "none";
}
constexpr std::optional<SharedMemoryOffer> parseSharedMemoryOffer(std::string_view name) {
  for (auto offer : {SharedMemoryOffer::kNone, SharedMemoryOffer::kOverConnection, SharedMemoryOffer::kByRendezvous}) {
    if (name == sharedMemoryOfferName(offer)) return offer;
  }
  return std::nullopt;
}

}  // namespace fastgpu::server
