// Which transport a client uses: FASTGPU_TRANSPORT read against FASTGPU_SERVER's URL.
//
//   (unset)  the URL's own: tcp:// and tls:// over TCP; unix:// moves onto shared memory when
//            the server offers it (same host), else stays on the socket
//   tcp      TCP only: the URL must be tcp:// or tls://
//   unix     the Unix socket only, never shared memory: the URL must be unix://
//   shm      shared memory or nothing: the URL must be unix://, and a server that does not offer
//            shared memory fails cuInit
//   rdma     not in this build: fails cuInit, saying so
#pragma once

#include <string_view>

#include "cudaabi/result.h"

namespace fastgpu::interposer {

struct TransportChoice {
  bool askSharedMemory = false;      // the Hello asks to move onto shared memory
  bool requireSharedMemory = false;  // and a server that does not is refused
};

// Fails (CUDA_ERROR_NO_DEVICE) with a message naming both variables when they do not fit.
Result<TransportChoice> chooseTransport(std::string_view forced, std::string_view server);

}  // namespace fastgpu::interposer
