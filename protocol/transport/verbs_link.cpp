// See verbs_link.h. The verbs calls that are inline in <infiniband/verbs.h> (post, poll, notify)
// go through the device context's own operations; the rest come from libibverbs.so.1 by dlsym
// (verbs_device.h).
#include "protocol/transport/verbs_link.h"

#include <arpa/inet.h>
#include <infiniband/verbs.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>

#include <fmt/format.h>

#include "protocol/transport/system_failure.h"
#include "protocol/transport/verbs_device.h"

namespace fastgpu::protocol {
namespace {

using verbs_device::DeviceChoice;
using verbs_device::openDevice;
using verbs_device::verbs;
using verbs_device::verbsFailure;
using verbs_device::VerbsLibrary;

Status linkDown(std::string_view why) {
  return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, fmt::format("the RDMA link is down: {}", why));
}

// ---- what the peers exchange ----

// Little-endian on the wire; 64 bytes.
struct Endpoint {
  std::uint32_t magic = 0;
  std::uint32_t qpNumber = 0;
  std::uint32_t psn = 0;
  std::uint32_t rkey = 0;
  std::uint64_t address = 0;
  std::uint64_t bytes = 0;
  std::uint16_t lid = 0;
  std::uint8_t mtu = 0;
  std::uint8_t reserved[5] = {};
  std::uint8_t gid[16] = {};
  std::uint8_t padding[4] = {};
};
static_assert(sizeof(Endpoint) == 64, "the bootstrap record's layout is fixed");
constexpr std::uint32_t kEndpointMagic = 0x414d4452;  // "RDMA" in memory order

// Moves `bytes` through the socket in one direction, waiting at most until `deadline`.
Status transfer(int socket, std::uint8_t* data, std::size_t bytes, bool sending,
                std::chrono::steady_clock::time_point deadline) {
  while (bytes > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status(ErrorKind::kFailed, CUDA_ERROR_TIMEOUT, "the RDMA bootstrap timed out");
    pollfd wanted{socket, static_cast<short>(sending ? POLLOUT : POLLIN), 0};
    int ready = ::poll(&wanted, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return systemFailure("poll (RDMA bootstrap)");
    if (ready == 0) continue;
    ssize_t moved = sending ? ::send(socket, data, bytes, MSG_NOSIGNAL) : ::recv(socket, data, bytes, 0);
    if (moved < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (moved <= 0) {
      return Status(ErrorKind::kDisconnected, CUDA_ERROR_UNKNOWN, "the peer left during the RDMA bootstrap");
    }
    data += moved;
    bytes -= static_cast<std::size_t>(moved);
  }
  return Status::ok();
}

// ---- the link ----

constexpr int kSendDepth = 256;
constexpr int kRecvDepth = 512;
constexpr int kSignalEvery = 32;
constexpr auto kSpin = std::chrono::microseconds(30);

class VerbsLink final : public RdmaLink {
 public:
  explicit VerbsLink(DeviceChoice device) : device_(device) {}
  ~VerbsLink() override;
  VerbsLink(const VerbsLink&) = delete;
  VerbsLink& operator=(const VerbsLink&) = delete;

  // Registers `bytes`, makes the queues and the QP (INIT).
  Status prepare(std::size_t bytes);
  Endpoint local() const;
  // RTR towards `remote`, then RTS.
  Status connect(const Endpoint& remote);

  std::span<std::uint8_t> memory() override { return {static_cast<std::uint8_t*>(memory_), bytes_}; }
  Status write(std::uint64_t localOffset, std::uint64_t remoteOffset, std::uint32_t bytes,
               std::optional<std::uint32_t> immediate) override;
  Result<std::uint32_t> nextImmediate() override;
  Result<RdmaRegion> registerMemory(std::span<std::uint8_t> memory, bool peerMayAccess) override;
  void deregister(const RdmaRegion& region) override;
  Status read(const RdmaRegion& into, std::uint64_t offset, RdmaPeerAddress from, std::uint32_t bytes) override;
  Status writeTo(const RdmaRegion& from, std::uint64_t offset, RdmaPeerAddress to, std::uint32_t bytes) override;
  void shutdown() override;

 private:
  // A signalled READ or WRITE between `region` (at `offset`) and the peer's `remote`, waited for.
  Status oneSided(const RdmaRegion& region, std::uint64_t offset, RdmaPeerAddress remote, std::uint32_t bytes,
                  ibv_wr_opcode opcode);
  // Waits until send request `id` completed: a 30 µs spin, then sleeps on the send completion
  // channel. Only the thread holding oneSidedMutex_ calls it.
  Status awaitSend(std::uint64_t id);
  // A completion queue's sleeping side: its channel, whether it is armed, events not yet
  // acknowledged.
  struct CompletionWait {
    ibv_comp_channel* channel = nullptr;
    ibv_cq* cq = nullptr;
    bool armed = false;
    unsigned unacked = 0;
  };
  // After a poll of `wait.cq` found nothing: spins until kSpin after `started`, then arms the
  // queue (the caller polls once more), then sleeps until its channel has an event or
  // shutdown() wakes it.
  Status waitMore(CompletionWait& wait, std::chrono::steady_clock::time_point started);
  Status postReceives(int count);
  // Posts `request` (its wr_id and flags set here: signalled when asked, and every kSignalEvery-th
  // anyway) once the send queue has room; its id. sendMutex_ held.
  Result<std::uint64_t> post(ibv_send_wr& request, bool signalled);
  // Reaps send completions until fewer than kSendDepth - kSignalEvery requests are in flight.
  Status reapSends(bool untilRoom);

  const VerbsLibrary& v_ = verbs();
  DeviceChoice device_;
  void* memory_ = MAP_FAILED;
  std::size_t bytes_ = 0;
  ibv_pd* pd_ = nullptr;
  ibv_mr* mr_ = nullptr;
  ibv_comp_channel* channel_ = nullptr;
  ibv_comp_channel* sendChannel_ = nullptr;
  ibv_cq* sendCq_ = nullptr;
  ibv_cq* recvCq_ = nullptr;
  ibv_qp* qp_ = nullptr;
  std::uint32_t psn_ = 0;
  Endpoint remote_{};
  int wake_ = -1;  // an eventfd: shutdown() wakes a sleeping nextImmediate()
  std::atomic<bool> down_{false};

  std::mutex sendMutex_;  // write() from two threads
  std::uint64_t posted_ = 0, completed_ = 0;
  std::deque<std::uint32_t> immediates_;  // taken from the CQ, not yet returned (receiving thread)
  CompletionWait recvWait_;               // the receiving thread's

  std::mutex oneSidedMutex_;  // one READ or WRITE to registered memory at a time
  CompletionWait sendWait_;   // held by oneSidedMutex_
  std::mutex registrationsMutex_;
  std::map<std::uint64_t, ibv_mr*> registrations_;
  std::uint64_t lastRegistration_ = 0;
};

VerbsLink::~VerbsLink() {
  if (qp_ != nullptr) v_.destroyQp(qp_);
  if (recvWait_.unacked > 0) v_.ackCqEvents(recvCq_, recvWait_.unacked);
  if (sendWait_.unacked > 0) v_.ackCqEvents(sendCq_, sendWait_.unacked);
  for (auto& [id, mr] : registrations_) v_.deregMr(mr);
  if (sendCq_ != nullptr) v_.destroyCq(sendCq_);
  if (recvCq_ != nullptr) v_.destroyCq(recvCq_);
  if (channel_ != nullptr) v_.destroyCompChannel(channel_);
  if (sendChannel_ != nullptr) v_.destroyCompChannel(sendChannel_);
  if (mr_ != nullptr) v_.deregMr(mr_);
  if (pd_ != nullptr) v_.deallocPd(pd_);
  if (memory_ != MAP_FAILED) ::munmap(memory_, bytes_);
  if (wake_ >= 0) ::close(wake_);
  v_.closeDevice(device_.context);
}

Status VerbsLink::prepare(std::size_t bytes) {
  bytes_ = bytes;
  memory_ = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory_ == MAP_FAILED) return systemFailure("mmap (RDMA region)");
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_ < 0) return systemFailure("eventfd");
  pd_ = v_.allocPd(device_.context);
  if (pd_ == nullptr) return verbsFailure("ibv_alloc_pd", errno);
  mr_ = v_.regMr(pd_, memory_, bytes, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
  if (mr_ == nullptr) return verbsFailure("ibv_reg_mr", errno);
  channel_ = v_.createCompChannel(device_.context);
  sendChannel_ = v_.createCompChannel(device_.context);
  if (channel_ == nullptr || sendChannel_ == nullptr) return verbsFailure("ibv_create_comp_channel", errno);
  sendCq_ = v_.createCq(device_.context, kSendDepth, nullptr, sendChannel_, 0);
  recvCq_ = v_.createCq(device_.context, kRecvDepth, nullptr, channel_, 0);
  if (sendCq_ == nullptr || recvCq_ == nullptr) return verbsFailure("ibv_create_cq", errno);
  recvWait_ = CompletionWait{channel_, recvCq_};
  sendWait_ = CompletionWait{sendChannel_, sendCq_};
  ibv_qp_init_attr init{};
  init.send_cq = sendCq_;
  init.recv_cq = recvCq_;
  init.qp_type = IBV_QPT_RC;
  init.sq_sig_all = 0;
  init.cap.max_send_wr = kSendDepth;
  init.cap.max_recv_wr = kRecvDepth;
  init.cap.max_send_sge = 1;
  init.cap.max_recv_sge = 1;
  qp_ = v_.createQp(pd_, &init);
  if (qp_ == nullptr) return verbsFailure("ibv_create_qp", errno);
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_INIT;
  attr.pkey_index = 0;
  attr.port_num = device_.port;
  // The peer writes ring data and, for bulk copies, reads and writes memory this side registered
  // for it (registerMemory: each registration grants its own access).
  attr.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
  if (int error = v_.modifyQp(qp_, &attr, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS)) {
    return verbsFailure("ibv_modify_qp (INIT)", error);
  }
  psn_ = std::random_device{}() & 0xffffff;
  // Receives are posted before the peer can write: a write with an immediate needs one.
  return postReceives(kRecvDepth);
}

Endpoint VerbsLink::local() const {
  Endpoint endpoint;
  endpoint.magic = kEndpointMagic;
  endpoint.qpNumber = qp_->qp_num;
  endpoint.psn = psn_;
  endpoint.rkey = mr_->rkey;
  endpoint.address = reinterpret_cast<std::uint64_t>(memory_);
  endpoint.bytes = bytes_;
  endpoint.lid = device_.portAttr.lid;
  endpoint.mtu = static_cast<std::uint8_t>(device_.portAttr.active_mtu);
  std::memcpy(endpoint.gid, device_.gid.raw, sizeof(endpoint.gid));
  return endpoint;
}

Status VerbsLink::connect(const Endpoint& remote) {
  if (remote.magic != kEndpointMagic || remote.bytes != bytes_ || remote.qpNumber > 0xffffff ||
      remote.psn > 0xffffff || remote.mtu < IBV_MTU_256 || remote.mtu > IBV_MTU_4096) {
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE, "the peer's RDMA endpoint is malformed");
  }
  remote_ = remote;
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_RTR;
  attr.path_mtu = static_cast<ibv_mtu>(std::min<int>(remote.mtu, device_.portAttr.active_mtu));
  attr.dest_qp_num = remote.qpNumber;
  attr.rq_psn = remote.psn;
  attr.max_dest_rd_atomic = static_cast<std::uint8_t>(device_.readsInFlight);
  attr.min_rnr_timer = 12;
  attr.ah_attr.dlid = remote.lid;
  attr.ah_attr.port_num = device_.port;
  attr.ah_attr.is_global = 1;
  std::memcpy(attr.ah_attr.grh.dgid.raw, remote.gid, sizeof(remote.gid));
  attr.ah_attr.grh.sgid_index = static_cast<std::uint8_t>(device_.gidIndex);
  attr.ah_attr.grh.hop_limit = 64;
  if (int error = v_.modifyQp(qp_, &attr,
                              IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                                  IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER)) {
    return verbsFailure("ibv_modify_qp (RTR)", error);
  }
  attr = ibv_qp_attr{};
  attr.qp_state = IBV_QPS_RTS;
  attr.timeout = 14;
  attr.retry_cnt = 7;
  attr.rnr_retry = 7;  // a receiver out of posted receives is waited for, not failed
  attr.sq_psn = psn_;
  attr.max_rd_atomic = static_cast<std::uint8_t>(device_.readsInFlight);
  if (int error = v_.modifyQp(qp_, &attr,
                              IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
                                  IBV_QP_MAX_QP_RD_ATOMIC)) {
    return verbsFailure("ibv_modify_qp (RTS)", error);
  }
  return Status::ok();
}

Status VerbsLink::waitMore(CompletionWait& wait, std::chrono::steady_clock::time_point started) {
  if (std::chrono::steady_clock::now() - started < kSpin) return Status::ok();
  if (!wait.armed) {
    // Armed, then the caller polls once more: a completion that came in between is not slept
    // through.
    if (int error = ibv_req_notify_cq(wait.cq, 0)) return verbsFailure("ibv_req_notify_cq", error);
    wait.armed = true;
    return Status::ok();
  }
  pollfd wanted[2] = {{wait.channel->fd, POLLIN, 0}, {wake_, POLLIN, 0}};
  if (::poll(wanted, 2, -1) < 0 && errno != EINTR) return systemFailure("poll (RDMA completions)");
  if ((wanted[0].revents & POLLIN) != 0) {
    ibv_cq* signalled = nullptr;
    void* context = nullptr;
    // Events are acknowledged in batches (each acknowledgement takes a lock in the library).
    if (v_.getCqEvent(wait.channel, &signalled, &context) == 0 && ++wait.unacked >= 64) {
      v_.ackCqEvents(wait.cq, wait.unacked);
      wait.unacked = 0;
    }
    wait.armed = false;  // an event disarms the queue
  }
  return Status::ok();
}

Status VerbsLink::postReceives(int count) {
  for (int i = 0; i < count; ++i) {
    ibv_recv_wr request{};
    ibv_recv_wr* bad = nullptr;
    request.wr_id = 0;
    request.num_sge = 0;  // a write's immediate carries no receive buffer
    if (int error = ibv_post_recv(qp_, &request, &bad)) return verbsFailure("ibv_post_recv", error);
  }
  return Status::ok();
}

Status VerbsLink::reapSends(bool untilRoom) {
  std::array<ibv_wc, 16> done{};
  for (;;) {
    if (untilRoom && posted_ - completed_ < static_cast<std::uint64_t>(kSendDepth - kSignalEvery)) return Status::ok();
    if (down_.load()) return linkDown("shut down");
    int count = ibv_poll_cq(sendCq_, static_cast<int>(done.size()), done.data());
    if (count < 0) return linkDown("ibv_poll_cq failed");
    for (int i = 0; i < count; ++i) {
      if (done[static_cast<std::size_t>(i)].status != IBV_WC_SUCCESS) {
        down_.store(true);
        return linkDown(v_.wcStatusText(done[static_cast<std::size_t>(i)].status));
      }
      // A signaled request completing means every earlier one did (one queue, in order).
      completed_ = std::max(completed_, done[static_cast<std::size_t>(i)].wr_id + 1);
    }
    if (!untilRoom) return Status::ok();
  }
}

Status VerbsLink::write(std::uint64_t localOffset, std::uint64_t remoteOffset, std::uint32_t bytes,
                        std::optional<std::uint32_t> immediate) {
  if (localOffset > bytes_ || bytes > bytes_ - localOffset || remoteOffset > bytes_ || bytes > bytes_ - remoteOffset) {
    return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE, "an RDMA write outside the region");
  }
  ibv_sge piece{};
  piece.addr = reinterpret_cast<std::uint64_t>(memory_) + localOffset;
  piece.length = bytes;
  piece.lkey = mr_->lkey;
  ibv_send_wr request{};
  request.sg_list = bytes > 0 ? &piece : nullptr;
  request.num_sge = bytes > 0 ? 1 : 0;
  request.opcode = immediate ? IBV_WR_RDMA_WRITE_WITH_IMM : IBV_WR_RDMA_WRITE;
  if (immediate) request.imm_data = htonl(*immediate);
  request.wr.rdma.remote_addr = remote_.address + remoteOffset;
  request.wr.rdma.rkey = remote_.rkey;
  std::lock_guard hold(sendMutex_);
  if (auto posted = post(request, false); !posted) return posted.status();
  return reapSends(false);
}

