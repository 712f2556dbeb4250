// The durable usage ledger (SQLite): one row per session — its vGPU, client, start and end, GPU
// seconds, memory GiB-seconds, bytes moved and launches — written every few seconds while the
// session runs (a checkpoint: a server that dies loses at most that much) and when it ends, so
// usage survives restarts and crashes and can be billed. Thread-safe (one connection, one mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cudaabi/result.h"

struct sqlite3;

namespace fastgpu::scheduler {

struct SessionRecord {
  std::uint64_t session = 0;
  std::string vgpu;
  std::string host;
  std::uint32_t pid = 0;
  double started = 0;  // unix seconds
  double ended = 0;
  double gpuSeconds = 0;
  double memoryGibSeconds = 0;
  std::uint64_t bytesToDevice = 0;
  std::uint64_t bytesFromDevice = 0;
  std::uint64_t launches = 0;
};

class UsageLedger {
 public:
  // Opens (creating) the ledger at `path`; ":memory:" for a throwaway one.
  static Result<std::unique_ptr<UsageLedger>> open(const std::string& path);
  ~UsageLedger();
  UsageLedger(const UsageLedger&) = delete;
  UsageLedger& operator=(const UsageLedger&) = delete;

  // Writes a session's row: a new one, or the one with its id and start time (a checkpoint of it).
  Status record(const SessionRecord& session);
  // The highest session id recorded, 0 when none: a restarted server numbers on from there.
  Result<std::uint64_t> lastSession() const;
  // Sessions that ended at or after `since` (unix seconds), of one vGPU or all.
  Result<std::vector<SessionRecord>> sessions(double since, const std::optional<std::string>& vgpu) const;

 private:
  explicit UsageLedger(sqlite3* db) : db_(db) {}
  mutable std::mutex mutex_;
  sqlite3* db_;  // owned
};

}  // namespace fastgpu::scheduler
