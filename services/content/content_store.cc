#include "services/content/content_store.h"

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "services/metadata/labels_json.h"
#include "services/metadata/lease_store.h"
#include "services/metadata/namespace_store.h"

namespace berth::content {
namespace {

using metadata::Stmt;
using metadata::Tx;

// Ingest refs are kept per namespace as "<ns>@<ref>" in the shared local store.
std::string BackendRef(const std::string& ns, const std::string& ref) {
  return ns + "@" + ref;
}

absl::StatusOr<content::Info> Load(Tx& tx, const std::string& ns, const std::string& digest) {
  BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("SELECT size, labels, created_at, updated_at FROM "
                                          "content WHERE namespace = ? AND digest = ?"));
  q.Bind(1, ns).Bind(2, digest);
  BERTH_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row)
    return NotFoundError("content", digest);
  BERTH_ASSIGN_OR_RETURN(Labels labels, metadata::DecodeLabels(q.Text(1)));
  return content::Info{digest, q.Int(0), q.Int(2), q.Int(3), std::move(labels)};
}

}  // namespace

absl::StatusOr<Info> ContentStore::Get(const std::string& ns, const std::string& digest) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  content::Info out;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(out, Load(tx, ns, digest));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<Info>> ContentStore::List(const std::string& ns) {
  std::vector<content::Info> out;
  BERTH_RETURN_IF_ERROR(db_.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("SELECT digest, size, labels, created_at, updated_at "
                                            "FROM content WHERE namespace = ? ORDER BY digest"));
    q.Bind(1, ns);
    return metadata::ForEachRow(q, [&](Stmt& r) -> absl::Status {
      BERTH_ASSIGN_OR_RETURN(Labels labels, metadata::DecodeLabels(r.Text(2)));
      out.push_back({r.Text(0), r.Int(1), r.Int(3), r.Int(4), std::move(labels)});
      return absl::OkStatus();
    });
  }));
  return out;
}

absl::StatusOr<Info> ContentStore::Update(const std::string& ns, const content::Info& info,
                                          const std::vector<std::string>& paths) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(info.digest));
  std::string object = fmt::format("content {:?}", info.digest);
  BERTH_RETURN_IF_ERROR(Annotate(ValidateLabels(info.labels), object));
  content::Info cur;
  BERTH_RETURN_IF_ERROR(db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(cur, Load(tx, ns, info.digest));
    BERTH_RETURN_IF_ERROR(ApplyLabelPaths(info.labels, paths, object, cur.labels));
    cur.updated_at = metadata::NowNanos();
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("UPDATE content SET labels = ?, updated_at = ? "
                                            "WHERE namespace = ? AND digest = ?"));
    q.Bind(1, metadata::EncodeLabels(cur.labels)).Bind(2, cur.updated_at).Bind(3, ns);
    q.Bind(4, info.digest);
    return q.Run();
  }));
  return cur;
}

absl::Status ContentStore::Delete(const std::string& ns, const std::string& digest) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  return db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Stmt del,
                           tx.Query("DELETE FROM content WHERE namespace = ? AND digest = ?"));
    del.Bind(1, ns).Bind(2, digest);
    BERTH_RETURN_IF_ERROR(del.Run());
    if (tx.Changes() == 0)
      return NotFoundError("content", digest);
    return absl::OkStatus();
  });
}

absl::StatusOr<UniqueFd> ContentStore::Open(const std::string& ns, const std::string& digest,
                                            content::Info* info) {
  BERTH_ASSIGN_OR_RETURN(content::Info recorded, Get(ns, digest));
  if (info != nullptr)
    *info = std::move(recorded);
  return local_.OpenBlob(digest);
}

