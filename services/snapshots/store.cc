#include "services/snapshots/store.h"

#include <atomic>
#include <map>
#include <set>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "services/metadata/labels_json.h"
#include "services/metadata/lease_store.h"
#include "services/metadata/namespace_store.h"

namespace berth::snapshots {
namespace {

using metadata::Stmt;
using metadata::Tx;
using snapshot::Info;
using snapshot::Kind;

struct Record {
  Info info;
  std::string backend_id;
};

std::string Object(const std::string& key) {
  return fmt::format("snapshot {:?}", key);
}

absl::StatusOr<Record> ReadRecord(Stmt& q, int first) {
  Record r;
  r.info.name = q.Text(first);
  r.backend_id = q.Text(first + 1);
  r.info.parent = q.Text(first + 2);
  r.info.kind = static_cast<Kind>(q.Int(first + 3));
  BERTH_ASSIGN_OR_RETURN(r.info.labels, metadata::DecodeLabels(q.Text(first + 4)));
  r.info.created_at = q.Int(first + 5);
  r.info.updated_at = q.Int(first + 6);
  return r;
}

constexpr char kColumns[] = "key, backend_id, parent, kind, labels, created_at, updated_at";

// The record of `key`, or NotFound.
absl::StatusOr<Record> Load(Tx& tx, const std::string& snapshotter, const std::string& ns,
                            const std::string& key) {
  BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query(fmt::format("SELECT {} FROM snapshots WHERE namespace "
                                                      "= ? AND snapshotter = ? AND key = ?",
                                                      kColumns)));
  q.Bind(1, ns).Bind(2, snapshotter).Bind(3, key);
  BERTH_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row)
    return NotFoundError("snapshot", key);
  return ReadRecord(q, 0);
}

// Load in a read transaction of its own.
absl::StatusOr<Record> LoadOnce(metadata::Db& db, const std::string& snapshotter,
                                const std::string& ns, const std::string& key) {
  Record out;
  BERTH_RETURN_IF_ERROR(db.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(out, Load(tx, snapshotter, ns, key));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status CheckAbsent(Tx& tx, const std::string& snapshotter, const std::string& ns,
                         const std::string& key) {
  absl::StatusOr<Record> r = Load(tx, snapshotter, ns, key);
  if (r.ok())
    return AlreadyExistsError("snapshot", key);
  return absl::IsNotFound(r.status()) ? absl::OkStatus() : r.status();
}

absl::Status Insert(Tx& tx, const std::string& snapshotter, const std::string& ns,
                    const Record& r) {
  BERTH_ASSIGN_OR_RETURN(
      Stmt q, tx.Query("INSERT INTO snapshots (namespace, snapshotter, key, backend_id, parent, "
                       "kind, labels, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  q.Bind(1, ns)
      .Bind(2, snapshotter)
      .Bind(3, r.info.name)
      .Bind(4, r.backend_id)
      .Bind(5, r.info.parent)
      .Bind(6, static_cast<int64_t>(r.info.kind))
      .Bind(7, metadata::EncodeLabels(r.info.labels))
      .Bind(8, r.info.created_at)
      .Bind(9, r.info.updated_at);
  return q.Run();
}

absl::Status DeleteRecord(Tx& tx, const std::string& snapshotter, const std::string& ns,
                          const std::string& key) {
  BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("DELETE FROM snapshots WHERE namespace = ? AND "
                                          "snapshotter = ? AND key = ?"));
  q.Bind(1, ns).Bind(2, snapshotter).Bind(3, key);
  return q.Run();
}

}  // namespace

SnapshotStore::SnapshotStore(std::string name, metadata::Db& db, snapshot::Snapshotter& backend,
                             absl::Duration removal_patience)
    : name_(std::move(name)),
      db_(db),
      backend_(backend),
      removal_patience_(removal_patience),
      remover_(
          [this](std::deque<Removal>& batch, bool stopping) { RemoveBackends(batch, stopping); }) {}

void SnapshotStore::RemoveBackends(std::deque<Removal>& batch, bool stopping) {
  absl::Status durable =
      db_.MakeDurable(batch.back().commit, stopping ? absl::ZeroDuration() : removal_patience_);
  for (const Removal& r : batch) {
    absl::Status s = durable.ok() ? backend_.Remove(r.backend_id) : durable;
    if (!s.ok() && !absl::IsNotFound(s)) {  // NotFound: the collector's sweep was first
      spdlog::warn(
          "snapshotter {}: backend snapshot {:?} not removed yet ({}); the collector will retry",
          name_, r.backend_id, s.ToString());
    }
  }
}

std::string SnapshotStore::NewBackendKey(const std::string& ns, const std::string& key) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}/{}.{}/{}", ns, metadata::NowNanos(), counter.fetch_add(1), key);
}

