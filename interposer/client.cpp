#include "interposer/client.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

#include "cudaabi/error_strings.h"
#include "cudaabi/log.h"
#include "protocol/message.h"
#include "protocol/transport/rdma.h"
#include "protocol/transport/shm.h"
#include "protocol/transport/shm_rendezvous.h"

namespace fastgpu::interposer {
namespace {

// Pinned ranges kept registered with the RDMA link (the least recently copied go first). Their
// bytes are not bounded: the program pinned them already, and registering pins nothing more.
constexpr std::size_t kRdmaRegistrations = 1024;

std::string environment(const char* name, const char* fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

Status disconnected(const std::string& why) { return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, why); }

// FASTGPU_TIMEOUT: seconds (a decimal number, more than 0 and at most a day).
Result<std::chrono::milliseconds> parseTimeout(const std::string& text) {
  if (text.empty()) return std::chrono::milliseconds(static_cast<long>(Client::kDefaultTimeoutSeconds * 1000));
  char* end = nullptr;
  double seconds = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(seconds > 0 && seconds <= 86400)) {
    return Status(CUDA_ERROR_INVALID_VALUE,
                  fmt::format("FASTGPU_TIMEOUT='{}' is not a number of seconds between 0 and 86400", text));
  }
  return std::chrono::milliseconds(std::max(1L, static_cast<long>(seconds * 1000)));
}

// A server that sent (or took) nothing for the whole timeout: the session counts as lost.
Status silentServer(const char* what, std::chrono::milliseconds timeout) {
  return disconnected(fmt::format("the server {} nothing for {:.1f} s (FASTGPU_TIMEOUT): it is down, frozen or "
                                  "unreachable",
                                  what, static_cast<double>(timeout.count()) / 1000));
}

// Receives the next frame that is not a heartbeat (an empty frame); the connection's idle timeout
// is `timeout`.
Status receiveSkippingHeartbeats(protocol::Connection& connection, std::vector<std::uint8_t>& payload,
                                 std::chrono::milliseconds timeout) {
  for (;;) {
    Status status = connection.receive(payload);
    if (status.code() == CUDA_ERROR_TIMEOUT) return silentServer("sent", timeout);
    if (!status || !payload.empty()) return status;
  }
}

// What to check when the server ended the handshake: over TLS 1.3 a refused client certificate
// shows only here (an alert), and a tls:// server hangs up on a plain client.
std::string handshakeHint(const std::string& server, const Status& failure) {
  if (server.starts_with("tls://") && failure.message().find(" alert ") != std::string::npos) {
    return " (the server wants a client certificate it trusts: check FASTGPU_TLS_CERT and FASTGPU_TLS_KEY)";
  }
  if (server.starts_with("tcp://") && failure.kind() == ErrorKind::kDisconnected) {
    return " (a tls:// server hangs up on plain tcp:// clients: is it one?)";
  }
  return "";
}

}  // namespace

ClientConfig ClientConfig::fromEnvironment() {
  return ClientConfig{environment("FASTGPU_SERVER"),
                      environment("FASTGPU_VGPU"),
                      environment("FASTGPU_TOKEN"),
                      environment("FASTGPU_TRANSPORT"),
                      environment("FASTGPU_STATS") == "1",
                      environment("FASTGPU_TIMEOUT"),
                      {environment("FASTGPU_TLS_CA"), environment("FASTGPU_TLS_CERT"), environment("FASTGPU_TLS_KEY")}};
}