absl::Status ContentStore::Record(const std::string& ns, const std::string& digest, int64_t size,
                                  const Labels& labels, bool fail_if_present,
                                  const std::string& lease) {
  return db_.Update([&](Tx& tx) -> absl::Status {
    BERTH_RETURN_IF_ERROR(metadata::EnsureNamespace(tx, ns));
    if (!lease.empty())
      BERTH_RETURN_IF_ERROR(metadata::HoldByLease(tx, ns, lease, {digest, "content"}));
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("INSERT OR IGNORE INTO content (namespace, digest, "
                                            "size, labels, created_at, updated_at) "
                                            "VALUES (?, ?, ?, ?, ?, ?)"));
    int64_t now = metadata::NowNanos();
    q.Bind(1, ns).Bind(2, digest).Bind(3, size).Bind(4, metadata::EncodeLabels(labels));
    q.Bind(5, now).Bind(6, now);
    BERTH_RETURN_IF_ERROR(q.Run());
    if (tx.Changes() == 0 && fail_if_present)
      return AlreadyExistsError("content", digest);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<Writer>> ContentStore::OpenWriter(const std::string& ns,
                                                                 const std::string& ref,
                                                                 int64_t total,
                                                                 const std::string& expected,
                                                                 const std::string& lease) {
  BERTH_RETURN_IF_ERROR(ValidateRef(ref));
  if (!expected.empty()) {
    BERTH_RETURN_IF_ERROR(ValidateDigest(expected));
    // Under the commit lock, as a commit: the collector cannot remove the blob between this
    // check and the record or lease that keeps it (a blob that nothing referred to any more
    // would otherwise go right after the client was told that it exists).
    absl::ReaderMutexLock l(&commit_lock_);
    absl::StatusOr<content::Info> recorded = Get(ns, expected);
    if (recorded.ok() && lease.empty())
      return AlreadyExistsError("content", expected);
    absl::StatusOr<int64_t> size =
        recorded.ok() ? absl::StatusOr<int64_t>(recorded->size) : local_.BlobSize(expected);
    if (size.ok() && (total == 0 || total == *size)) {
      // Recorded in the namespace if not yet (another namespace may have the blob: shared, not
      // written again) and held by the client's lease, as containerd does.
      BERTH_RETURN_IF_ERROR(Record(ns, expected, *size, {}, false, lease));
      return AlreadyExistsError("content", expected);
    }
  }
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<Writer> w,
                         local_.OpenWriter(BackendRef(ns, ref), total, expected));
  w->SetDisplayRef(ref);  // errors name the client's ref, not the store's "<ns>@<ref>"
  return w;
}

absl::StatusOr<std::string> ContentStore::Commit(const std::string& ns, Writer& w, int64_t size,
                                                 const std::string& expected, const Labels& labels,
                                                 const std::string& lease) {
  BERTH_RETURN_IF_ERROR(Annotate(ValidateLabels(labels), "commit"));
  absl::ReaderMutexLock l(&commit_lock_);
  int64_t written = w.offset();
  BERTH_ASSIGN_OR_RETURN(Writer::Committed committed, w.Commit(size, expected));
  // The blob is in the store, now or already (written by any namespace, with or without an
  // expected digest): record it here, AlreadyExists when this namespace had it.
  BERTH_RETURN_IF_ERROR(
      Record(ns, committed.digest, written, labels, /*fail_if_present=*/true, lease));
  return committed.digest;
}

absl::StatusOr<IngestStatus> ContentStore::Status(const std::string& ns, const std::string& ref) {
  BERTH_RETURN_IF_ERROR(ValidateRef(ref));
  absl::StatusOr<IngestStatus> s = local_.Status(BackendRef(ns, ref));
  if (!s.ok())
    return absl::IsNotFound(s.status()) ? NotFoundError("ingest", ref) : s.status();
  s->ref = ref;
  return s;
}

std::vector<IngestStatus> ContentStore::ListStatuses(const std::string& ns) {
  std::vector<IngestStatus> out;
  const std::string prefix = ns + "@";
  for (IngestStatus& s : local_.ListIngests()) {
    if (s.ref.compare(0, prefix.size(), prefix) != 0)
      continue;
    s.ref = s.ref.substr(prefix.size());
    out.push_back(std::move(s));
  }
  return out;
}

absl::Status ContentStore::Abort(const std::string& ns, const std::string& ref) {
  BERTH_RETURN_IF_ERROR(ValidateRef(ref));
  absl::Status s = local_.Abort(BackendRef(ns, ref));
  if (absl::IsNotFound(s))
    return NotFoundError("ingest", ref);
  return s;
}

}  // namespace berth::content
