#include "snapshotter/metastore.h"

#include <utility>

#include "fmt/format.h"

#include "lib/base/fs_sync.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::snapshot {
namespace {

constexpr int kSchemaVersion = 1;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS snapshots(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL UNIQUE,
  parent_id INTEGER REFERENCES snapshots(id),
  kind INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  size INTEGER NOT NULL DEFAULT 0,
  inodes INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent_id);
CREATE TABLE IF NOT EXISTS labels(
  id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY(id, key));
)sql";

constexpr char kSelect[] =
    "SELECT s.id, s.key, s.parent_id, p.key, s.kind, s.created_at, s.updated_at, s.size, "
    "s.inodes FROM snapshots s LEFT JOIN snapshots p ON p.id = s.parent_id ";

// A cached prepared statement borrowed for one use: reset and unbound on destruction. A
// failed prepare gives a null statement; Step() then fails with SQLITE_MISUSE, reported by the
// caller with the statement's purpose.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}

  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }

  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }

  Stmt& BindNullable(int i, int64_t v) {
    if (v == 0)
      sqlite3_bind_null(s_, i);
    else
      sqlite3_bind_int64(s_, i, v);
    return *this;
  }

  int Step() { return sqlite3_step(s_); }

  int64_t Int(int c) const { return sqlite3_column_int64(s_, c); }

  std::string Text(int c) const {
    const unsigned char* t = sqlite3_column_text(s_, c);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(s_, c)))
             : std::string();
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

Record ReadRecord(const Stmt& q) {
  Record r;
  r.id = q.Int(0);
  r.key = q.Text(1);
  r.parent_id = q.Int(2);
  r.parent_key = q.Text(3);
  r.kind = static_cast<Kind>(q.Int(4));
  r.created_at = q.Int(5);
  r.updated_at = q.Int(6);
  r.usage.size = q.Int(7);
  r.usage.inodes = q.Int(8);
  return r;
}

}  // namespace

Info Record::ToInfo() const {
  return Info{.name = key,
              .parent = parent_key,
              .kind = kind,
              .labels = labels,
              .created_at = created_at,
              .updated_at = updated_at};
}

absl::StatusOr<std::unique_ptr<MetaStore>> MetaStore::Open(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<MetaStore> store(new MetaStore(db, path.string() + "-wal"));
  if (rc != SQLITE_OK)
    return store->Error(rc, fmt::format("open snapshot metadata {:?}", path.string()));
  sqlite3_busy_timeout(db, 5000);
  BERTH_RETURN_IF_ERROR(
      store->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  Stmt v(store->Prepared("PRAGMA user_version"));
  if (v.Step() != SQLITE_ROW)
    return store->Error(sqlite3_errcode(db), "read schema version");
  const int64_t version = v.Int(0);
  if (version > kSchemaVersion)
    return FailedPrecondition(
        fmt::format("snapshot metadata {:?}: schema version {} is newer than {}", path.string(),
                    version, kSchemaVersion));
  if (version < kSchemaVersion) {
    BERTH_RETURN_IF_ERROR(store->Exec(fmt::format(
        "BEGIN IMMEDIATE; {} PRAGMA user_version={}; COMMIT;", kSchema, kSchemaVersion)));
  }
  return store;
}

MetaStore::~MetaStore() {
  for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

absl::Status MetaStore::Error(int rc, const std::string& what) {
  std::string msg = fmt::format("{}: {}", what, db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
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

absl::Status MetaStore::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK)
    return Error(rc, "snapshot metadata");
  return absl::OkStatus();
}

sqlite3_stmt* MetaStore::Prepared(const std::string& sql) {
  if (auto it = stmts_.find(sql); it != stmts_.end())
    return it->second;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
    return nullptr;
  stmts_.emplace(sql, s);
  return s;
}

MetaStore::Transaction::~Transaction() {
  if (store_ != nullptr)
    End(/*rollback=*/true);
}

// A deferred transaction puts the connection back to synchronous=FULL when it ends (SQLite
// refuses to change it inside a transaction, hence here and in Begin).
void MetaStore::Transaction::End(bool rollback) {
  MetaStore* s = std::exchange(store_, nullptr);
  if (rollback)
    (void)s->Exec("ROLLBACK");
  if (durability_ == Durability::kDeferred)
    (void)s->Exec("PRAGMA synchronous=FULL");
}

absl::Status MetaStore::Transaction::Commit() {
  absl::Status st = store_->Exec("COMMIT");
  End(/*rollback=*/!st.ok());
  return st;
}

absl::StatusOr<MetaStore::Transaction> MetaStore::Begin(Durability durability) {
  if (durability == Durability::kDeferred)
    BERTH_RETURN_IF_ERROR(Exec("PRAGMA synchronous=NORMAL"));
  // Constructed before BEGIN: a failed BEGIN still restores synchronous=FULL (its ROLLBACK
  // then fails harmlessly, there being no transaction).
  Transaction tx(this, durability);
  BERTH_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  return tx;
}

absl::Status MetaStore::SyncLog() const {
  // SQLite keeps the log (the database's name + "-wal") while a connection is open; none
  // means nothing is pending.
  return SyncFileData(log_path_);
}

absl::Status MetaStore::LoadLabels(Record& r) {
  Stmt q(Prepared("SELECT key, value FROM labels WHERE id = ?"));
  q.Bind(1, r.id);
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) r.labels[q.Text(0)] = q.Text(1);
  if (rc != SQLITE_DONE)
    return Error(rc, fmt::format("read labels of snapshot {:?}", r.key));
  return absl::OkStatus();
}

absl::Status MetaStore::PutLabels(int64_t id, const Labels& labels) {
  Stmt del(Prepared("DELETE FROM labels WHERE id = ?"));
  if (int rc = del.Bind(1, id).Step(); rc != SQLITE_DONE)
    return Error(rc, "replace labels");
  for (const auto& [k, v] : labels) {
    Stmt ins(Prepared("INSERT INTO labels(id, key, value) VALUES(?, ?, ?)"));
    if (int rc = ins.Bind(1, id).Bind(2, k).Bind(3, v).Step(); rc != SQLITE_DONE)
      return Error(rc, fmt::format("write label {:?}", k));
  }
  return absl::OkStatus();
}

absl::StatusOr<Record> MetaStore::Get(const std::string& key) {
  Stmt q(Prepared(std::string(kSelect) + "WHERE s.key = ?"));
  q.Bind(1, key);
  int rc = q.Step();
  if (rc == SQLITE_DONE)
    return NotFoundError("snapshot", key);
  if (rc != SQLITE_ROW)
    return Error(rc, fmt::format("read snapshot {:?}", key));
  Record r = ReadRecord(q);
  BERTH_RETURN_IF_ERROR(LoadLabels(r));
  return r;
}

absl::StatusOr<std::vector<int64_t>> MetaStore::Chain(int64_t parent_id) {
  std::vector<int64_t> chain;
  Stmt q(
      Prepared("WITH RECURSIVE chain(id, parent_id, depth) AS ("
               "  SELECT id, parent_id, 0 FROM snapshots WHERE id = ?"
               "  UNION ALL SELECT s.id, s.parent_id, c.depth + 1 FROM snapshots s"
               "  JOIN chain c ON s.id = c.parent_id)"
               " SELECT id FROM chain ORDER BY depth"));
  q.Bind(1, parent_id);
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) chain.push_back(q.Int(0));
  if (rc != SQLITE_DONE)
    return Error(rc, fmt::format("read parent chain of snapshot id {}", parent_id));
  return chain;
}