Result<std::uint64_t> VerbsLink::post(ibv_send_wr& request, bool signalled) {
  if (down_.load()) return linkDown("shut down");
  if (Status room = reapSends(true); !room) return room;
  std::uint64_t id = posted_;
  request.wr_id = id;
  request.send_flags = signalled || (id + 1) % kSignalEvery == 0 ? IBV_SEND_SIGNALED : 0;
  ibv_send_wr* bad = nullptr;
  if (int error = ibv_post_send(qp_, &request, &bad)) {
    down_.store(true);
    return linkDown(fmt::format("ibv_post_send: {}", std::strerror(error)));
  }
  ++posted_;
  return id;
}

Result<std::uint32_t> VerbsLink::nextImmediate() {
  auto started = std::chrono::steady_clock::now();
  for (;;) {
    if (!immediates_.empty()) {
      std::uint32_t immediate = immediates_.front();
      immediates_.pop_front();
      return immediate;
    }
    if (down_.load()) return linkDown("shut down");
    std::array<ibv_wc, 16> done{};
    int count = ibv_poll_cq(recvCq_, static_cast<int>(done.size()), done.data());
    if (count < 0) return linkDown("ibv_poll_cq failed");
    for (int i = 0; i < count; ++i) {
      const ibv_wc& completion = done[static_cast<std::size_t>(i)];
      if (completion.status != IBV_WC_SUCCESS) {
        down_.store(true);
        return linkDown(v_.wcStatusText(completion.status));
      }
      if ((completion.wc_flags & IBV_WC_WITH_IMM) != 0) immediates_.push_back(ntohl(completion.imm_data));
    }
    if (count > 0) {
      if (Status reposted = postReceives(count); !reposted) return reposted;
      continue;
    }
    if (Status waited = waitMore(recvWait_, started); !waited) return waited;
  }
}

