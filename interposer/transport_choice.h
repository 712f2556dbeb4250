// Which transport a client uses: FASTGPU_TRANSPORT read against FASTGPU_SERVER's URL.
//
//   (unset)  shared memory when the server is on this host and offers it (the segment comes
//            over a unix:// socket, or over a rendezvous socket for tcp:// and tls://), else
//            the URL's own transport
//   tcp      TCP only, never shared memory: the URL must be tcp:// or tls://
//   unix     the Unix socket only, never shared memory: the URL must be unix://
//   shm      shared memory or nothing: a server that does not offer it (not on this host, too
//            old, out of memory) or cannot be joined fails cuInit
//   rdma     RDMA or nothing: the URL must be rdma://HOST:PORT (which also means RDMA unset)
#pragma once

#include <string_view>

#include "cudaabi/result.h"

namespace fastgpu::interposer {

struct TransportChoice {
  bool askSharedMemory = false;      // the Hello asks to move onto shared memory
  bool requireSharedMemory = false;  // and a server that does not is refused
  bool rdma = false;                 // log in over TCP, then move onto RDMA or fail (docs/rdma.md)
};

// Fails (CUDA_ERROR_NO_DEVICE) with a message naming both variables when they do not fit.
Result<TransportChoice> chooseTransport(std::string_view forced, std::string_view server);

}  // namespace fastgpu::interposer
