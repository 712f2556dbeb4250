#include "interposer/client.h"

#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "cudaabi/error_strings.h"
#include "protocol/message.h"

namespace fastgpu::interposer {
namespace {

std::string environment(const char* name, const char* fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

Status disconnected(const std::string& why) { return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, why); }

}  // namespace

ClientConfig ClientConfig::fromEnvironment() {
  return ClientConfig{environment("FASTGPU_SERVER"), environment("FASTGPU_VGPU"), environment("FASTGPU_TOKEN"),
                      environment("FASTGPU_STATS") == "1"};
}

Result<std::unique_ptr<Client>> Client::connect(const ClientConfig& config, int cudaVersion) {
  if (config.server.empty()) {
    return Status(CUDA_ERROR_NO_DEVICE,
                  "FASTGPU_SERVER is not set (set it to the server's address, e.g. tcp://gpu1:7600, or use fastgpu run)");
  }
  auto connection = protocol::connect(config.server);
  if (!connection) {
    return Status(CUDA_ERROR_NO_DEVICE,
                  fmt::format("cannot reach server {}: {} (is fastgpu-server running there?)", config.server,
                              connection.status().message()));
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
  std::vector<std::uint8_t> bytes;
  protocol::appendMessage(builder, bytes);
  if (Status status = (*connection)->send(bytes); !status) {
    return Status(CUDA_ERROR_NO_DEVICE, fmt::format("server {}: {}", config.server, status.message()));
  }
  std::vector<std::uint8_t> payload;
  if (Status status = (*connection)->receive(payload); !status) {
    return Status(CUDA_ERROR_NO_DEVICE,
                  fmt::format("server {} closed the connection during the handshake: {}", config.server, status.message()));
  }
  auto client = std::unique_ptr<Client>(new Client(std::move(*connection), std::move(payload)));
  protocol::MessageCursor cursor(client->welcomeBytes_);
  if (Status status = cursor.next(client->welcomeReader_); !status) {
    return Status(CUDA_ERROR_NO_DEVICE, fmt::format("server {}: {}", config.server, status.message()));
  }
  Status decoded = protocol::decodeSafely("welcome", [&] {
    client->welcome_ = client->welcomeReader_->getRoot<wire::Welcome>();
    if (client->welcome_.getResult() == CUDA_SUCCESS) return Status::ok();
    return Status(static_cast<CUresult>(client->welcome_.getResult()),
                  fmt::format("server {} refused the session: {}", config.server, client->welcome_.getMessage().cStr()));
  });
  if (!decoded) return Status(decoded.code() == CUDA_SUCCESS ? CUDA_ERROR_NO_DEVICE : decoded.code(), decoded.message());
  client->flusher_ = std::thread([raw = client.get()] { raw->runFlusher(); });
  return client;
}

Client::Client(std::unique_ptr<protocol::Connection> connection, std::vector<std::uint8_t> welcomeBytes)
    : connection_(std::move(connection)), welcomeBytes_(std::move(welcomeBytes)) {
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
      flusherWake_.wait(lock);
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
    if (Status status = connection_->send(parts); !status) broken_ = status;
    ++stats_.flushes;
  }
  batch_.clear();
  return broken_;
}

Status Client::flush() {
  std::lock_guard lock(mutex_);
  return flushLocked();
}

Result<std::unique_ptr<ReplyMessage>> Client::call(capnp::MessageBuilder& call, std::span<const std::uint8_t> bulk) {
  std::lock_guard lock(mutex_);
  protocol::appendMessage(call, batch_);
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
  if (Status status = connection_->receive(payload); !status) {
    broken_ = disconnected("lost the connection to the server: " + status.message());
    return broken_;
  }
  auto reply = std::make_unique<ReplyMessage>(*this, std::move(payload));
  protocol::MessageCursor cursor(reply->payload());
  if (Status status = cursor.next(reply->reader); !status) {
    broken_ = disconnected("the server sent a malformed reply: " + status.message());
    connection_->shutdown();
    return broken_;
  }
  Status decoded = protocol::decodeSafely("reply", [&] {
    auto root = reply->get();
    if (root.getSessionEnded()) {
      // The server ended the session (evicted, over a time limit, its worker crashed): this call
      // and every later one fail with the reason it gave.
      return Status(ErrorKind::kDisconnected, static_cast<CUresult>(root.getResult()), root.getMessage().cStr());
    }
    deferError(static_cast<CUresult>(root.getDeferredError()));
    if (root.getBulkBytes() == 0) return Status::ok();
    auto taken = cursor.takeBulk(root.getBulkBytes());
    if (taken) reply->bulk_ = *taken;
    return taken.status();
  });
  if (!decoded) {
    broken_ = decoded.kind() == ErrorKind::kDisconnected ? decoded : disconnected(decoded.message());
    connection_->shutdown();
    return broken_;
  }
  return reply;
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
