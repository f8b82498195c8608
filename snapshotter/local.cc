#include "snapshotter/local.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <set>
#include <system_error>
#include <utility>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "lib/base/fs_sync.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "snapshotter/fs_util.h"

namespace berth::snapshot {
namespace {

namespace fs = std::filesystem;

std::string Object(const std::string& key) {
  return fmt::format("snapshot {:?}", key);
}

absl::Status CreateDir(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec)
    return ErrnoError(ec.value(), fmt::format("create directory {:?}", p.string()));
  return absl::OkStatus();
}

absl::Status Rename(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return ErrnoError(errno, fmt::format("rename {:?} to {:?}", from.string(), to.string()));
  return absl::OkStatus();
}

// The id of a directory named "<prefix><digits>", or 0.
int64_t IdOf(const std::string& name, std::string_view prefix) {
  if (!name.starts_with(prefix))
    return 0;
  int64_t id = 0;
  const char* begin = name.data() + prefix.size();
  const char* end = name.data() + name.size();
  auto [ptr, err] = std::from_chars(begin, end, id);
  return err == std::errc() && ptr == end && begin != end ? id : 0;
}

// A directory that could not go now: Cleanup() gets it later.
void LeaveForCleanup(const fs::path& dir, const absl::Status& why) {
  spdlog::warn("snapshot directory left for cleanup path={} error={}", dir.string(),
               why.ToString());
}

// Removes `dir`, logging (not returning) a failure.
void RemoveNow(const fs::path& dir) {
  if (absl::Status s = RemoveTree(dir); !s.ok())
    LeaveForCleanup(dir, s);
}

}  // namespace

void LocalSnapshotter::RemoveLater(fs::path dir) {
  trash_.Post(std::move(dir));
}

void LocalSnapshotter::WaitForRemovals() {
  trash_.WaitIdle();
}

void LocalSnapshotter::RemoveDirs(std::deque<fs::path>& batch) {
  // A removal's commit is deferred (Remove): it must be on disk before its directory goes, or
  // a power loss could bring back a record without a directory. One sync for the batch;
  // store_ is only read (SyncLog is safe without mu_, and the pointer never changes).
  absl::Status synced = ABSL_TS_UNCHECKED_READ(store_)->SyncLog();
  for (const fs::path& dir : batch) {
    if (synced.ok())
      RemoveNow(dir);
    else
      LeaveForCleanup(dir, synced);
  }
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::StatusOr<std::unique_ptr<LocalSnapshotter>> LocalSnapshotter::Open(
    const fs::path& root, std::unique_ptr<Driver> driver) {
  BERTH_RETURN_IF_ERROR(CreateDir(root / "snapshots"));
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<MetaStore> store, MetaStore::Open(root / "metadata.db"));
  std::unique_ptr<LocalSnapshotter> sn(
      new LocalSnapshotter(root, std::move(store), std::move(driver)));
  BERTH_RETURN_IF_ERROR(sn->Recover());
  return sn;
}

absl::Status LocalSnapshotter::Recover() {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(std::set<int64_t> ids, store_->Ids());
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(root_ / "snapshots", ec)) {
    const int64_t id = IdOf(e.path().filename().string(), "rm-");
    if (id == 0 || !ids.count(id) || fs::exists(SnapshotDir(id)))
      continue;
    // A crash came between moving the directory away and committing the removal.
    spdlog::warn("restoring snapshot directory of an unfinished removal id={}", id);
    BERTH_RETURN_IF_ERROR(Rename(e.path(), SnapshotDir(id)));
  }
  if (ec)
    return ErrnoError(ec.value(), fmt::format("list {:?}", (root_ / "snapshots").string()));
  BERTH_ASSIGN_OR_RETURN(std::vector<Record> all, store_->All());
  bool rebuilt = false;
  for (const Record& r : all) {
    if ((r.kind != Kind::kActive && r.kind != Kind::kView) || fs::exists(SnapshotDir(r.id)))
      continue;
    // A deferred creation whose record reached the disk and whose rename did not.
    spdlog::warn("rebuilding the directory of snapshot {:?} (lost in a crash) id={}", r.key, r.id);
    BERTH_ASSIGN_OR_RETURN(std::vector<fs::path> parents, ParentDirs(r.parent_id));
    BERTH_ASSIGN_OR_RETURN(fs::path tmp, BuildDir(r.kind, parents));
    BERTH_RETURN_IF_ERROR(Rename(tmp, SnapshotDir(r.id)));
    rebuilt = true;
  }
  return rebuilt ? SyncDir(root_ / "snapshots") : absl::OkStatus();
}

fs::path LocalSnapshotter::SnapshotDir(int64_t id) const {
  return root_ / "snapshots" / std::to_string(id);
}