Result<std::unique_ptr<Client>> Client::connect(const ClientConfig& config, int cudaVersion) {
  if (config.server.empty()) {
    return Status(CUDA_ERROR_NO_DEVICE,
                  "FASTGPU_SERVER is not set (set it to the server's address, e.g. tcp://gpu1:7600, or use fastgpu run)");
  }
  auto timeout = parseTimeout(config.timeout);
  if (!timeout) return Status(CUDA_ERROR_NO_DEVICE, timeout.status().message());
  auto transport = chooseTransport(config.transport, config.server);
  if (!transport) return transport.status();
  // An rdma:// session logs in over TCP and then moves onto RDMA (moveOntoRdma below).
  std::string dialed = transport->rdma ? "tcp://" + config.server.substr(std::string_view("rdma://").size()) : config.server;
  auto connection = protocol::connect(dialed, {*timeout, config.tls});
  if (!connection) {
    // A handshake that failed (kFailed) found a server: the reason is TLS, not reachability.
    bool reached = connection.status().kind() == ErrorKind::kFailed;
    return Status(CUDA_ERROR_NO_DEVICE,
                  fmt::format("cannot reach server {}: {}{}", config.server, connection.status().message(),
                              reached ? " (check FASTGPU_TLS_CA and the server's certificate)"
                                      : " (is fastgpu-server running there?)"));
  }
  if (!config.token.empty() && (config.server.starts_with("tcp://") || transport->rdma) && !(*connection)->loopback()) {
    // Say so once, before the token leaves the machine.
    cudaabi::driverLogger().warn("FASTGPU_TOKEN travels in clear to {} (not this host): use tls:// (FASTGPU_TLS_CA), "
                                 "a trusted network, or a tunnel",
                                 config.server);
  }
  capnp::MallocMessageBuilder builder;
  auto hello = builder.initRoot<wire::Hello>();
  hello.setProtocolVersion(wire::PROTOCOL_VERSION);
  hello.setCudaVersion(cudaVersion);
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  hello.setHost(host);
  hello.setPid(static_cast<std::uint32_t>(getpid()));
  hello.setVgpu(config.vgpu);
  hello.setToken(config.token);
  hello.setSharedMemory(transport->askSharedMemory);
  hello.setRdma(transport->rdma);
  std::vector<std::uint8_t> bytes;
  protocol::appendMessage(builder, bytes);
  if (Status status = (*connection)->send(bytes); !status) {
    return Status(CUDA_ERROR_NO_DEVICE, fmt::format("server {}: {}", config.server, status.message()));
  }
  // A server that goes silent (dead, frozen, cut off) is given up on after the timeout; while it
  // works on a long call it sends heartbeats.
  (*connection)->setIdleTimeout(*timeout);
  std::vector<std::uint8_t> payload;
  if (Status status = receiveSkippingHeartbeats(**connection, payload, *timeout); !status) {
    return Status(CUDA_ERROR_NO_DEVICE, fmt::format("server {} did not complete the handshake: {}{}", config.server,
                                                    status.message(), handshakeHint(config.server, status)));
  }
  auto client = std::unique_ptr<Client>(new Client(std::move(*connection), std::move(payload), *timeout));
  protocol::MessageCursor cursor(client->welcomeBytes_);
  if (Status status = cursor.next(client->welcomeReader_); !status) {
    return Status(CUDA_ERROR_NO_DEVICE, fmt::format("server {}: {}", config.server, status.message()));
  }
  Status decoded = protocol::decodeSafely("welcome", [&] {
    client->welcome_ = client->welcomeReader_->getRoot<wire::Welcome>();
    if (client->welcome_.getResult() == CUDA_SUCCESS) {
      for (auto device : client->welcome_.getDevices()) client->devices_.push_back(RemoteDevice::decode(device));
      client->serverCachesModules_ = client->welcome_.getModuleCache();
      return Status::ok();
    }
    return Status(static_cast<CUresult>(client->welcome_.getResult()),
                  fmt::format("server {} refused the session: {}", config.server, client->welcome_.getMessage().cStr()));
  });
  if (!decoded) return Status(decoded.code() == CUDA_SUCCESS ? CUDA_ERROR_NO_DEVICE : decoded.code(), decoded.message());
  if (Status moved = client->moveToSharedMemory(config.server, *transport); !moved) return moved;
  if (Status moved = client->moveOntoRdma(config.server, *transport, *timeout); !moved) return moved;
  client->flusher_ = std::thread([raw = client.get()] { raw->runFlusher(); });
  return client;
}

