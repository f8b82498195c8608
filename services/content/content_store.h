#pragma once

// ContentStore is the namespaced content store that the API serves: blobs live once in the
// LocalStore, and each namespace sees the digests it has a metadata row for (with its own
// labels). Ingest refs are per namespace too. Thread-safe.
//
// Errors: InvalidArgument (bad digest, ref or label), NotFound (digest or ref not in this
// namespace), AlreadyExists (writing content the namespace already has), FailedPrecondition
// (size or digest mismatch at commit), Unavailable (ref locked by another writer),
// OutOfRange (write at the wrong offset).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "lib/base/labels.h"
#include "services/content/local_store.h"
#include "services/metadata/db.h"

namespace berth::content {

struct Info {
  std::string digest;
  int64_t size = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  Labels labels;
};

class ContentStore {
 public:
  ContentStore(metadata::Db& db, LocalStore& local) : db_(db), local_(local) {}

  absl::StatusOr<content::Info> Get(const std::string& ns, const std::string& digest);
  absl::StatusOr<std::vector<content::Info>> List(const std::string& ns);
  // Only labels can change: paths "labels" or "labels.<key>" (none: replace all labels).
  absl::StatusOr<content::Info> Update(const std::string& ns, const content::Info& info,
                                       const std::vector<std::string>& paths);
  // Removes the namespace's record; the garbage collector removes the blob once nothing
  // refers to it.
  absl::Status Delete(const std::string& ns, const std::string& digest);
  // An open blob of this namespace, for reading; its record in `*info` if given.
  absl::StatusOr<UniqueFd> Open(const std::string& ns, const std::string& digest,
                                content::Info* info = nullptr);

  // Opens or resumes the namespace's ingest `ref`. When `expected` names a blob that the
  // store already has, records it in the namespace (if not yet), lets `lease` (if not empty)
  // hold it, and returns AlreadyExists.
  absl::StatusOr<std::unique_ptr<Writer>> OpenWriter(const std::string& ns, const std::string& ref,
                                                     int64_t total, const std::string& expected,
                                                     const std::string& lease = "");
  // Commits a writer opened through OpenWriter and records the blob in the namespace with
  // `labels`; when `lease` is not empty the lease holds the blob (NotFound if there is no such
  // lease), in the same transaction. Returns the digest.
  absl::StatusOr<std::string> Commit(const std::string& ns, Writer& w, int64_t size,
                                     const std::string& expected, const Labels& labels,
                                     const std::string& lease = "");
  absl::StatusOr<IngestStatus> Status(const std::string& ns, const std::string& ref);
  std::vector<IngestStatus> ListStatuses(const std::string& ns);
  absl::Status Abort(const std::string& ns, const std::string& ref);

  // Held shared while a commit moves a blob into the store and records it, and exclusively by
  // the garbage collector while it removes blobs, so that it never sees a committed blob
  // before its record.
  absl::Mutex& commit_lock() { return commit_lock_; }

 private:
  absl::Status Record(const std::string& ns, const std::string& digest, int64_t size,
                      const Labels& labels, bool fail_if_present, const std::string& lease);

  absl::Mutex commit_lock_;
  metadata::Db& db_;
  LocalStore& local_;
};

}  // namespace berth::content