Result<RdmaRegion> VerbsLink::registerMemory(std::span<std::uint8_t> memory, bool peerMayAccess) {
  int access = IBV_ACCESS_LOCAL_WRITE | (peerMayAccess ? IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE : 0);
  ibv_mr* mr = v_.regMr(pd_, memory.data(), memory.size(), access);
  if (mr == nullptr) return verbsFailure("ibv_reg_mr", errno);
  std::lock_guard hold(registrationsMutex_);
  RdmaRegion region{++lastRegistration_, memory.data(), memory.size(), peerMayAccess ? mr->rkey : 0};
  registrations_[region.id] = mr;
  return region;
}

void VerbsLink::deregister(const RdmaRegion& region) {
  ibv_mr* mr = nullptr;
  {
    std::lock_guard hold(registrationsMutex_);
    auto found = registrations_.find(region.id);
    if (found == registrations_.end()) return;
    mr = found->second;
    registrations_.erase(found);
  }
  v_.deregMr(mr);
}

Status VerbsLink::read(const RdmaRegion& into, std::uint64_t offset, RdmaPeerAddress from, std::uint32_t bytes) {
  return oneSided(into, offset, from, bytes, IBV_WR_RDMA_READ);
}

Status VerbsLink::writeTo(const RdmaRegion& from, std::uint64_t offset, RdmaPeerAddress to, std::uint32_t bytes) {
  return oneSided(from, offset, to, bytes, IBV_WR_RDMA_WRITE);
}