absl::StatusOr<std::vector<fs::path>> LocalSnapshotter::ParentDirs(int64_t parent_id) {
  std::vector<fs::path> dirs;
  if (parent_id == 0)
    return dirs;
  BERTH_ASSIGN_OR_RETURN(std::vector<int64_t> chain, store_->Chain(parent_id));
  for (int64_t id : chain) dirs.push_back(SnapshotDir(id) / "fs");
  return dirs;
}

absl::StatusOr<Info> LocalSnapshotter::Stat(const std::string& key) {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Record r, store_->Get(key));
  return r.ToInfo();
}

absl::StatusOr<Info> LocalSnapshotter::Update(const Info& info,
                                              const std::vector<std::string>& paths) {
  if (info.name.empty())
    return InvalidArgument("snapshot update: no name given");
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(MetaStore::Transaction tx, store_->Begin());
  BERTH_ASSIGN_OR_RETURN(Record r, store_->Get(info.name));
  BERTH_RETURN_IF_ERROR(ApplyLabelPaths(info.labels, paths, Object(info.name), r.labels));
  BERTH_RETURN_IF_ERROR(Annotate(ValidateLabels(r.labels), Object(info.name)));
  r.updated_at = NowNanos();
  BERTH_RETURN_IF_ERROR(store_->SetLabels(r.id, r.labels, r.updated_at));
  BERTH_RETURN_IF_ERROR(tx.Commit());
  return r.ToInfo();
}

absl::StatusOr<Usage> LocalSnapshotter::GetUsage(const std::string& key) {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Record r, store_->Get(key));
  if (r.kind == Kind::kCommitted)
    return r.usage;
  absl::StatusOr<Usage> u = DiskUsage(SnapshotDir(r.id) / "fs");
  if (!u.ok())
    return Annotate(u.status(), Object(key));
  return u;
}

absl::StatusOr<std::vector<mount::Mount>> LocalSnapshotter::Mounts(const std::string& key) {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Record r, store_->Get(key));
  if (r.kind != Kind::kActive && r.kind != Kind::kView)
    return FailedPrecondition(fmt::format("{}: is {}, not active or a view: it has no mounts",
                                          Object(key), KindName(r.kind)));
  BERTH_ASSIGN_OR_RETURN(std::vector<fs::path> parents, ParentDirs(r.parent_id));
  return driver_->Mounts(SnapshotDir(r.id), r.kind, parents);
}

absl::StatusOr<std::vector<mount::Mount>> LocalSnapshotter::Prepare(const std::string& key,
                                                                    const std::string& parent,
                                                                    const Labels& labels,
                                                                    Durability durability) {
  return Create(Kind::kActive, key, parent, labels, durability);
}

absl::StatusOr<std::vector<mount::Mount>> LocalSnapshotter::View(const std::string& key,
                                                                 const std::string& parent,
                                                                 const Labels& labels,
                                                                 Durability durability) {
  return Create(Kind::kView, key, parent, labels, durability);
}

absl::StatusOr<fs::path> LocalSnapshotter::BuildDir(Kind kind,
                                                    const std::vector<fs::path>& parents) {
  std::string tmpl = (root_ / "snapshots" / "new-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    return ErrnoError(errno,
                      fmt::format("create directory in {:?}", (root_ / "snapshots").string()));
  fs::path dir = tmpl;
  if (absl::Status s = driver_->Populate(dir, kind, parents); !s.ok()) {
    RemoveLater(dir);
    return s;
  }
  return dir;
}

absl::StatusOr<std::vector<mount::Mount>> LocalSnapshotter::Create(Kind kind,
                                                                   const std::string& key,
                                                                   const std::string& parent,
                                                                   const Labels& labels,
                                                                   Durability durability) {
  if (key.empty())
    return InvalidArgument("snapshot key must not be empty");
  BERTH_RETURN_IF_ERROR(Annotate(ValidateLabels(labels), Object(key)));
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(MetaStore::Transaction tx, store_->Begin(durability));
  int64_t parent_id = 0;
  if (!parent.empty()) {
    absl::StatusOr<Record> p = store_->Get(parent);
    if (!p.ok())
      return Annotate(p.status(), fmt::format("{}: parent", Object(key)));
    if (p->kind != Kind::kCommitted)
      return FailedPrecondition(fmt::format("{}: parent {:?} is {}, not committed", Object(key),
                                            parent, KindName(p->kind)));
    parent_id = p->id;
  }
  BERTH_ASSIGN_OR_RETURN(int64_t id, store_->Insert(kind, key, parent_id, labels, NowNanos()));
  BERTH_ASSIGN_OR_RETURN(std::vector<fs::path> parents, ParentDirs(parent_id));
  BERTH_ASSIGN_OR_RETURN(fs::path tmp, BuildDir(kind, parents));
  const fs::path dir = SnapshotDir(id);
  // An id whose insert was rolled back can come again; its directory is an orphan.
  absl::Status s = RemoveTree(dir);
  if (s.ok())
    s = Rename(tmp, dir);
  if (!s.ok()) {
    RemoveLater(tmp);
    return Annotate(s, Object(key));
  }
  // The id can come again (see above): its directory goes now, not in the background.
  if (durability == Durability::kSynced)
    s = SyncDir(root_ / "snapshots");
  if (s.ok())
    s = tx.Commit();
  if (!s.ok()) {
    RemoveNow(dir);
    return Annotate(s, Object(key));
  }
  return driver_->Mounts(dir, kind, parents);
}

