#include "server/session.h"

#include <poll.h>

#include <capnp/message.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "cudaabi/error_strings.h"
#include "cudaabi/honest_attributes.h"
#include "protocol/call_kinds.h"
#include "protocol/frame.h"
#include "protocol/message.h"
#include "protocol/transport/rdma.h"
#include "protocol/transport/shm.h"
#include "server/logging.h"

namespace fastgpu::server {
namespace {

// How long a worker waits for its client at the rendezvous socket (shm_rendezvous.h). The client
// comes right after the Welcome; a client in another network namespace sends its calls over the
// connection instead, which ends the wait at once.
constexpr auto kRendezvousWait = std::chrono::seconds(10);
// The RDMA bootstrap (both sides open their device, exchange endpoints, ready their QPs).
constexpr auto kRdmaBootstrapWait = std::chrono::seconds(10);

}  // namespace

Session::Session(std::unique_ptr<protocol::Connection> connection, const cudaabi::DriverTable& driver,
                 std::unique_ptr<scheduler::VgpuAccess> lease, std::uint64_t id, scheduler::SessionLimits limits)
    : connection_(std::move(connection)),
      driver_(driver),
      id_(id),
      log_(serverLogger()),
      deliveries_(driver),
      limits_(limits) {
  state_ = std::make_unique<SessionState>(driver_, std::move(lease), limits);
  // A replay held at a host point waits for the client, not the GPU: the gate lets other tenants
  // go meanwhile (gate_policy.h, "Held at the host"). The gate outlives the session.
  if (scheduler::ComputeGate* gate = state_->lease().gate()) {
    hostPoints_.onHeld([gate, tenant = state_->lease().tenant()](bool held) { gate->holdAtHost(tenant, held); });
  }
}

Session::~Session() = default;

Status Session::run() {
  std::thread heartbeat([this] { runHeartbeat(); });
  Status status = welcome();
  std::vector<std::uint8_t> payload;
  std::vector<std::uint8_t> replies;
  connection_->setMaxFrameBytes(limits_.frameBytes);
  // An idle client sends heartbeats; one that sends nothing at all is gone.
  connection_->setIdleTimeout(std::chrono::milliseconds(static_cast<std::int64_t>(limits_.silenceSeconds * 1000)));
  while (status) {
    status = connection_->receive(payload);
    if (status.code() == CUDA_ERROR_TIMEOUT) {
      status = Status(ErrorKind::kDisconnected, CUDA_ERROR_TIMEOUT,
                      fmt::format("the client sent nothing for {} s: dead, frozen or cut off", limits_.silenceSeconds));
    }
    if (!status) break;
    if (payload.empty()) continue;  // a heartbeat
    replies.clear();
    deliveryBulk_.clear();
    std::span<const std::uint8_t> bulk;
    busy_ = true;
    status = serveBatch(payload, replies, bulk);
    busy_ = false;
    if (status && !replies.empty()) {
      std::span<const std::uint8_t> parts[] = {replies, bulk, protocol::bulkPadding(bulk.size()), deliveryBulk_,
                                               protocol::bulkPadding(deliveryBulk_.size())};
      status = send(parts);
    }
  }
  {
    std::lock_guard lock(heartbeatMutex_);
    stopping_ = true;
  }
  heartbeatWake_.notify_all();
  heartbeat.join();
  if (status.kind() == ErrorKind::kDisconnected) {
    log_->info("session={} ended: {}", id_, escapeForLog(status.message()));
  } else {
    log_->warn("session={} ended: {}", id_, escapeForLog(status.message()));
  }
  connection_->shutdown();
  // Free every resource of the session now; the process ends next. Replays held at host points
  // go on first (the driver's objects are destroyed after their work).
  hostPoints_.abandon();
  forgetCaptureGraphs();
  deliveries_.clear();
  sharedHost_.reset();
  rdmaCopies_.reset();
  state_.reset();
  log_->info("session={} resources freed", id_);
  return status;
}

Status Session::welcome() {
  capnp::MallocMessageBuilder builder;
  auto welcome = builder.initRoot<wire::Welcome>();
  welcome.setProtocolVersion(wire::PROTOCOL_VERSION);
  welcome.setSession(id_);
  int version = 0;
  driver_.cuDriverGetVersion(&version);
  welcome.setDriverVersion(version);
  welcome.setResult(CUDA_SUCCESS);
  welcome.setModuleCache(moduleCache_ != nullptr);
  std::optional<protocol::SharedSegment> segment;
  std::optional<protocol::RendezvousPoint> rendezvous;
  if (offerSharedMemory_ != SharedMemoryOffer::kNone) {
    auto created = protocol::SharedSegment::create();
    if (created) segment.emplace(std::move(*created));
    else log_->warn("session={} stays on its connection: {}", id_, created.status().message());
  }
  if (segment && offerSharedMemory_ == SharedMemoryOffer::kByRendezvous) {
    auto opened = protocol::RendezvousPoint::open();
    if (opened) {
      rendezvous.emplace(std::move(*opened));
      welcome.setSharedMemoryRendezvous(rendezvous->name());
      welcome.setSharedMemoryNonce(kj::arrayPtr(rendezvous->nonce().data(), rendezvous->nonce().size()));
    } else {
      log_->warn("session={} stays on its connection: {}", id_, opened.status().message());
      segment.reset();
    }
  }
  welcome.setSharedMemory(segment.has_value());
  if (segment) {
    auto heap = protocol::SharedHeap::create();
    if (heap) sharedHost_.emplace(driver_, std::move(*heap));
    else log_->warn("session={} gets no shared pinned memory: {}", id_, heap.status().message());
  }
  welcome.setSharedHeap(sharedHost_.has_value());
  welcome.setRdma(offerRdma_);
  const std::vector<scheduler::PhysicalGpu>& view = state_->lease().devices();
  const scheduler::MemoryQuota* quota = state_->lease().quota();
  auto devices = welcome.initDevices(static_cast<unsigned>(view.size()));
  for (unsigned client = 0; client < view.size(); ++client) {
    int ordinal = view[client].ordinal;
    auto device = devices[client];
    char name[256] = {};
    driver_.cuDeviceGetName(name, sizeof(name), ordinal);
    device.setName(name);
    CUuuid uuid{};
    driver_.cuDeviceGetUuid_v2(&uuid, ordinal);
    device.setUuid(kj::arrayPtr(reinterpret_cast<const capnp::byte*>(uuid.bytes), 16));
    std::size_t total = 0;
    driver_.cuDeviceTotalMem_v2(&total, ordinal);
    device.setTotalMemory(quota != nullptr ? quota->limit() : total);  // a vGPU's own size
    auto attributes = device.initAttributes(CU_DEVICE_ATTRIBUTE_MAX);
    for (int attribute = 1; attribute < CU_DEVICE_ATTRIBUTE_MAX; ++attribute) {
      int value = 0;
      driver_.cuDeviceGetAttribute(&value, static_cast<CUdevice_attribute>(attribute), ordinal);
      attributes.set(static_cast<unsigned>(attribute),
                     cudaabi::remoteSessionAttribute(static_cast<CUdevice_attribute>(attribute), value,
                                                     sharedHost_.has_value()));
    }
    char bus[64] = {};
    driver_.cuDeviceGetPCIBusId(bus, sizeof(bus), ordinal);
    device.setPciBusId(bus);
  }
  std::vector<std::uint8_t> bytes;
  protocol::appendMessage(builder, bytes);
  std::span<const std::uint8_t> parts[] = {bytes};
  Status sent = send(parts);
  if (sent && offerRdma_) return moveOntoRdma();
  if (!sent || !segment) return sent;
  if (rendezvous) return moveByRendezvous(std::move(*segment), std::move(*rendezvous));
  return moveToSharedMemory(std::move(*segment));
}

Status Session::moveOntoRdma() {
  std::lock_guard lock(sendMutex_);  // the heartbeat thread sends through connection_ too
  auto moved = protocol::moveOntoRdma(*connection_, std::chrono::steady_clock::now() + kRdmaBootstrapWait);
  if (!moved) {
    // The client fails the same way on its side (or learns of it from the closed socket).
    log_->warn("session={} cannot move onto RDMA: {}", id_, moved.status().message());
    return moved.status();
  }
  connection_ = std::move(*moved);
  log_->info("session={} moved onto RDMA", id_);
  return Status::ok();
}

Status Session::moveByRendezvous(protocol::SharedSegment segment, protocol::RendezvousPoint point) {
  // The client connects at once after the Welcome; one that cannot sends its calls here instead.
  auto deadline = std::chrono::steady_clock::now() + kRendezvousWait;
  auto arrived = point.await(connection_->pollDescriptor(), deadline, [&](const std::string& stranger) {
    log_->warn("session={} refused a connection without the session's nonce at its rendezvous socket ({})", id_,
               stranger);
  });
  if (!arrived) return arrived.status();
  if (!*arrived) {
    log_->info("session={} stays on its connection: the client did not join its rendezvous", id_);
    sharedHost_.reset();  // the client has no heap to allocate from
    return Status::ok();
  }
  return moveToSharedMemory(std::move(segment), **arrived);
}

Status Session::moveToSharedMemory(protocol::SharedSegment segment, int socket) {
  std::lock_guard lock(sendMutex_);  // the heartbeat thread sends through connection_ too
  std::string peer = connection_->peer();
  if (socket < 0) socket = connection_->detach();
  if (socket < 0) return Status(ErrorKind::kFailed, CUDA_ERROR_OPERATING_SYSTEM, "the connection cannot pass the segment");
  auto moved = protocol::offerSharedMemory(std::move(segment), socket, "shm " + peer,
                                           sharedHost_ ? sharedHost_->descriptor() : -1);
  if (!moved) return moved.status();
  connection_ = std::move(*moved);  // a connection the segment did not travel over closes here
  log_->info("session={} moved onto shared memory", id_);
  return Status::ok();
}

Status Session::send(std::span<const std::span<const std::uint8_t>> parts) {
  std::lock_guard lock(sendMutex_);
  lastSent_ = std::chrono::steady_clock::now();
  return connection_->send(parts);
}

void Session::runHeartbeat() {
  auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(limits_.heartbeatSeconds));
  std::unique_lock lock(heartbeatMutex_);
  while (!heartbeatWake_.wait_for(lock, interval / 4, [&] { return stopping_; })) {
    if (!busy_) continue;  // an idle server owes the client nothing: it is not waiting
    // A replay held at a host point waits for a client that may be gone while this session's
    // thread waits for the replay: a gone client lets it go, so the session can end.
    if (hostPoints_.anyHeld() && peerClosed()) {
      peerGone_ = true;
      hostPoints_.abandon();
    }
    std::lock_guard sending(sendMutex_);
    if (std::chrono::steady_clock::now() - lastSent_ < interval) continue;
    lastSent_ = std::chrono::steady_clock::now();
    if (!connection_->send(std::span<const std::span<const std::uint8_t>>{})) {
      peerGone_ = true;
      hostPoints_.abandon();
      return;
    }
  }
}