absl::StatusOr<int64_t> MetaStore::Insert(Kind kind, const std::string& key, int64_t parent_id,
                                          const Labels& labels, int64_t now) {
  Stmt q(
      Prepared("INSERT INTO snapshots(key, parent_id, kind, created_at, updated_at) "
               "VALUES(?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING"));
  q.Bind(1, key)
      .BindNullable(2, parent_id)
      .Bind(3, static_cast<int64_t>(kind))
      .Bind(4, now)
      .Bind(5, now);
  if (int rc = q.Step(); rc != SQLITE_DONE)
    return Error(rc, fmt::format("create snapshot {:?}", key));
  if (sqlite3_changes(db_) == 0)
    return AlreadyExistsError("snapshot", key);
  int64_t id = sqlite3_last_insert_rowid(db_);
  BERTH_RETURN_IF_ERROR(PutLabels(id, labels));
  return id;
}

absl::Status MetaStore::MarkCommitted(int64_t id, const std::string& name, const Labels& labels,
                                      const Usage& usage, int64_t now) {
  {
    Stmt taken(Prepared("SELECT 1 FROM snapshots WHERE key = ?"));
    if (taken.Bind(1, name).Step() == SQLITE_ROW)
      return AlreadyExistsError("snapshot", name);
  }
  Stmt q(
      Prepared("UPDATE snapshots SET key = ?, kind = ?, created_at = ?, updated_at = ?, size = ?, "
               "inodes = ? WHERE id = ?"));
  q.Bind(1, name).Bind(2, static_cast<int64_t>(Kind::kCommitted)).Bind(3, now).Bind(4, now);
  q.Bind(5, usage.size).Bind(6, usage.inodes).Bind(7, id);
  if (int rc = q.Step(); rc != SQLITE_DONE)
    return Error(rc, fmt::format("commit snapshot {:?}", name));
  return PutLabels(id, labels);
}

absl::Status MetaStore::SetLabels(int64_t id, const Labels& labels, int64_t now) {
  Stmt q(Prepared("UPDATE snapshots SET updated_at = ? WHERE id = ?"));
  if (int rc = q.Bind(1, now).Bind(2, id).Step(); rc != SQLITE_DONE)
    return Error(rc, fmt::format("update snapshot id {}", id));
  return PutLabels(id, labels);
}

absl::Status MetaStore::Delete(int64_t id) {
  Stmt q(Prepared("DELETE FROM snapshots WHERE id = ?"));
  if (int rc = q.Bind(1, id).Step(); rc != SQLITE_DONE)
    return Error(rc, fmt::format("delete snapshot id {}", id));
  return absl::OkStatus();
}

absl::StatusOr<bool> MetaStore::HasChildren(int64_t id) {
  Stmt q(Prepared("SELECT 1 FROM snapshots WHERE parent_id = ? LIMIT 1"));
  int rc = q.Bind(1, id).Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return Error(rc, fmt::format("read children of snapshot id {}", id));
  return rc == SQLITE_ROW;
}

absl::StatusOr<std::vector<Record>> MetaStore::All() {
  std::vector<Record> out;
  Stmt q(Prepared(std::string(kSelect) + "ORDER BY s.id"));
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(ReadRecord(q));
  if (rc != SQLITE_DONE)
    return Error(rc, "list snapshots");
  for (Record& r : out) BERTH_RETURN_IF_ERROR(LoadLabels(r));
  return out;
}

absl::StatusOr<std::set<int64_t>> MetaStore::Ids() {
  std::set<int64_t> out;
  Stmt q(Prepared("SELECT id FROM snapshots"));
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.insert(q.Int(0));
  if (rc != SQLITE_DONE)
    return Error(rc, "list snapshot ids");
  return out;
}

}  // namespace berth::snapshot
