#include "protocol/transport/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include <fmt/format.h>

#include "protocol/transport/stream_connection.h"
#include "protocol/transport/syscall.h"

namespace fastgpu::protocol {

Result<std::string> parseUnixUrl(std::string_view url) {
  if (!url.starts_with(kUnixScheme)) {
    return Status(ErrorKind::kUnimplemented, CUDA_ERROR_INVALID_VALUE, fmt::format("'{}' is not a unix:///PATH URL", url));
  }
  std::string_view path = url.substr(kUnixScheme.size());
  if (!path.starts_with('/')) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("'{}' needs an absolute path (unix:///run/fastgpu.sock)", url));
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path) || path.find('\0') != std::string_view::npos) {
    return Status(CUDA_ERROR_INVALID_VALUE,
                  fmt::format("the path of '{}' is longer than a Unix socket's {} bytes", url, sizeof(sockaddr_un::sun_path) - 1));
  }
  return std::string(path);
}

namespace {

constexpr int kListenBacklog = 128;

sockaddr_un addressOf(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());  // checked shorter by parseUnixUrl
  return address;
}

// Bulk copies stream through the socket: ask for the largest buffers the system allows (it caps
// the request at twice net.core.wmem_max / rmem_max); the default is a few hundred KiB.
void widenBuffers(int fd) {
  int bytes = 8 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

// "unix:///run/fastgpu.sock uid=1000 pid=4242": who connected, as the kernel says.
std::string describePeer(int fd, const std::string& url) {
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return url;
  return fmt::format("{} uid={} pid={}", url, credentials.uid, credentials.pid);
}

// Connects a fresh socket to `path`; the descriptor, or why not.
Result<int> connectTo(const std::string& path, std::string_view url, std::optional<std::chrono::milliseconds> timeout) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status(CUDA_ERROR_OPERATING_SYSTEM, fmt::format("cannot create a socket for {}", url));
  if (timeout) {  // a listener whose backlog is full blocks connect: bound it as tcp does
    timeval bound{static_cast<time_t>(timeout->count() / 1000), static_cast<suseconds_t>(timeout->count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof(bound));
  }
  sockaddr_un address = addressOf(path);
  auto connected = retrySyscall("connect to", url, [&] {
    return ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  });
  if (!connected) {
    int error = errno;
    ::close(fd);
    // No socket file, or nobody listening on it: nobody answers, as a closed TCP port.
    if (error == ENOENT || error == ECONNREFUSED) {
      return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, connected.status().message());
    }
    return connected.status();
  }
  timeval none{};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
  widenBuffers(fd);
  return fd;
}

class UnixListener final : public Listener {
 public:
  UnixListener(int fd, std::string path, std::string url, ino_t inode)
      : fd_(fd), path_(std::move(path)), url_(std::move(url)), inode_(inode) {}
  ~UnixListener() override {
    close();
    ::close(fd_);
    // Our socket file, unless another server has replaced it meanwhile.
    struct stat info {};
    if (::lstat(path_.c_str(), &info) == 0 && S_ISSOCK(info.st_mode) && info.st_ino == inode_) ::unlink(path_.c_str());
  }

  Result<std::unique_ptr<Connection>> accept() override {
    auto fd = retrySyscall("accept on", url_, [&] { return ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC); });
    if (!fd) {
      if (closed_) return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, url_ + " is closed");
      return fd.status();
    }
    int connection = static_cast<int>(*fd);
    widenBuffers(connection);
    return std::unique_ptr<Connection>(std::make_unique<StreamConnection>(connection, describePeer(connection, url_)));
  }

  void close() override {
    if (!closed_.exchange(true)) ::shutdown(fd_, SHUT_RDWR);  // wakes a blocked accept()
  }

  std::string url() const override { return url_; }

 private:
  const int fd_;
  const std::string path_;
  const std::string url_;
  const ino_t inode_;
  std::atomic<bool> closed_{false};
};

// Removes a socket file at `path` that nobody listens on any more; refuses anything else.
Status clearStaleSocket(const std::string& path, std::string_view url) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return Status::ok();  // nothing there
  if (!S_ISSOCK(info.st_mode)) {
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("cannot listen on {}: the path is a file that is not a socket", url));
  }
  auto live = connectTo(path, url, std::chrono::milliseconds(1000));
  if (live) {
    ::close(*live);
    return Status(CUDA_ERROR_INVALID_VALUE, fmt::format("cannot listen on {}: another server listens there", url));
  }
  ::unlink(path.c_str());
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Connection>> connectUnix(std::string_view url, std::optional<std::chrono::milliseconds> timeout) {
  auto path = parseUnixUrl(url);
  if (!path) return path.status();
  auto fd = connectTo(*path, url, timeout);
  if (!fd) return fd.status();
  return std::unique_ptr<Connection>(std::make_unique<StreamConnection>(*fd, std::string(url)));
}

Result<std::unique_ptr<Listener>> listenUnix(std::string_view url) {
  auto path = parseUnixUrl(url);
  if (!path) return path.status();
  if (Status cleared = clearStaleSocket(*path, url); !cleared) return cleared;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status(CUDA_ERROR_OPERATING_SYSTEM, fmt::format("cannot create a socket for {}", url));
  sockaddr_un address = addressOf(*path);
  // Made with no access for others at all, then opened to the group: never a moment of 0777.
  mode_t previous = ::umask(0177);
  auto bound = retrySyscall("bind", url, [&] { return ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)); });
  ::umask(previous);
  if (bound) bound = retrySyscall("chmod", url, [&] { return ::chmod(path->c_str(), 0660); });
  if (bound) bound = retrySyscall("listen on", url, [&] { return ::listen(fd, kListenBacklog); });
  struct stat info {};
  if (bound && ::lstat(path->c_str(), &info) != 0) bound = Status(CUDA_ERROR_OPERATING_SYSTEM, "the socket file vanished");
  if (!bound) {
    ::close(fd);
    return bound.status();
  }
  return std::unique_ptr<Listener>(std::make_unique<UnixListener>(fd, *path, std::string(url), info.st_ino));
}

}  // namespace fastgpu::protocol