absl::StatusOr<std::vector<mount::Mount>> SnapshotStore::Create(Kind kind, const std::string& ns,
                                                                const std::string& key,
                                                                const std::string& parent,
                                                                const Labels& labels,
                                                                const std::string& lease) {
  if (key.empty())
    return InvalidArgument("snapshot key must not be empty");
  BERTH_RETURN_IF_ERROR(Annotate(ValidateLabels(labels), Object(key)));
  std::shared_lock sweep(sweep_mu_);
  std::vector<mount::Mount> mounts;
  // Under a lease neither the backend snapshot nor the record is synced: the lease itself is
  // deferred; a later synced commit (the container that uses it) makes the record durable, and
  // RecreateLost() puts back a backend snapshot that a power loss took from under it (store.h).
  const Durability durability = lease.empty() ? Durability::kSynced : Durability::kDeferred;
  BERTH_RETURN_IF_ERROR(db_.Update(
      [&](Tx& tx) -> absl::Status {
        BERTH_RETURN_IF_ERROR(metadata::EnsureNamespace(tx, ns));
        BERTH_RETURN_IF_ERROR(CheckAbsent(tx, name_, ns, key));
        std::string backend_parent;
        if (!parent.empty()) {
          absl::StatusOr<Record> p = Load(tx, name_, ns, parent);
          if (absl::IsNotFound(p.status()))
            return NotFoundError("parent snapshot", parent);
          BERTH_RETURN_IF_ERROR(p.status());
          if (p->info.kind != Kind::kCommitted) {
            return FailedPrecondition(
                fmt::format("parent snapshot {:?} of {:?} is not committed", parent, key));
          }
          backend_parent = p->backend_id;
        }
        Record r;
        r.info = {key, parent, kind, labels, metadata::NowNanos(), 0};
        r.info.updated_at = r.info.created_at;
        r.backend_id = NewBackendKey(ns, key);
        BERTH_RETURN_IF_ERROR(Insert(tx, name_, ns, r));
        if (!lease.empty())
          BERTH_RETURN_IF_ERROR(metadata::HoldByLease(tx, ns, lease, {key, "snapshots/" + name_}));
        // Last, so that nothing after it can fail and leave a backend snapshot without a record.
        absl::StatusOr<std::vector<mount::Mount>> m =
            kind == Kind::kView ? backend_.View(r.backend_id, backend_parent, {}, durability)
                                : backend_.Prepare(r.backend_id, backend_parent, {}, durability);
        if (!m.ok())
          return Annotate(m.status(), Object(key));
        mounts = *std::move(m);
        return absl::OkStatus();
      },
      durability));
  return mounts;
}

absl::StatusOr<std::vector<mount::Mount>> SnapshotStore::Prepare(const std::string& ns,
                                                                 const std::string& key,
                                                                 const std::string& parent,
                                                                 const Labels& labels,
                                                                 const std::string& lease) {
  return Create(Kind::kActive, ns, key, parent, labels, lease);
}

absl::StatusOr<std::vector<mount::Mount>> SnapshotStore::View(const std::string& ns,
                                                              const std::string& key,
                                                              const std::string& parent,
                                                              const Labels& labels,
                                                              const std::string& lease) {
  return Create(Kind::kView, ns, key, parent, labels, lease);
}

absl::StatusOr<std::vector<mount::Mount>> SnapshotStore::Mounts(const std::string& ns,
                                                                const std::string& key) {
  BERTH_ASSIGN_OR_RETURN(Record r, LoadOnce(db_, name_, ns, key));
  absl::StatusOr<std::vector<mount::Mount>> m = backend_.Mounts(r.backend_id);
  if (!m.ok())
    return Annotate(m.status(), Object(key));
  return m;
}