Status Client::moveOntoRdma(const std::string& server, const TransportChoice& transport,
                            std::chrono::milliseconds timeout) {
  if (!transport.rdma) return Status::ok();
  if (!welcome_.getRdma()) {
    return Status(CUDA_ERROR_NO_DEVICE, fmt::format("server {} does not serve RDMA at that port (it has no rdma:// "
                                                    "listener there, or is older than this client)",
                                                    server));
  }
  auto moved = protocol::moveOntoRdma(*connection_, std::chrono::steady_clock::now() + timeout);
  if (!moved) {
    return Status(CUDA_ERROR_NO_DEVICE, fmt::format("server {}: cannot move onto RDMA: {}", server, moved.status().message()));
  }
  connection_ = std::move(*moved);
  rdmaRegistrations_ = std::make_unique<protocol::RdmaRegistrationCache>(
      *connection_->rdmaLink(), true, kRdmaRegistrations, std::numeric_limits<std::uint64_t>::max());
  return Status::ok();
}

void Client::holdUntilNextReply(protocol::RdmaRegistrationCache::Lease lease) {
  std::lock_guard lock(mutex_);
  // Each registration once: a program that posts copies of the same buffers without waiting for
  // anything holds as many leases as it has buffers, not as it posted copies.
  if (std::find(heldLeases_.begin(), heldLeases_.end(), lease) == heldLeases_.end()) {
    heldLeases_.push_back(std::move(lease));
  }
}

Status Client::moveToSharedMemory(const std::string& server, const TransportChoice& transport) {
  if (!welcome_.getSharedMemory()) {
    if (!transport.requireSharedMemory) return Status::ok();
    return Status(CUDA_ERROR_NO_DEVICE, fmt::format("server {} did not offer shared memory (FASTGPU_TRANSPORT=shm): "
                                                    "it is not on this host, older than this client, or could not make a segment",
                                                    server));
  }
  std::string peer = "shm " + connection_->peer();
  int socket = -1;
  if (welcome_.hasSharedMemoryRendezvous() && welcome_.getSharedMemoryRendezvous().size() > 0) {
    auto nonce = welcome_.getSharedMemoryNonce();
    auto joined = protocol::joinRendezvous(welcome_.getSharedMemoryRendezvous().cStr(),
                                           std::span<const std::uint8_t>(nonce.begin(), nonce.size()), timeout_);
    if (!joined) {
      return Status(CUDA_ERROR_NO_DEVICE, fmt::format("server {} offered shared memory, but: {}", server,
                                                      joined.status().message()));
    }
    if (!*joined) {
      // Not on the server's host after all (another network namespace), or the server stopped
      // waiting: both sides stay on the connection.
      if (!transport.requireSharedMemory) return Status::ok();
      return Status(CUDA_ERROR_NO_DEVICE, fmt::format("server {} offered shared memory, but its rendezvous socket "
                                                      "cannot be reached from here (FASTGPU_TRANSPORT=shm): is this "
                                                      "process in another network namespace (a container)?",
                                                      server));
    }
    socket = **joined;
  } else {
    socket = connection_->detach();
  }
  auto moved = protocol::acceptSharedMemory(socket, peer, welcome_.getSharedHeap() ? &sharedHeap_ : nullptr);
  if (!moved) {
    return Status(CUDA_ERROR_NO_DEVICE,
                  fmt::format("server {} offered shared memory, but: {}", server, moved.status().message()));
  }
  connection_ = std::move(*moved);
  connection_->setIdleTimeout(timeout_);
  return Status::ok();
}

Client::Client(std::unique_ptr<protocol::Connection> connection, std::vector<std::uint8_t> welcomeBytes,
               std::chrono::milliseconds timeout)
    : connection_(std::move(connection)), welcomeBytes_(std::move(welcomeBytes)), timeout_(timeout) {
  batch_.reserve(kFlushBytes + 4096);
}

Client::~Client() {
  quiesce();
  connection_->shutdown();
}