bool Session::peerClosed() const {
  int fd = connection_->pollDescriptor();
  if (fd < 0) return false;  // a transport without one: a failed heartbeat tells
  pollfd hangup{fd, POLLRDHUP, 0};
  return ::poll(&hangup, 1, 0) > 0 && (hangup.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

Status Session::serveBatch(std::span<const std::uint8_t> payload, std::vector<std::uint8_t>& replies,
                           std::span<const std::uint8_t>& replyBulk) {
  protocol::MessageCursor cursor(payload);
  std::optional<capnp::FlatArrayMessageReader> message;
  while (!cursor.done()) {
    if (Status status = cursor.next(message); !status) return status;
    Status decoded = protocol::decodeSafely("call", [&] {
      auto call = message->getRoot<wire::Call>();
      std::span<const std::uint8_t> bulk;
      if (std::uint64_t bytes = protocol::inboundBulkBytes(call); bytes > 0) {
        auto taken = cursor.takeBulk(bytes);
        if (!taken) return taken.status();
        bulk = *taken;
      }
      Answer answer;
      // A stale context id runs the call with no current context: the driver then answers
      // CUDA_ERROR_INVALID_CONTEXT for calls that need one.
      if (!state_->makeCurrent(call.getContext())) (void)state_->makeCurrent(0);
      bool answered = protocol::expectsReply(call);
      auto started = std::chrono::steady_clock::now();
      Status result = execute(call, bulk, answer);
      scheduler::VgpuUsage* usage = state_->lease().usage();
      if (usage != nullptr && answered) {
        usage->recordLatency(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      }
      countWork(call, result, answer, usage);
      if (!result) {
        log_->debug("session={} call={} failed: {}", id_, static_cast<int>(call.which()), escapeForLog(result.message()));
      }
      if (answered) {
        writeReply(result, answer, replies);
        replyBulk = answer.bulk;
      } else if (!result && deferred_) {
        deferred_ = result;
      }
      return Status::ok();
    });
    if (!decoded) return decoded;
  }
  return Status::ok();
}

void Session::writeReply(const Status& status, const Answer& answer, std::vector<std::uint8_t>& replies) {
  capnp::MallocMessageBuilder builder;
  auto reply = builder.initRoot<wire::Reply>();
  reply.setResult(status.code());
  if (!status) reply.setMessage(status.message());
  reply.setBulkBytes(answer.bulk.size());
  reply.setDeferredError(deferred_.code());
  if (!deferred_) reply.setDeferredMessage(deferred_.message());
  deferred_ = Status::ok();
  std::vector<PendingDeliveries::Collected> delivered;
  bool more = deliveries_.collect(delivered, deliveryBulk_);
  if (!delivered.empty()) {
    auto list = reply.initDeliveries(static_cast<unsigned>(delivered.size()));
    for (unsigned i = 0; i < delivered.size(); ++i) {
      list[i].setDelivery(delivered[i].id);
      list[i].setBytes(delivered[i].bytes);
    }
  }
  reply.setMoreDeliveries(more);
  if (relay_ != nullptr) {
    auto printed = relay_->take();
    auto bytes = [](const std::string& text) {
      return kj::arrayPtr(reinterpret_cast<const capnp::byte*>(text.data()), text.size());
    };
    if (!printed.output.empty()) reply.setDeviceOutput(bytes(printed.output));
    if (!printed.errors.empty()) reply.setDeviceErrors(bytes(printed.errors));
  }
  switch (answer.kind) {
    case Answer::Kind::kNone: reply.setNone(); break;
    case Answer::Kind::kHandle: reply.setHandle(answer.handle); break;
    case Answer::Kind::kValues: {
      auto values = reply.initValues(static_cast<unsigned>(answer.values.size()));
      for (unsigned i = 0; i < answer.values.size(); ++i) values.set(i, answer.values[i]);
      break;
    }
    case Answer::Kind::kData: reply.setData(kj::arrayPtr(answer.data.data(), answer.data.size())); break;
    case Answer::Kind::kModule: {
      auto module = reply.initModule();
      module.setHandle(answer.handle);
      auto kernels = module.initKernels(static_cast<unsigned>(answer.kernels.size()));
      for (unsigned i = 0; i < answer.kernels.size(); ++i) {
        const auto& kernel = answer.kernels[i];
        kernels[i].setName(kernel.name);
        kernels[i].setHandle(kernel.handle);
        kernels[i].setParamBytes(kernel.paramBytes);
        auto params = kernels[i].initParams(static_cast<unsigned>(kernel.params.size()));
        for (unsigned p = 0; p < kernel.params.size(); ++p) {
          params[p].setOffset(kernel.params[p].first);
          params[p].setSize(kernel.params[p].second);
        }
      }
      break;
    }
  }
  protocol::appendMessage(builder, replies);
}

void Session::countWork(wire::Call::Reader call, const Status& result, const Answer& answer, scheduler::VgpuUsage* usage) {
  if (!result) return;
  std::uint64_t launches = 0, toDevice = 0, fromDevice = 0;
  switch (call.which()) {
    case wire::Call::LAUNCH:
      launches = 1;
      break;
    case wire::Call::COPY:
      if (call.getCopy().getSrc() == 0) toDevice = call.getCopy().getBytes();
      if (call.getCopy().getDst() == 0) fromDevice = answer.bulk.size();
      break;
    case wire::Call::COPY2_D:
      if (call.getCopy2D().getSrc() == 0) toDevice = call.getCopy2D().getData().size();
      if (call.getCopy2D().getToHost()) fromDevice = answer.data.size();
      break;
    case wire::Call::COPY_SHARED:
      (call.getCopyShared().getToHost() ? fromDevice : toDevice) = call.getCopyShared().getBytes();
      break;
    case wire::Call::COPY_RDMA:
      (call.getCopyRdma().getToHost() ? fromDevice : toDevice) = call.getCopyRdma().getBytes();
      break;
    default:
      return;
  }
  scheduler::SessionCounters& counters = state_->lease().slot().counters;
  counters.launches.fetch_add(launches, std::memory_order_relaxed);
  counters.bytesToDevice.fetch_add(toDevice, std::memory_order_relaxed);
  counters.bytesFromDevice.fetch_add(fromDevice, std::memory_order_relaxed);
  if (usage == nullptr) return;
  usage->launches.fetch_add(launches, std::memory_order_relaxed);
  usage->bytesToDevice.fetch_add(toDevice, std::memory_order_relaxed);
  usage->bytesFromDevice.fetch_add(fromDevice, std::memory_order_relaxed);
}

Status Session::execute(wire::Call::Reader call, std::span<const std::uint8_t> bulk, Answer& answer) {
  callThread_ = call.getThread();
  Status result = route(call, bulk, answer);
  switch (call.which()) {
    case wire::Call::CONTEXT_SYNCHRONIZE:
    case wire::Call::AWAIT_CONTEXT_WORK:
    case wire::Call::STREAM_SYNCHRONIZE:
    case wire::Call::EVENT_SYNCHRONIZE:
      state_->settlePoolCharges();  // pools give memory back at synchronizations
      break;
    default:
      break;
  }
  return result;
}

Status Session::route(wire::Call::Reader call, std::span<const std::uint8_t> bulk, Answer& answer) {
  switch (call.which()) {
    case wire::Call::PRIMARY_RETAIN:
    case wire::Call::PRIMARY_RELEASE:
    case wire::Call::PRIMARY_RESET:
    case wire::Call::PRIMARY_GET_STATE:
    case wire::Call::PRIMARY_SET_FLAGS:
    case wire::Call::CONTEXT_CREATE:
    case wire::Call::CONTEXT_DESTROY:
    case wire::Call::CONTEXT_SYNCHRONIZE:
    case wire::Call::AWAIT_CONTEXT_WORK:
    case wire::Call::GET_LIMIT:
    case wire::Call::SET_LIMIT:
    case wire::Call::STREAM_PRIORITY_RANGE:
    case wire::Call::PEER_QUERY:
    case wire::Call::PEER_ACCESS:
    case wire::Call::TEXTURE1_D_LINEAR_MAX_WIDTH:
    case wire::Call::VGPU_STATUS:
      return executeContextCall(call, answer);
    case wire::Call::MEM_GET_INFO:
    case wire::Call::MEM_ALLOC:
    case wire::Call::MEM_FREE:
    case wire::Call::COPY:
    case wire::Call::STAGE_TO_HOST:
    case wire::Call::HOST_ALLOC_SHARED:
    case wire::Call::HOST_FREE_SHARED:
    case wire::Call::COPY_SHARED:
    case wire::Call::COPY_RDMA:
    case wire::Call::COPY2_D:
    case wire::Call::MEMSET:
      return executeMemoryCall(call, bulk, answer);
    case wire::Call::STREAM_CREATE:
    case wire::Call::STREAM_DESTROY:
    case wire::Call::STREAM_QUERY:
    case wire::Call::STREAM_SYNCHRONIZE:
    case wire::Call::STREAM_WAIT_EVENT:
    case wire::Call::EVENT_CREATE:
    case wire::Call::EVENT_DESTROY:
    case wire::Call::EVENT_RECORD:
    case wire::Call::EVENT_QUERY:
    case wire::Call::EVENT_SYNCHRONIZE:
    case wire::Call::EVENT_ELAPSED:
    case wire::Call::STREAM_MEM_OPS:
    case wire::Call::STREAM_GET_ID:
    case wire::Call::STREAM_SET_ATTRIBUTE:
    case wire::Call::STREAM_GET_ATTRIBUTE:
    case wire::Call::STREAM_COPY_ATTRIBUTES:
    case wire::Call::RESET_PERSISTING_L2_CACHE:
      return executeStreamCall(call, answer);
    case wire::Call::MEM_ADDRESS_RESERVE:
    case wire::Call::MEM_ADDRESS_FREE:
    case wire::Call::MEM_CREATE:
    case wire::Call::MEM_RELEASE:
    case wire::Call::MEM_MAP:
    case wire::Call::MEM_UNMAP:
    case wire::Call::MEM_SET_ACCESS:
    case wire::Call::MEM_GRANULARITY:
      return executeVirtualMemoryCall(call, answer);
    case wire::Call::MEM_POOL_DEFAULT:
    case wire::Call::MEM_POOL_CURRENT:
    case wire::Call::MEM_POOL_SET_CURRENT:
    case wire::Call::MEM_POOL_CREATE:
    case wire::Call::MEM_POOL_DESTROY:
    case wire::Call::MEM_POOL_TRIM:
    case wire::Call::MEM_POOL_SET_ATTRIBUTE:
    case wire::Call::MEM_POOL_GET_ATTRIBUTE:
    case wire::Call::MEM_POOL_SET_ACCESS:
    case wire::Call::MEM_POOL_GET_ACCESS:
    case wire::Call::MEM_ALLOC_ASYNC:
    case wire::Call::MEM_FREE_ASYNC:
      return executePoolCall(call, answer);
    case wire::Call::TENSOR_MAP_ENCODE:
    case wire::Call::TENSOR_MAP_REPLACE_ADDRESS:
      return executeTensorMapCall(call, answer);
    case wire::Call::STREAM_BEGIN_CAPTURE:
    case wire::Call::STREAM_END_CAPTURE:
    case wire::Call::CAPTURE_INFO:
    case wire::Call::CAPTURE_DEPENDENCIES:
    case wire::Call::CAPTURE_TO_HOST:
    case wire::Call::CAPTURE_FROM_HOST:
    case wire::Call::CAPTURE_HOST_NODE:
      return executeCaptureCall(call, answer);
    case wire::Call::GRAPH_KERNEL_SET_ATTRIBUTE:
    case wire::Call::GRAPH_KERNEL_GET_ATTRIBUTE:
    case wire::Call::GRAPH_KERNEL_COPY_ATTRIBUTES:
      return kernelNodeAttribute(call, answer);
    case wire::Call::GRAPH_INSTANTIATE:
    case wire::Call::GRAPH_LAUNCH:
    case wire::Call::GRAPH_EXEC_DESTROY:
    case wire::Call::GRAPH_DESTROY:
    case wire::Call::GRAPH_NODE_COUNT:
    case wire::Call::GRAPH_EXEC_UPDATE:
    case wire::Call::READ_STAGED:
    case wire::Call::GRAPH_CREATE:
    case wire::Call::GRAPH_ADD_NODE:
    case wire::Call::GRAPH_QUERY:
    case wire::Call::GRAPH_EDGES:
    case wire::Call::GRAPH_CLONE:
    case wire::Call::GRAPH_FIND_IN_CLONE:
    case wire::Call::GRAPH_DESTROY_NODE:
    case wire::Call::GRAPH_CHILD_GRAPH:
    case wire::Call::GRAPH_KERNEL_SET:
    case wire::Call::GRAPH_NODE_ENABLED:
    case wire::Call::GRAPH_NODE_PARAMS:
    case wire::Call::WRITE_STAGED:
    case wire::Call::HOST_POINT_WAIT:
    case wire::Call::HOST_POINT_RELEASE:
      return executeGraphCall(call, bulk, answer);
    case wire::Call::IPC_GET_MEM_HANDLE:
    case wire::Call::IPC_OPEN_MEM_HANDLE:
    case wire::Call::IPC_CLOSE_MEM_HANDLE:
    case wire::Call::IPC_GET_EVENT_HANDLE:
    case wire::Call::IPC_OPEN_EVENT_HANDLE:
    case wire::Call::MEM_EXPORT:
    case wire::Call::MEM_IMPORT:
    case wire::Call::MEM_POOL_EXPORT:
    case wire::Call::MEM_POOL_IMPORT:
    case wire::Call::MEM_POOL_EXPORT_POINTER:
    case wire::Call::MEM_POOL_IMPORT_POINTER:
      return executeIpcCall(call, answer);
    case wire::Call::CODE_UPLOAD:
      return uploadCode(call.getCodeUpload(), bulk);
    case wire::Call::COLLECT_DELIVERIES:
      if (call.getCollectDeliveries()) deliveries_.finishAll();
      return Status::ok();  // the reply carries them
    case wire::Call::LINK_CREATE:
    case wire::Call::LINK_ADD_DATA:
    case wire::Call::LINK_COMPLETE:
    case wire::Call::LINK_DESTROY:
      return executeLinkCall(call, answer);
    default:
      return executeCodeCall(call, answer);
  }
}

Status Session::driverResult(CUresult result, const char* what) {
  if (result == CUDA_SUCCESS) return Status::ok();
  return Status(result, fmt::format("{}: {}", what, cudaabi::errorNameOrNumber(result)));
}

}  // namespace fastgpu::server