absl::Status SnapshotStore::Commit(const std::string& ns, const std::string& name,
                                   const std::string& key, const Labels& labels,
                                   const std::string& lease) {
  if (name.empty())
    return InvalidArgument(fmt::format("commit of snapshot {:?}: name must not be empty", key));
  BERTH_RETURN_IF_ERROR(Annotate(ValidateLabels(labels), Object(name)));
  std::shared_lock sweep(sweep_mu_);
  return db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Record active, Load(tx, name_, ns, key));
    if (active.info.kind != Kind::kActive) {
      return FailedPrecondition(
          fmt::format("snapshot {:?} is not active: only active snapshots can be committed", key));
    }
    BERTH_RETURN_IF_ERROR(CheckAbsent(tx, name_, ns, name));
    Record committed;
    committed.info = {name, active.info.parent, Kind::kCommitted, labels, metadata::NowNanos(), 0};
    committed.info.updated_at = committed.info.created_at;
    committed.backend_id = NewBackendKey(ns, name);
    BERTH_RETURN_IF_ERROR(DeleteRecord(tx, name_, ns, key));
    BERTH_RETURN_IF_ERROR(Insert(tx, name_, ns, committed));
    if (!lease.empty()) {
      BERTH_RETURN_IF_ERROR(metadata::HoldByLease(tx, ns, lease, {name, "snapshots/" + name_}));
    }
    return Annotate(backend_.Commit(committed.backend_id, active.backend_id, {}), Object(key));
  });
}

absl::Status SnapshotStore::Remove(const std::string& ns, const std::string& key) {
  std::string backend_id;
  // Deferred: the backend snapshot goes once the deletion is durable (RemoveBackends); until
  // then a power loss brings the record back whole, and the collector removes it if nothing
  // refers to it.
  BERTH_RETURN_IF_ERROR(db_.Update(
      [&](Tx& tx) -> absl::Status {
        BERTH_ASSIGN_OR_RETURN(Record r, Load(tx, name_, ns, key));
        BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("SELECT key FROM snapshots WHERE namespace = ? AND "
                                                "snapshotter = ? AND parent = ? LIMIT 1"));
        q.Bind(1, ns).Bind(2, name_).Bind(3, key);
        BERTH_ASSIGN_OR_RETURN(bool child, q.Step());
        if (child) {
          return FailedPrecondition(fmt::format(
              "cannot remove snapshot {:?}: snapshot {:?} is its child", key, q.Text(0)));
        }
        backend_id = r.backend_id;
        return DeleteRecord(tx, name_, ns, key);
      },
      Durability::kDeferred));
  remover_.Post({std::move(backend_id), db_.Commits()});  // this deletion's number, or later
  return absl::OkStatus();
}

absl::StatusOr<Info> SnapshotStore::Stat(const std::string& ns, const std::string& key) {
  BERTH_ASSIGN_OR_RETURN(Record r, LoadOnce(db_, name_, ns, key));
  return std::move(r.info);
}

absl::StatusOr<Info> SnapshotStore::Update(const std::string& ns, const Info& info,
                                           const std::vector<std::string>& paths) {
  BERTH_RETURN_IF_ERROR(Annotate(ValidateLabels(info.labels), Object(info.name)));
  Info out;
  BERTH_RETURN_IF_ERROR(db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Record r, Load(tx, name_, ns, info.name));
    BERTH_RETURN_IF_ERROR(ApplyLabelPaths(info.labels, paths, Object(info.name), r.info.labels));
    r.info.updated_at = metadata::NowNanos();
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("UPDATE snapshots SET labels = ?, updated_at = ? "
                                            "WHERE namespace = ? AND snapshotter = ? AND key = ?"));
    q.Bind(1, metadata::EncodeLabels(r.info.labels))
        .Bind(2, r.info.updated_at)
        .Bind(3, ns)
        .Bind(4, name_)
        .Bind(5, info.name);
    BERTH_RETURN_IF_ERROR(q.Run());
    out = std::move(r.info);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<snapshot::Usage> SnapshotStore::GetUsage(const std::string& ns,
                                                        const std::string& key) {
  BERTH_ASSIGN_OR_RETURN(Record r, LoadOnce(db_, name_, ns, key));
  absl::StatusOr<snapshot::Usage> u = backend_.GetUsage(r.backend_id);
  if (!u.ok())
    return Annotate(u.status(), Object(key));
  return u;
}