void Client::quiesce() {
  {
    std::lock_guard lock(mutex_);
    if (stopFlusher_) return;
    stopFlusher_ = true;
    (void)flushLocked();
  }
  flusherWake_.notify_all();
  if (flusher_.joinable()) flusher_.join();
}

void Client::runFlusher() {
  std::unique_lock lock(mutex_);
  while (!stopFlusher_) {
    if (batch_.empty()) {
      auto due = lastSent_ + kHeartbeatInterval;
      bool idle = flusherWake_.wait_until(lock, due) == std::cv_status::timeout && due <= std::chrono::steady_clock::now();
      if (idle && batch_.empty() && broken_) (void)sendLocked({});  // a heartbeat: this client is alive, only idle
      continue;
    }
    auto due = batchStarted_ + std::chrono::microseconds(kBatchFlushMicros);
    if (flusherWake_.wait_until(lock, due) == std::cv_status::timeout && !batch_.empty() &&
        std::chrono::steady_clock::now() >= due) {
      (void)flushLocked();
    }
  }
}

void Client::post(capnp::MessageBuilder& call, std::span<const std::uint8_t> bulk) {
  std::lock_guard lock(mutex_);
  postLocked(call, bulk);
}

void Client::postLocked(capnp::MessageBuilder& call, std::span<const std::uint8_t> bulk) {
  if (batch_.empty()) {
    batchStarted_ = std::chrono::steady_clock::now();
    flusherWake_.notify_one();
  }
  protocol::appendMessage(call, batch_);
  ++stats_.postedCalls;
  if (!bulk.empty() || batch_.size() >= kFlushBytes) (void)flushLocked(bulk);
}

Status Client::flushLocked(std::span<const std::uint8_t> bulk) {
  if (batch_.empty()) return broken_;
  if (broken_) {
    std::span<const std::uint8_t> parts[] = {batch_, bulk, protocol::bulkPadding(bulk.size())};
    (void)sendLocked(parts);
    ++stats_.flushes;
  }
  batch_.clear();
  return broken_;
}

Status Client::sendLocked(std::span<const std::span<const std::uint8_t>> parts) {
  for (const auto& part : parts) stats_.bytesSent += part.size();
  if (Status status = connection_->send(parts); !status) {
    broken_ = status.code() == CUDA_ERROR_TIMEOUT ? silentServer("took", timeout_) : status;
    connection_->shutdown();
  }
  lastSent_ = std::chrono::steady_clock::now();
  return broken_;
}

Status Client::receiveReply(std::vector<std::uint8_t>& payload) {
  return receiveSkippingHeartbeats(*connection_, payload, timeout_);
}

Status Client::flush() {
  std::lock_guard lock(mutex_);
  return flushLocked();
}

Result<std::unique_ptr<ReplyMessage>> Client::call(capnp::MessageBuilder& call, std::span<const std::uint8_t> bulk) {
  std::lock_guard lock(mutex_);
  protocol::appendMessage(call, batch_);
  auto reply = exchangeLocked(bulk);
  // Completed deliveries that did not fit the reply come before the call returns: the program
  // may be about to read them.
  if (reply && moreDeliveries_) {
    if (Status collected = collectDeliveriesLocked(false); !collected) return collected;
  }
  return reply;
}

Status Client::collectDeliveriesLocked(bool wait) {
  do {
    capnp::MallocMessageBuilder collect;
    collect.initRoot<wire::Call>().setCollectDeliveries(wait);
    protocol::appendMessage(collect, batch_);
    if (auto reply = exchangeLocked({}); !reply) return reply.status();
    wait = false;
  } while (moreDeliveries_);
  return Status::ok();
}

