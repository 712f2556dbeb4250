#include "scheduler/usage_ledger.h"

#include <sqlite3.h>

#include <fmt/format.h>

namespace fastgpu::scheduler {
namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS sessions (
  row INTEGER PRIMARY KEY,
  session INTEGER NOT NULL,
  vgpu TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started REAL NOT NULL,
  ended REAL NOT NULL,
  gpu_seconds REAL NOT NULL,
  memory_gib_seconds REAL NOT NULL,
  bytes_to_device INTEGER NOT NULL,
  bytes_from_device INTEGER NOT NULL,
  launches INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_by_end ON sessions (ended);
CREATE INDEX IF NOT EXISTS sessions_by_id ON sessions (session, started);
)";

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr); }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const { return statement_; }
  explicit operator bool() const { return statement_ != nullptr; }

 private:
  sqlite3_stmt* statement_ = nullptr;
};

Status failure(sqlite3* db, const char* what) {
  return Status(CUDA_ERROR_UNKNOWN, fmt::format("usage ledger: {}: {}", what, sqlite3_errmsg(db)));
}

}  // namespace

Result<std::unique_ptr<UsageLedger>> UsageLedger::open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    Status status = failure(db, "cannot open");
    sqlite3_close(db);
    return status;
  }
  std::unique_ptr<UsageLedger> ledger(new UsageLedger(db));
  if (sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK) return failure(db, "cannot create tables");
  return ledger;
}

UsageLedger::~UsageLedger() { sqlite3_close(db_); }

Status UsageLedger::record(const SessionRecord& s) {
  std::lock_guard lock(mutex_);
  Statement update(db_,
                   "UPDATE sessions SET ended = ?, gpu_seconds = ?, memory_gib_seconds = ?, bytes_to_device = ?, "
                   "bytes_from_device = ?, launches = ? WHERE session = ? AND started = ?");
  if (!update) return failure(db_, "cannot prepare");
  sqlite3_bind_double(update.get(), 1, s.ended);
  sqlite3_bind_double(update.get(), 2, s.gpuSeconds);
  sqlite3_bind_double(update.get(), 3, s.memoryGibSeconds);
  sqlite3_bind_int64(update.get(), 4, static_cast<sqlite3_int64>(s.bytesToDevice));
  sqlite3_bind_int64(update.get(), 5, static_cast<sqlite3_int64>(s.bytesFromDevice));
  sqlite3_bind_int64(update.get(), 6, static_cast<sqlite3_int64>(s.launches));
  sqlite3_bind_int64(update.get(), 7, static_cast<sqlite3_int64>(s.session));
  sqlite3_bind_double(update.get(), 8, s.started);
  if (sqlite3_step(update.get()) != SQLITE_DONE) return failure(db_, "cannot update a session");
  if (sqlite3_changes(db_) > 0) return Status::ok();
  Statement insert(db_,
                   "INSERT INTO sessions (session, vgpu, host, pid, started, ended, gpu_seconds, memory_gib_seconds, "
                   "bytes_to_device, bytes_from_device, launches) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert) return failure(db_, "cannot prepare");
  sqlite3_bind_int64(insert.get(), 1, static_cast<sqlite3_int64>(s.session));
  sqlite3_bind_text(insert.get(), 2, s.vgpu.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(insert.get(), 3, s.host.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(insert.get(), 4, s.pid);
  sqlite3_bind_double(insert.get(), 5, s.started);
  sqlite3_bind_double(insert.get(), 6, s.ended);
  sqlite3_bind_double(insert.get(), 7, s.gpuSeconds);
  sqlite3_bind_double(insert.get(), 8, s.memoryGibSeconds);
  sqlite3_bind_int64(insert.get(), 9, static_cast<sqlite3_int64>(s.bytesToDevice));
  sqlite3_bind_int64(insert.get(), 10, static_cast<sqlite3_int64>(s.bytesFromDevice));
  sqlite3_bind_int64(insert.get(), 11, static_cast<sqlite3_int64>(s.launches));
  if (sqlite3_step(insert.get()) != SQLITE_DONE) return failure(db_, "cannot record a session");
  return Status::ok();
}

Result<std::uint64_t> UsageLedger::lastSession() const {
  std::lock_guard lock(mutex_);
  Statement query(db_, "SELECT COALESCE(MAX(session), 0) FROM sessions");
  if (!query || sqlite3_step(query.get()) != SQLITE_ROW) return failure(db_, "cannot read the last session");
  return static_cast<std::uint64_t>(sqlite3_column_int64(query.get(), 0));
}

Result<std::vector<SessionRecord>> UsageLedger::sessions(double since, const std::optional<std::string>& vgpu) const {
  std::lock_guard lock(mutex_);
  Statement query(db_,
                  "SELECT session, vgpu, host, pid, started, ended, gpu_seconds, memory_gib_seconds, bytes_to_device, "
                  "bytes_from_device, launches FROM sessions WHERE ended >= ? AND (? IS NULL OR vgpu = ?) ORDER BY ended");
  if (!query) return failure(db_, "cannot prepare");
  sqlite3_bind_double(query.get(), 1, since);
  if (vgpu) {
    sqlite3_bind_text(query.get(), 2, vgpu->c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(query.get(), 3, vgpu->c_str(), -1, SQLITE_TRANSIENT);
  }
  std::vector<SessionRecord> records;
  int step;
  while ((step = sqlite3_step(query.get())) == SQLITE_ROW) {
    auto text = [&](int column) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(query.get(), column))); };
    records.push_back(SessionRecord{static_cast<std::uint64_t>(sqlite3_column_int64(query.get(), 0)), text(1), text(2),
                                    static_cast<std::uint32_t>(sqlite3_column_int64(query.get(), 3)),
                                    sqlite3_column_double(query.get(), 4), sqlite3_column_double(query.get(), 5),
                                    sqlite3_column_double(query.get(), 6), sqlite3_column_double(query.get(), 7),
                                    static_cast<std::uint64_t>(sqlite3_column_int64(query.get(), 8)),
                                    static_cast<std::uint64_t>(sqlite3_column_int64(query.get(), 9)),
                                    static_cast<std::uint64_t>(sqlite3_column_int64(query.get(), 10))});
  }
  if (step != SQLITE_DONE) return failure(db_, "cannot read sessions");
  return records;
}

}  // namespace fastgpu::scheduler
