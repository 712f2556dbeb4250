// End-to-end programs that share with a child process they start (the same program, run as
// `PROGRAM child SOCKET`): the child's start, a Unix socket between the two, and descriptors
// passed over it (SCM_RIGHTS) as programs pass the driver's shareable handles.
#pragma once

#include <cuda.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace fastgpu::e2e {

// Device 0's primary context, current.
inline bool setUpPrimaryContext(CUcontext& context) {
  return cuInit(0) == CUDA_SUCCESS && cuDevicePrimaryCtxRetain(&context, 0) == CUDA_SUCCESS &&
         cuCtxSetCurrent(context) == CUDA_SUCCESS;
}

// A descriptor as the driver takes it, in a pointer's bits.
inline void* asHandle(int fd) { return reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)); }

// Starts `self child FD` (FD: its end of a new socket pair); the parent's end goes to *parentEnd.
// Returns the child's pid, or -1.
inline pid_t startChild(const char* self, int* parentEnd) {
  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sockets) != 0) return -1;
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(sockets[0]);
    std::string socket = std::to_string(sockets[1]);
    execl("/proc/self/exe", self, "child", socket.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  close(sockets[1]);
  *parentEnd = sockets[0];
  return pid;
}

// A message of one byte with room for one descriptor.
struct OneDescriptor {
  char byte = 'm';
  iovec data{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  OneDescriptor() {
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
  }
};

inline bool sendDescriptor(int socket, int fd) {
  OneDescriptor one;
  msghdr& message = one.message;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  return sendmsg(socket, &message, 0) == 1;
}

inline int receiveDescriptor(int socket) {
  OneDescriptor one;
  msghdr& message = one.message;
  if (recvmsg(socket, &message, 0) != 1) return -1;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (header == nullptr || header->cmsg_type != SCM_RIGHTS) return -1;
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(header), sizeof(int));
  return fd;
}

}  // namespace fastgpu::e2e