Result<std::unique_ptr<ReplyMessage>> Client::exchangeLocked(std::span<const std::uint8_t> bulk) {
  if (Status status = flushLocked(bulk); !status) return status;
  ++stats_.roundTrips;
  std::vector<std::uint8_t> payload;
  {
    std::lock_guard spareLock(spareMutex_);
    if (!spare_.empty()) {
      payload = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  if (Status status = receiveReply(payload); !status) {
    broken_ = disconnected("lost the connection to the server: " + status.message());
    connection_->shutdown();
    return broken_;
  }
  heldLeases_.clear();  // the server did every call before this reply
  auto reply = std::make_unique<ReplyMessage>(*this, std::move(payload));
  protocol::MessageCursor cursor(reply->payload());
  if (Status status = cursor.next(reply->reader); !status) {
    broken_ = disconnected("the server sent a malformed reply: " + status.message());
    connection_->shutdown();
    return broken_;
  }
  Status decoded = protocol::decodeSafely("reply", [&] { return decodeReplyLocked(*reply, cursor); });
  if (!decoded) {
    broken_ = decoded.kind() == ErrorKind::kDisconnected ? decoded : disconnected(decoded.message());
    connection_->shutdown();
    return broken_;
  }
  return reply;
}

Status Client::decodeReplyLocked(ReplyMessage& reply, protocol::MessageCursor& cursor) {
  auto root = reply.get();
  if (root.getSessionEnded()) {
    // The server ended the session (evicted, over a time limit, its worker crashed): this call
    // and every later one fail with the reason it gave.
    return Status(ErrorKind::kDisconnected, static_cast<CUresult>(root.getResult()), root.getMessage().cStr());
  }
  deferError(static_cast<CUresult>(root.getDeferredError()));
  writeDeviceOutput(root.getDeviceOutput(), stdout);
  writeDeviceOutput(root.getDeviceErrors(), stderr);
  if (root.getBulkBytes() != 0) {
    auto taken = cursor.takeBulk(root.getBulkBytes());
    if (!taken) return taken.status();
    reply.bulk_ = *taken;
  }
  moreDeliveries_ = root.getMoreDeliveries();
  auto delivered = root.getDeliveries();
  if (delivered.size() == 0) return Status::ok();
  auto bytes = DeliveryTable::bytesOf(delivered);
  if (!bytes) return bytes.status();
  auto taken = cursor.takeBulk(*bytes);
  if (!taken) return taken.status();
  return deliveries_.apply(delivered, *taken);
}

bool Client::postDelivery(capnp::MessageBuilder& call, wire::StagedDelivery::Builder copy, void* destination) {
  std::lock_guard lock(mutex_);
  auto id = deliveries_.add(destination, copy.getBytes());
  if (!id) return false;
  copy.setDelivery(*id);
  postLocked(call, {});
  return true;
}

void Client::finishDeliveriesInto(const void* base, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  auto at = reinterpret_cast<std::uintptr_t>(base);
  if (!deliveries_.anyInto(at, bytes)) return;
  // As the driver does, the copies finish first. Should that fail (the connection broke), what
  // is still pending is dropped: nothing may land in memory unmapped next.
  (void)collectDeliveriesLocked(true);
  deliveries_.dropInto(at, bytes);
}

void Client::writeDeviceOutput(capnp::Data::Reader text, std::FILE* to) {
  if (text.size() == 0) return;
  // Through stdio, after what the program itself wrote there, as a local driver writes it.
  std::fwrite(text.begin(), 1, text.size(), to);
  std::fflush(to);
}

ReplyMessage::~ReplyMessage() { owner_.recycle(std::move(payload_)); }

void Client::recycle(std::vector<std::uint8_t> buffer) {
  constexpr std::size_t kMaxSpare = 4;
  std::lock_guard lock(spareMutex_);
  if (spare_.size() < kMaxSpare) spare_.push_back(std::move(buffer));
}

void Client::deferError(CUresult error) {
  if (error == CUDA_SUCCESS) return;
  CUresult none = CUDA_SUCCESS;
  deferred_.compare_exchange_strong(none, error);
}

CUresult Client::takeDeferredError() { return deferred_.exchange(CUDA_SUCCESS); }

ClientStats Client::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace fastgpu::interposer
