// The interposer's connection to fastgpu-server and its ordered call stream (DESIGN.md,
// decisions 2 and 5). One Client per process, created by cuInit (nothing happens at load time)
// and recreated on the first call of a forked child.
//
// Calls that CUDA lets return early are post()ed: appended to a batch and not waited for. The
// batch goes out when a call needs an answer (call()), when it grows past kFlushBytes, or after
// kBatchFlushMicros (a background flusher). Errors of posted calls come back with the next reply
// and are returned by the next synchronizing call (takeDeferredError()).
//
// Threading: every method may be called from any thread; one mutex orders the call stream.
#pragma once


#include <capnp/message.h>
#include <capnp/serialize.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <optional>
#include <mutex>
#include <thread>
#include <vector>

#include "cudaabi/result.h"
#include "interposer/delivery_table.h"
#include "interposer/remote_device.h"
#include "interposer/transport_choice.h"
#include "protocol/message.h"
#include "protocol/transport/rdma_registrations.h"
#include "protocol/schema/fastgpu.capnp.h"
#include "protocol/transport/shared_heap.h"
#include "protocol/transport/transport.h"

namespace fastgpu::interposer {

class Client;

// A reply, with the buffer it was received into; the buffer goes back to the client's pool
// when the reply is destroyed (so big device-to-host chunks do not allocate every time).
class ReplyMessage {
 public:
  ReplyMessage(Client& owner, std::vector<std::uint8_t> payload) : owner_(owner), payload_(std::move(payload)) {}
  ~ReplyMessage();
  ReplyMessage(const ReplyMessage&) = delete;
  ReplyMessage& operator=(const ReplyMessage&) = delete;

  wire::Reply::Reader get() const { return reader->getRoot<wire::Reply>(); }
  // The raw bytes that followed the reply (device-to-host data).
  std::span<const std::uint8_t> bulk() const { return bulk_; }
  std::span<const std::uint8_t> payload() const { return payload_; }

  mutable std::optional<capnp::FlatArrayMessageReader> reader;  // reading a root is not const in capnp
  std::span<const std::uint8_t> bulk_;

 private:
  Client& owner_;
  std::vector<std::uint8_t> payload_;
};

struct ClientStats {
  std::uint64_t roundTrips = 0;   // calls that waited for an answer
  std::uint64_t postedCalls = 0;  // calls sent without waiting
  std::uint64_t flushes = 0;      // batches sent
  std::uint64_t bytesSent = 0;    // frame payloads sent (calls, bulk data, code images)
};

struct ClientConfig {
  std::string server;  // FASTGPU_SERVER
  std::string vgpu;    // FASTGPU_VGPU
  std::string token;   // FASTGPU_TOKEN
  std::string transport;  // FASTGPU_TRANSPORT (transport_choice.h)
  bool printStats = false;  // FASTGPU_STATS=1
  // FASTGPU_TIMEOUT, in seconds: how long the server may stay silent (connecting, in the
  // handshake, or while a call waits) before the session counts as lost. Parsed by connect().
  std::string timeout;
  // For tls:// servers: FASTGPU_TLS_CA (the CAs to trust; default: the system's store),
  // FASTGPU_TLS_CERT and FASTGPU_TLS_KEY (a client certificate, for servers that require one).
  protocol::TlsClientSettings tls;
  static ClientConfig fromEnvironment();
};

class Client {
 public:
  static constexpr std::size_t kFlushBytes = 1 << 20;
  static constexpr int kBatchFlushMicros = 200;
  // The default of FASTGPU_TIMEOUT: a dead or frozen server is reported within this.
  static constexpr double kDefaultTimeoutSeconds = 10;
  // An idle client sends an empty frame this often, so that the server can tell a silent
  // client (dead, frozen, cut off) from an idle one.
  static constexpr auto kHeartbeatInterval = std::chrono::seconds(2);

  // Connects and shakes hands; fails with a message that says what to do.
  static Result<std::unique_ptr<Client>> connect(const ClientConfig& config, int cudaVersion);
  ~Client();

  // What the Welcome said, decoded once (remote_device.h says why not read from it again).
  const std::vector<RemoteDevice>& devices() const { return devices_; }
  bool serverCachesModules() const { return serverCachesModules_; }

