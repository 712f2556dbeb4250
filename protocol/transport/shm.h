// Shared memory for same-host sessions, the control path: a session that began on a Unix socket
// moves onto a segment the server's side creates and hands over that socket (SCM_RIGHTS). The
// data path is ShmConnection (shm_connection.h).
//
//   server                                     client
//   SharedSegment::create()
//   Welcome {sharedMemory: true} ------------>  (over the socket, as framed)
//   offerSharedMemory(): send memfd, open --->  acceptSharedMemory(): receive, check, map, open
//   [the shared heap's memfd, when offered] ->  [received and checked]
//   ... every later frame through the rings; the socket stays open, silent ...
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "cudaabi/result.h"
#include "protocol/transport/shared_heap.h"
#include "protocol/transport/shm_segment.h"
#include "protocol/transport/transport.h"

namespace fastgpu::protocol {

// The server's side: sends `segment` over `socket` (a Unix socket whose peer is the client), then
// the shared heap's memfd when `heap` is one (shared_heap.h), and opens its end of it. Takes over
// the socket (closed on failure too).
Result<std::unique_ptr<Connection>> offerSharedMemory(SharedSegment segment, int socket, std::string peer,
                                                      int heap = -1);

// The client's side: receives the segment from `socket` (waiting as long as the socket's receive
// timeout allows), checks and maps it; then, when `heap` is given, the shared heap into it. Takes
// over the socket (closed on failure too).
Result<std::unique_ptr<Connection>> acceptSharedMemory(int socket, std::string peer,
                                                       std::optional<SharedHeap>* heap = nullptr);

// A connected in-process pair through a fresh segment, for tests: {client's end, server's end}.
Result<std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>>> sharedMemoryPair();

}  // namespace fastgpu::protocol
