#include "services/metadata/db.h"

#include <algorithm>
#include <chrono>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "lib/base/fs_sync.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::metadata {
namespace {

absl::Status SqliteError(sqlite3* conn, int rc, std::string_view what) {
  std::string msg =
      fmt::format("metadata {}: {}", what, conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(msg);
    case SQLITE_CONSTRAINT:
      return FailedPrecondition(msg);
    default:
      return Internal(msg);
  }
}

}  // namespace

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Stmt::~Stmt() {
  if (s_ != nullptr) {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
}

Stmt& Stmt::Bind(int i, std::string_view text) {
  sqlite3_bind_text(s_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}

Stmt& Stmt::BindBlob(int i, std::string_view bytes) {
  sqlite3_bind_blob(s_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}

absl::StatusOr<bool> Stmt::Step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW)
    return true;
  if (rc == SQLITE_DONE)
    return false;
  return SqliteError(sqlite3_db_handle(s_), rc, "query");
}

absl::Status Stmt::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok())
      return row.status();
    if (!*row)
      return absl::OkStatus();
  }
}

std::string Stmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : "";
}

int64_t Stmt::Int(int col) const {
  return sqlite3_column_int64(s_, col);
}

bool Stmt::IsNull(int col) const {
  return sqlite3_column_type(s_, col) == SQLITE_NULL;
}

absl::StatusOr<Stmt> Tx::Query(const std::string& sql) {
  auto it = db_.stmts_.find(sql);
  if (it != db_.stmts_.end())
    return Stmt(it->second);
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_.conn_, sql.c_str(), static_cast<int>(sql.size()) + 1,
                              SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK)
    return SqliteError(db_.conn_, rc, "prepare");
  db_.stmts_.emplace(sql, s);
  return Stmt(s);
}

absl::Status Tx::Exec(const std::string& sql) {
  return db_.ExecLocked(sql);
}

int64_t Tx::Changes() const {
  return sqlite3_changes64(db_.conn_);
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path) {
  sqlite3* conn = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &conn,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = SqliteError(conn, rc, fmt::format("open {:?}", path));
    sqlite3_close(conn);
    return s;
  }
  std::unique_ptr<Db> db(new Db(conn, path));
  sqlite3_busy_timeout(conn, 5000);
  absl::MutexLock l(&db->mu_);
  absl::Status s =
      db->ExecLocked("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  if (s.ok())
    s = db->Migrate();
  if (!s.ok())
    return Annotate(s, fmt::format("metadata {:?}", path));
  return db;
}

Db::~Db() {
  absl::MutexLock l(&mu_);
  for (auto& [sql, s] : stmts_) sqlite3_finalize(s);
  sqlite3_close(conn_);
}

absl::Status Db::ExecLocked(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(conn_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK)
    return absl::OkStatus();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return SqliteError(nullptr, rc, msg);
}

absl::Status Db::Migrate() {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(conn_, "PRAGMA user_version", -1, &s, nullptr);
  int version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
  sqlite3_finalize(s);
  const int want = CurrentSchemaVersion();
  if (version > want) {
    return FailedPrecondition(
        fmt::format("schema version {} is newer than this berthd supports ({}); use a newer berthd",
                    version, want));
  }
  for (int v = version + 1; v <= want; ++v) {
    std::string sql =
        fmt::format("BEGIN IMMEDIATE; {} PRAGMA user_version = {}; COMMIT;", MigrationTo(v), v);
    if (absl::Status st = ExecLocked(sql); !st.ok()) {
      (void)ExecLocked("ROLLBACK");
      return Annotate(st, fmt::format("migrate schema to version {}", v));
    }
    spdlog::info("metadata schema migrated version={}", v);
  }
  schema_version_ = want;
  return absl::OkStatus();
}

absl::Status Db::InTx(const char* begin, absl::FunctionRef<absl::Status(Tx&)> fn,
                      Durability durability) {
  absl::MutexLock l(&mu_);
  // SQLite refuses to change synchronous inside a transaction: around it, then.
  const bool deferred = durability == Durability::kDeferred;
  if (deferred) {
    if (absl::Status s = ExecLocked("PRAGMA synchronous=NORMAL"); !s.ok())
      return s;
  }
  absl::Status s = ExecLocked(begin);
  if (s.ok()) {
    Tx tx(*this);
    s = fn(tx);
    if (s.ok())
      s = ExecLocked("COMMIT");
    if (!s.ok()) {
      (void)ExecLocked("ROLLBACK");  // the transaction's own error is the one to report
    } else {
      absl::MutexLock c(&commits_mu_);
      ++commits_;
      if (!deferred)
        durable_ = commits_;  // the log is replayed in order: every earlier commit too
    }
  }
  if (deferred)
    (void)ExecLocked("PRAGMA synchronous=FULL");
  return s;
}

uint64_t Db::Commits() {
  absl::MutexLock c(&commits_mu_);
  return commits_;
}

uint64_t Db::Durable() {
  absl::MutexLock c(&commits_mu_);
  return durable_;
}

absl::Status Db::MakeDurable(uint64_t n, absl::Duration patience) {
  {
    absl::MutexLock c(&commits_mu_);
    auto done = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commits_mu_) { return durable_ >= n; };
    if (commits_mu_.AwaitWithTimeout(absl::Condition(&done), patience))
      return absl::OkStatus();
  }
  return SyncLog();
}

absl::Status Db::SyncLog() {
  uint64_t written;
  {
    absl::MutexLock c(&commits_mu_);
    written = commits_;  // each in the log already: COMMIT has returned
  }
  // SQLite keeps the log (the database's name + "-wal") while the connection is open. What a
  // checkpoint moved out of it into the database file, the checkpoint synced.
  BERTH_RETURN_IF_ERROR(SyncFileData(path_ + "-wal"));
  absl::MutexLock c(&commits_mu_);
  durable_ = std::max(durable_, written);
  return absl::OkStatus();
}

absl::Status Db::View(absl::FunctionRef<absl::Status(Tx&)> fn) {
  return InTx("BEGIN", fn);
}

absl::Status Db::Update(absl::FunctionRef<absl::Status(Tx&)> fn, Durability durability) {
  return InTx("BEGIN IMMEDIATE", fn, durability);
}

}  // namespace berth::metadata
