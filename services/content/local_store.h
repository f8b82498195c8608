#pragma once

// LocalStore is the content-addressed blob store on disk, shared by all namespaces:
//
//   <root>/blobs/sha256/<hex>        committed blobs, read-only, never partly visible
//   <root>/ingest/<sha256(ref)>/     one in-progress write: data, ref, total, expected, startedat
//
// A write goes to ingest/ (IngestFile: hashed from memory and written with O_DIRECT, both off
// the caller's thread), and on Commit is checked against the
// expected size and digest, fsynced, renamed into blobs/ and the directory fsynced. An ingest
// survives a crash of the writer or of berthd: opening a writer on the same ref continues at
// the offset stored on disk (the hash is rebuilt from the data there). Data acknowledged but
// still queued when berthd is killed is lost; the resumed client sends it again. One writer per ref
// at a time. Thread-safe.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "lib/base/unique_fd.h"
#include "services/content/digest.h"
#include "services/content/ingest_file.h"

namespace berth::content {

struct IngestStatus {
  std::string ref;
  int64_t offset = 0;
  int64_t total = 0;       // 0 when unknown
  std::string expected;    // "" when unknown
  int64_t started_at = 0;  // nanoseconds since the epoch
  int64_t updated_at = 0;
};

class LocalStore;

// An open ingest, holding the ref's lock until destroyed.
class Writer {
 public:
  ~Writer();

  const IngestStatus& status() const { return status_; }

  int64_t offset() const { return status_.offset; }

  // Appends `data`, which must start at the current offset (OutOfRange otherwise, naming
  // both offsets; nothing is written).
  absl::Status Write(int64_t offset, std::string_view data);
  // Starts the ingest over from offset 0 (containerd's writers do this on a write at 0).
  absl::Status Truncate();

  // What a commit published.
  struct Committed {
    std::string digest;
    bool existed = false;  // the store had the blob already: the ingest was removed instead
  };

  // Checks size and digest against the arguments (0 / "" for unknown) and the ingest's own
  // expectations, then publishes the blob. FailedPrecondition naming both values on a
  // mismatch (the ingest is discarded: its data is known bad).
  absl::StatusOr<Committed> Commit(int64_t size, const std::string& expected);
  // Sets the expected total/digest when they were not known at open.
  void SetExpected(int64_t total, const std::string& expected);

  // The ref that error messages name (default: the store's ref), e.g. the client's own ref
  // where the store's carries a namespace.
  void SetDisplayRef(std::string ref) { display_ref_ = std::move(ref); }

 private:
  friend class LocalStore;

  Writer(LocalStore& store, std::filesystem::path dir, std::unique_ptr<IngestFile> file,
         IngestStatus st)
      : store_(store),
        dir_(std::move(dir)),
        file_(std::move(file)),
        status_(std::move(st)),
        display_ref_(status_.ref) {}

  // Removes the ingest after a failed check and returns `why`.
  absl::Status Discard(absl::Status why);

  LocalStore& store_;
  bool discarded_ = false;
  std::filesystem::path dir_;
  std::unique_ptr<IngestFile> file_;
  IngestStatus status_;
  std::string display_ref_;
};

class LocalStore {
 public:
  // Creates the directories under `root`.
  static absl::StatusOr<std::unique_ptr<LocalStore>> Open(const std::filesystem::path& root);

  // Size of a committed blob; NotFound when absent.
  absl::StatusOr<int64_t> BlobSize(const std::string& digest) const;
  absl::StatusOr<UniqueFd> OpenBlob(const std::string& digest) const;
  absl::Status DeleteBlob(const std::string& digest);
  std::vector<std::string> ListBlobs() const;
  std::filesystem::path BlobPath(const std::string& digest) const;

  // Opens (creating or resuming) the ingest `ref`. Unavailable "ref … locked" when another
  // writer holds it. `total`/`expected` may be 0/"" (unknown); a conflict with what the ingest
  // recorded earlier is FailedPrecondition.
  absl::StatusOr<std::unique_ptr<Writer>> OpenWriter(const std::string& ref, int64_t total,
                                                     const std::string& expected);
  absl::StatusOr<IngestStatus> Status(const std::string& ref) const;
  std::vector<IngestStatus> ListIngests() const;
  // Removes the ingest; NotFound when there is none, Unavailable while a writer holds it.
  absl::Status Abort(const std::string& ref);

  const std::filesystem::path& root() const { return root_; }

 private:
  friend class Writer;

  explicit LocalStore(std::filesystem::path root) : root_(std::move(root)) {}

  std::filesystem::path IngestDir(const std::string& ref) const;
  void Unlock(const std::string& ref);
  absl::StatusOr<IngestStatus> ReadStatus(const std::filesystem::path& dir) const;

  std::filesystem::path root_;
  mutable absl::Mutex mu_;
  std::set<std::string> locked_;  // refs with an open Writer; guarded by mu_
};

// InvalidArgument unless `ref` is 1–256 printable ASCII characters, not starting with '/',
// with no ".." and no spaces.
absl::Status ValidateRef(const std::string& ref);

}  // namespace berth::content