absl::Status LocalSnapshotter::Commit(const std::string& name, const std::string& key,
                                      const Labels& labels) {
  if (name.empty())
    return InvalidArgument(fmt::format("commit of {}: name must not be empty", Object(key)));
  if (key.empty())
    return InvalidArgument("snapshot key must not be empty");
  BERTH_RETURN_IF_ERROR(Annotate(ValidateLabels(labels), Object(name)));
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(MetaStore::Transaction tx, store_->Begin());
  BERTH_ASSIGN_OR_RETURN(Record r, store_->Get(key));
  if (r.kind != Kind::kActive)
    return FailedPrecondition(
        fmt::format("{}: is {}, not active: cannot commit", Object(key), KindName(r.kind)));
  absl::StatusOr<Usage> usage = DiskUsage(SnapshotDir(r.id) / "fs");
  if (!usage.ok())
    return Annotate(usage.status(), Object(key));
  BERTH_RETURN_IF_ERROR(store_->MarkCommitted(r.id, name, labels, *usage, NowNanos()));
  // The active snapshot may have been created deferred: its directory's rename goes to disk
  // before the record that makes it committed (Recover rebuilds active ones only).
  BERTH_RETURN_IF_ERROR(Annotate(SyncDir(root_ / "snapshots"), Object(key)));
  return Annotate(tx.Commit(), Object(name));
}

absl::Status LocalSnapshotter::Remove(const std::string& key) {
  if (key.empty())
    return InvalidArgument("snapshot key must not be empty");
  mount::WaitForBackgroundUnmounts();  // a deleted task's rootfs may still be on it
  absl::MutexLock lock(&mu_);
  // Nothing on disk waits for this commit: neither the rename nor the commit needs a sync on
  // this path. Whichever of the two a power loss drops, Recover() or Cleanup() finishes the
  // job, and the directory itself is deleted only after the log is synced (RemoverLoop).
  BERTH_ASSIGN_OR_RETURN(MetaStore::Transaction tx, store_->Begin(Durability::kDeferred));
  BERTH_ASSIGN_OR_RETURN(Record r, store_->Get(key));
  BERTH_ASSIGN_OR_RETURN(bool children, store_->HasChildren(r.id));
  if (children)
    return FailedPrecondition(fmt::format("{}: has children", Object(key)));
  BERTH_RETURN_IF_ERROR(store_->Delete(r.id));
  const fs::path dir = SnapshotDir(r.id);
  const fs::path removed = root_ / "snapshots" / fmt::format("rm-{}", r.id);
  bool renamed = false;
  if (fs::exists(dir)) {
    if (fs::exists(removed))
      WaitForRemovals();  // an earlier snapshot with this id may still be going
    BERTH_RETURN_IF_ERROR(RemoveTree(removed));
    BERTH_RETURN_IF_ERROR(Annotate(Rename(dir, removed), Object(key)));
    renamed = true;
  }
  if (absl::Status s = tx.Commit(); !s.ok()) {
    if (renamed && !Rename(removed, dir).ok())
      spdlog::error("snapshot directory not restored key={} path={}", key, removed.string());
    return Annotate(s, Object(key));
  }
  if (renamed)
    RemoveLater(removed);
  return absl::OkStatus();
}

absl::Status LocalSnapshotter::Walk(absl::FunctionRef<absl::Status(const Info&)> fn) {
  std::vector<Record> all;
  {
    absl::MutexLock lock(&mu_);
    BERTH_ASSIGN_OR_RETURN(all, store_->All());
  }
  for (const Record& r : all) BERTH_RETURN_IF_ERROR(fn(r.ToInfo()));
  return absl::OkStatus();
}

absl::Status LocalSnapshotter::Cleanup() {
  WaitForRemovals();
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(std::set<int64_t> ids, store_->Ids());
  std::error_code ec;
  absl::Status result;
  for (const fs::directory_entry& e : fs::directory_iterator(root_ / "snapshots", ec)) {
    if (ids.count(IdOf(e.path().filename().string(), "")))
      continue;
    if (absl::Status s = RemoveTree(e.path()); !s.ok() && result.ok())
      result = s;
  }
  if (ec)
    return ErrnoError(ec.value(), fmt::format("list {:?}", (root_ / "snapshots").string()));
  return result;
}

}  // namespace berth::snapshot