Status VerbsLink::oneSided(const RdmaRegion& region, std::uint64_t offset, RdmaPeerAddress remote,
                           std::uint32_t bytes, ibv_wr_opcode opcode) {
  std::uint32_t localKey = 0;
  {
    std::lock_guard hold(registrationsMutex_);
    auto found = registrations_.find(region.id);
    if (found == registrations_.end() || offset > found->second->length || bytes > found->second->length - offset) {
      return Status(ErrorKind::kFailed, CUDA_ERROR_INVALID_VALUE, "a local range outside its registration");
    }
    localKey = found->second->lkey;
  }
  ibv_sge piece{};
  piece.addr = reinterpret_cast<std::uint64_t>(region.data) + offset;
  piece.length = bytes;
  piece.lkey = localKey;
  ibv_send_wr request{};
  request.sg_list = &piece;
  request.num_sge = 1;
  request.opcode = opcode;
  request.wr.rdma.remote_addr = remote.address;
  request.wr.rdma.rkey = remote.key;
  std::lock_guard one(oneSidedMutex_);
  auto id = [&] {
    std::lock_guard hold(sendMutex_);
    return post(request, true);
  }();
  return id ? awaitSend(*id) : id.status();
}

Status VerbsLink::awaitSend(std::uint64_t id) {
  auto started = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::lock_guard hold(sendMutex_);
      if (completed_ > id) return Status::ok();
      if (Status reaped = reapSends(false); !reaped) return reaped;
      if (completed_ > id) return Status::ok();
    }
    if (down_.load()) return linkDown("shut down");
    // A writer thread may reap the completion awaited here; its event still comes, and
    // completed_ says so.
    if (Status waited = waitMore(sendWait_, started); !waited) return waited;
  }
}