absl::StatusOr<std::vector<Info>> SnapshotStore::List(const std::string& ns) {
  std::vector<Info> out;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query(fmt::format("SELECT {} FROM snapshots WHERE "
                                                        "namespace = ? AND snapshotter = ? "
                                                        "ORDER BY key",
                                                        kColumns)));
    q.Bind(1, ns).Bind(2, name_);
    return metadata::ForEachRow(q, [&](Stmt& row) -> absl::Status {
      BERTH_ASSIGN_OR_RETURN(Record r, ReadRecord(row, 0));
      out.push_back(std::move(r.info));
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<int> SnapshotStore::SweepBackend() {
  std::unique_lock sweep(sweep_mu_);
  std::set<std::string> recorded;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Stmt q,
                           tx.Query("SELECT backend_id FROM snapshots WHERE snapshotter = ?"));
    q.Bind(1, name_);
    return metadata::ForEachRow(q, [&](Stmt& row) {
      recorded.insert(row.Text(0));
      return absl::OkStatus();
    });
  }));
  // A record deleted without a sync must not come back after its backend snapshot is gone.
  BERTH_RETURN_IF_ERROR(db_.MakeDurable(db_.Commits(), absl::ZeroDuration()));
  std::map<std::string, std::string> orphans;  // backend key → parent
  std::set<std::string> parents;               // of every backend snapshot that stays
  BERTH_RETURN_IF_ERROR(backend_.Walk([&](const Info& info) {
    if (recorded.contains(info.name)) {
      parents.insert(info.parent);
    } else {
      orphans.emplace(info.name, info.parent);
    }
    return absl::OkStatus();
  }));
  // Children first: remove whatever no remaining snapshot names as its parent, until done.
  int removed = 0;
  while (!orphans.empty()) {
    std::set<std::string> busy = parents;
    for (const auto& [key, parent] : orphans) busy.insert(parent);
    bool progress = false;
    for (auto it = orphans.begin(); it != orphans.end();) {
      if (busy.contains(it->first)) {
        ++it;
        continue;
      }
      if (absl::Status s = backend_.Remove(it->first); !s.ok()) {
        spdlog::warn("snapshotter {}: removing unreferenced snapshot {:?}: {}", name_, it->first,
                     s.ToString());
        parents.insert(it->second);  // keeps its parent too
      } else {
        ++removed;
        progress = true;
      }
      it = orphans.erase(it);
    }
    if (!progress && !orphans.empty()) {
      // Only orphans that are parents of live snapshots (or of failed removals) are left.
      break;
    }
  }
  return removed;
}

absl::StatusOr<int> SnapshotStore::RecreateLost() {
  std::vector<std::pair<std::string, Record>> wanted;  // active and view ones, by namespace
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query(fmt::format("SELECT namespace, {} FROM snapshots "
                                                        "WHERE snapshotter = ? AND kind IN (?, ?)",
                                                        kColumns)));
    q.Bind(1, name_)
        .Bind(2, static_cast<int64_t>(Kind::kActive))
        .Bind(3, static_cast<int64_t>(Kind::kView));
    return metadata::ForEachRow(q, [&](Stmt& row) -> absl::Status {
      BERTH_ASSIGN_OR_RETURN(Record r, ReadRecord(row, 1));
      wanted.emplace_back(row.Text(0), std::move(r));
      return absl::OkStatus();
    });
  }));
  std::set<std::string> present;
  BERTH_RETURN_IF_ERROR(backend_.Walk([&](const Info& info) {
    present.insert(info.name);
    return absl::OkStatus();
  }));
  int recreated = 0;
  for (const auto& [ns, r] : wanted) {
    if (present.contains(r.backend_id))
      continue;
    spdlog::warn("snapshotter {}: recreating snapshot {:?} (backend {:?}), lost in a crash", name_,
                 r.info.name, r.backend_id);
    std::string backend_parent;
    if (!r.info.parent.empty()) {
      absl::StatusOr<Record> p = LoadOnce(db_, name_, ns, r.info.parent);
      if (!p.ok())
        return Annotate(p.status(), fmt::format("recreate {}: parent", Object(r.info.name)));
      backend_parent = p->backend_id;
    }
    absl::StatusOr<std::vector<mount::Mount>> m =
        r.info.kind == Kind::kView ? backend_.View(r.backend_id, backend_parent, {})
                                   : backend_.Prepare(r.backend_id, backend_parent, {});
    if (!m.ok())
      return Annotate(m.status(), fmt::format("recreate {}", Object(r.info.name)));
    ++recreated;
  }
  return recreated;
}

}  // namespace berth::snapshots
