// One client process's session: its connection, its state on the driver, and the loop that runs
// its calls in order (DESIGN.md, decisions 3-5). A session ends when the client leaves, its
// connection breaks, or it sends something malformed; in every case its resources are freed.
//
// Threading: run() on the session's own thread; stop() from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "protocol/schema/fastgpu.capnp.h"
#include "protocol/transport/transport.h"
#include "server/loaded_driver.h"
#include "scheduler/usage_ledger.h"
#include "server/session_state.h"

namespace fastgpu::server {

// What a call answers besides its result; turned into a wire Reply for calls that get one.
struct Answer {
  enum class Kind { kNone, kHandle, kValues, kData, kModule } kind = Kind::kNone;
  std::uint64_t handle = 0;
  std::vector<std::int64_t> values;
  std::vector<std::uint8_t> data;
  std::span<const std::uint8_t> bulk;  // sent raw after the reply (device-to-host copies)
  struct Kernel {
    std::string name;
    std::uint64_t handle;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> params;  // offset, size
    std::uint32_t paramBytes;
  };
  std::vector<Kernel> kernels;

  void setHandle(std::uint64_t value) { kind = Kind::kHandle, handle = value; }
  void setValues(std::vector<std::int64_t> list) { kind = Kind::kValues, values = std::move(list); }
};

// What the admin API shows of a session.
struct SessionInfo {
  std::uint64_t id = 0;
  std::string peer;
  std::string vgpu;
  std::string host;
  std::uint32_t pid = 0;
  std::int64_t startedUnix = 0;
  bool admitted = false;
};

class Session {
 public:
  // `registry` admits the client to a vGPU in the handshake; it outlives the session.
  // With `ledger`, the session's usage is recorded there when it ends. `limits` bound what the
  // peer can make the session spend before it has logged in (Hello size and time).
  Session(std::unique_ptr<protocol::Connection> connection, const LoadedDriver& driver,
          scheduler::VgpuRegistry& registry, std::uint64_t id, scheduler::UsageLedger* ledger = nullptr,
          const scheduler::ServerLimits& limits = {});
  ~Session();

  void run();
  void stop() { connection_->shutdown(); }
  std::uint64_t id() const { return id_; }
  bool finished() const { return finished_.load(); }
  // Still in its handshake (not yet admitted or refused).
  bool handshaking() const { return handshaking_.load(); }
  SessionInfo info() const;

 private:
  Status handshake();
  // Runs the calls of one frame; a call that gets a reply leaves it in `replies` and its bulk
  // bytes in `replyBulk`.
  Status serveBatch(std::span<const std::uint8_t> payload, std::vector<std::uint8_t>& replies,
                    std::span<const std::uint8_t>& replyBulk);
  Status execute(wire::Call::Reader call, std::span<const std::uint8_t> bulk, Answer& answer);
  // Counts launches and bytes moved for the vGPU's metrics and the session's record.
  void countWork(wire::Call::Reader call, const Status& result, const Answer& answer, scheduler::VgpuUsage* usage);
  void recordUsage();
  void writeReply(const Status& status, const Answer& answer, std::vector<std::uint8_t>& replies);

  // Dispatch by group (dispatch_*.cpp). Each returns the call's result.
  Status executeContextCall(wire::Call::Reader call, Answer& answer);
  Status executeMemoryCall(wire::Call::Reader call, std::span<const std::uint8_t> bulk, Answer& answer);
  Status executeStreamCall(wire::Call::Reader call, Answer& answer);
  Status executeCodeCall(wire::Call::Reader call, Answer& answer);

  // Helpers shared by the groups.
  Result<CUstream> stream(std::uint64_t id, bool perThread);
  Result<CUfunction> function(std::uint64_t id);
  Status driverResult(CUresult result, const char* what);
  Status loadCode(std::span<const std::uint8_t> image, bool library, Answer& answer);

  std::unique_ptr<protocol::Connection> connection_;
  const cudaabi::DriverTable& driver_;
  scheduler::VgpuRegistry& registry_;
  const std::uint64_t id_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<SessionState> state_;  // made at admission; reset when the session ends: frees everything
  Status deferred_;  // the first error of asynchronous calls since the last reply
  std::vector<std::uint8_t> staging_;  // device-to-host data on its way out; reused
  scheduler::UsageLedger* ledger_;
  std::shared_ptr<scheduler::GpuTimeAccount> gpuTime_ = std::make_shared<scheduler::GpuTimeAccount>();
  scheduler::SessionRecord record_;  // counted by the session's thread
  std::atomic<bool> finished_{false};
  std::atomic<bool> handshaking_{true};
  const scheduler::ServerLimits limits_;
  mutable std::mutex infoMutex_;  // guards info_
  SessionInfo info_;
};

}  // namespace fastgpu::server