void VerbsLink::shutdown() {
  if (down_.exchange(true)) return;
  std::uint64_t one = 1;
  (void)!::write(wake_, &one, sizeof(one));
}

}  // namespace

std::string rdmaUnavailableReason() {
  auto device = openDevice();
  if (!device) return device.status().message();
  verbs().closeDevice(device->context);
  return "";
}

Result<std::unique_ptr<RdmaLink>> bootstrapVerbsLink(int socket, std::size_t bytes,
                                                     std::chrono::steady_clock::time_point deadline) {
  auto device = openDevice();
  if (!device) return device.status();
  auto link = std::make_unique<VerbsLink>(*device);
  if (Status prepared = link->prepare(bytes); !prepared) return prepared;
  Endpoint mine = link->local();
  Endpoint theirs{};
  if (Status sent = transfer(socket, reinterpret_cast<std::uint8_t*>(&mine), sizeof(mine), true, deadline); !sent) {
    return sent;
  }
  if (Status got = transfer(socket, reinterpret_cast<std::uint8_t*>(&theirs), sizeof(theirs), false, deadline); !got) {
    return got;
  }
  if (Status connected = link->connect(theirs); !connected) return connected;
  // Both QPs are ready to receive before either side writes.
  std::uint8_t ready = 1;
  if (Status sent = transfer(socket, &ready, 1, true, deadline); !sent) return sent;
  if (Status got = transfer(socket, &ready, 1, false, deadline); !got) return got;
  return std::unique_ptr<RdmaLink>(std::move(link));
}

}  // namespace fastgpu::protocol