  // Appends an asynchronous call to the batch. With `bulk`, the batch goes out at once, the bulk
  // bytes gathered straight from the caller's memory after the call.
  void post(capnp::MessageBuilder& call, std::span<const std::uint8_t> bulk = {});
  // Sends the batch ending with `call` (and its bulk bytes) and waits for its reply. A broken
  // connection gives kDisconnected; every later call fails the same way.
  Result<std::unique_ptr<ReplyMessage>> call(capnp::MessageBuilder& call, std::span<const std::uint8_t> bulk = {});
  // Posts an asynchronous copy into pinned memory at `destination` (`copy` is the call's
  // stageToHost, `call` its message): numbers it and records where its bytes go, in one step so
  // that ids reach the server in order. False, with nothing posted, when too many copies or bytes
  // are in flight: the caller copies synchronously instead.
  bool postDelivery(capnp::MessageBuilder& call, wire::StagedDelivery::Builder copy, void* destination);
  // Pinned memory going away (freed, unregistered): pending copies into it finish first (one
  // round trip, only when there are some), as the driver waits for them.
  void finishDeliveriesInto(const void* base, std::uint64_t bytes);
  // The heap this client's pinned memory comes from when it shares memory with the server (same
  // host; shared_heap.h), else null.
  const protocol::SharedHeap* sharedHeap() const { return sharedHeap_ ? &*sharedHeap_ : nullptr; }
  // The shared heap's staging chunk (shared_pinned.h): made on first use, used by one copy at a
  // time.
  struct StagingSlot {
    std::mutex mutex;
    bool asked = false;            // made, or refused: asked for once
    void* memory = nullptr;        // null: none
    std::uint64_t offset = 0;      // in the heap
    // An asynchronous copy to the device leaves the area in use until its stream reaches it
    // (shared_copies.h): the next copy through it first waits for that stream.
    struct Busy {
      std::uint64_t context = 0;
      std::uint64_t stream = 0;
      bool perThread = false;
      std::uint32_t thread = 0;  // whose per-thread default stream (threadSerial)
    };
    std::optional<Busy> busy;
  };
  StagingSlot& staging() { return staging_; }
  // On an rdma:// session, the registrations of pinned memory the server reads and writes by
  // RDMA (rdma_copies.h); else null.
  protocol::RdmaRegistrationCache* rdmaRegistrations() { return rdmaRegistrations_.get(); }
  // Keeps `lease` (the registration an asynchronous RDMA copy just posted names) alive until the
  // next reply: the server has done every earlier call by then.
  void holdUntilNextReply(protocol::RdmaRegistrationCache::Lease lease);
  // Sends what is batched now.
  Status flush();
  // The first error of asynchronous calls not yet reported, cleared.
  CUresult takeDeferredError();
  // Records a deferred error from a reply (first one wins).
  void deferError(CUresult error);
  // What the server's kernels printed, or its driver wrote to stderr, delivered with a reply.
  static void writeDeviceOutput(capnp::Data::Reader text, std::FILE* to);

  ClientStats stats() const;
  // Takes back a receive buffer for reuse (ReplyMessage's destructor).
  void recycle(std::vector<std::uint8_t> buffer);
  // Stops the flusher and sends what is left; later calls still work.
  void quiesce();

 private:
  // After the Welcome: takes the segment the server sends when it offers shared memory, and
  // moves the session onto it; refuses a server that does not when `transport` requires it.
  Status moveToSharedMemory(const std::string& server, const TransportChoice& transport);
  // After the Welcome, for an rdma:// URL: the bootstrap with the worker over this connection's
  // socket, then every frame by RDMA; fails cuInit saying why (no device, a server without RDMA).
  Status moveOntoRdma(const std::string& server, const TransportChoice& transport, std::chrono::milliseconds timeout);
  Client(std::unique_ptr<protocol::Connection> connection, std::vector<std::uint8_t> welcomeBytes,
         std::chrono::milliseconds timeout);
  Status flushLocked(std::span<const std::uint8_t> bulk = {});
  void postLocked(capnp::MessageBuilder& call, std::span<const std::uint8_t> bulk);
  // Sends the batch's frame (or an empty one: a heartbeat).
  Status sendLocked(std::span<const std::span<const std::uint8_t>> parts);
  // The next frame that is not a heartbeat, waiting at most the timeout between frames.
  Status receiveReply(std::vector<std::uint8_t>& payload);
  // Sends the batch (with `bulk`) and reads its reply, writing the deliveries it carries.
  Result<std::unique_ptr<ReplyMessage>> exchangeLocked(std::span<const std::uint8_t> bulk);
  // Asks for the completed deliveries the server still holds until it has none left; with
  // `wait`, it first waits for every pending copy.
  Status collectDeliveriesLocked(bool wait);
  // The reply's own fields beyond its answer: deferred errors, device output, bulk, deliveries.
  Status decodeReplyLocked(ReplyMessage& reply, protocol::MessageCursor& cursor);
  // Flushes batches on time, and sends heartbeats while idle.
  void runFlusher();

  std::unique_ptr<protocol::Connection> connection_;
  // Registrations with connection_'s RDMA link: declared after it, so gone before it.
  std::unique_ptr<protocol::RdmaRegistrationCache> rdmaRegistrations_;
  std::vector<protocol::RdmaRegistrationCache::Lease> heldLeases_;  // under mutex_
  std::vector<std::uint8_t> welcomeBytes_;
  std::optional<capnp::FlatArrayMessageReader> welcomeReader_;
  wire::Welcome::Reader welcome_;  // read while connecting only
  std::vector<RemoteDevice> devices_;
  bool serverCachesModules_ = false;

  const std::chrono::milliseconds timeout_;
  mutable std::mutex mutex_;  // orders the call stream; guards everything below
  std::chrono::steady_clock::time_point lastSent_ = std::chrono::steady_clock::now();
  std::vector<std::uint8_t> batch_;
  std::chrono::steady_clock::time_point batchStarted_;
  Status broken_;
  std::optional<protocol::SharedHeap> sharedHeap_;
  StagingSlot staging_;
  DeliveryTable deliveries_;
  bool moreDeliveries_ = false;  // the last reply left completed deliveries on the server
  ClientStats stats_;
  std::atomic<CUresult> deferred_{CUDA_SUCCESS};

  std::mutex spareMutex_;
  std::vector<std::vector<std::uint8_t>> spare_;  // receive buffers to reuse

  std::condition_variable flusherWake_;
  bool stopFlusher_ = false;
  std::thread flusher_;
};

}  // namespace fastgpu::interposer
