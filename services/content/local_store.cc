#include "services/content/local_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "lib/base/fs_sync.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "services/metadata/db.h"

namespace berth::content {
namespace fs = std::filesystem;

namespace {

absl::Status WriteSmallFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << content;
  out.flush();
  if (!out)
    return ErrnoError(errno, fmt::format("write {:?}", path.string()));
  return absl::OkStatus();
}

std::string ReadSmallFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t ToInt(const std::string& s) {
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      break;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Backend refs are hashed into directory names, so any text is safe on disk; it must only fit
// in the small "ref" file and be non-empty.
absl::Status CheckBackendRef(const std::string& ref) {
  if (ref.empty() || ref.size() > 1024 || ref.find('\0') != std::string::npos) {
    return InvalidArgument(fmt::format("ref {:?}: not a valid ingest ref", ref.substr(0, 64)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRef(const std::string& ref) {
  if (ref.empty())
    return InvalidArgument("ref must not be empty");
  // containerd's clients use refs such as "tar-<hash>/VERSION" or "layer-sha256:<hex>"; refs
  // are hashed into directory names, so none can escape, but anything that reads as a path
  // traversal is refused outright.
  bool ok = ref.size() <= 256 && ref[0] != '/' && ref.find("..") == std::string::npos;
  for (char c : ref) ok = ok && c > ' ' && c < 127;
  if (!ok) {
    return InvalidArgument(fmt::format(
        "ref {:?}: must be 1 to 256 printable characters, not starting with '/' and without "
        "'..' or spaces",
        ref.substr(0, 300)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LocalStore>> LocalStore::Open(const fs::path& root) {
  std::error_code ec;
  for (const char* sub : {"blobs/sha256", "ingest"}) {
    fs::create_directories(root / sub, ec);
    if (ec)
      return ErrnoError(ec.value(), fmt::format("create {:?}", (root / sub).string()));
  }
  return std::unique_ptr<LocalStore>(new LocalStore(root));
}

fs::path LocalStore::BlobPath(const std::string& digest) const {
  return root_ / "blobs" / "sha256" / std::string(DigestHex(digest));
}

fs::path LocalStore::IngestDir(const std::string& ref) const {
  Sha256 h;
  h.Update(ref.data(), ref.size());
  return root_ / "ingest" / std::string(DigestHex(h.Digest()));
}

absl::StatusOr<int64_t> LocalStore::BlobSize(const std::string& digest) const {
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));

  struct stat st {};

  if (::stat(BlobPath(digest).c_str(), &st) != 0) {
    if (errno == ENOENT)
      return NotFoundError("content", digest);
    return ErrnoError(errno, fmt::format("stat content {:?}", digest));
  }
  return static_cast<int64_t>(st.st_size);
}

absl::StatusOr<UniqueFd> LocalStore::OpenBlob(const std::string& digest) const {
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  UniqueFd fd(::open(BlobPath(digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT)
      return NotFoundError("content", digest);
    return ErrnoError(errno, fmt::format("open content {:?}", digest));
  }
  return fd;
}

absl::Status LocalStore::DeleteBlob(const std::string& digest) {
  BERTH_RETURN_IF_ERROR(ValidateDigest(digest));
  if (::unlink(BlobPath(digest).c_str()) != 0) {
    if (errno == ENOENT)
      return NotFoundError("content", digest);
    return ErrnoError(errno, fmt::format("remove content {:?}", digest));
  }
  return absl::OkStatus();
}

std::vector<std::string> LocalStore::ListBlobs() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / "blobs" / "sha256", ec)) {
    std::string d = "sha256:" + e.path().filename().string();
    if (ValidateDigest(d).ok())
      out.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<IngestStatus> LocalStore::ReadStatus(const fs::path& dir) const {
  struct stat st {};

  if (::stat((dir / "data").c_str(), &st) != 0) {
    return absl::NotFoundError(fmt::format("ingest {:?}: no data", dir.filename().string()));
  }
  IngestStatus s;
  s.ref = ReadSmallFile(dir / "ref");
  s.offset = st.st_size;
  s.total = ToInt(ReadSmallFile(dir / "total"));
  s.expected = ReadSmallFile(dir / "expected");
  s.started_at = ToInt(ReadSmallFile(dir / "startedat"));
  s.updated_at = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return s;
}

absl::StatusOr<IngestStatus> LocalStore::Status(const std::string& ref) const {
  BERTH_RETURN_IF_ERROR(CheckBackendRef(ref));
  absl::StatusOr<IngestStatus> s = ReadStatus(IngestDir(ref));
  if (!s.ok() || s->ref != ref)
    return NotFoundError("ingest", ref);
  return s;
}

std::vector<IngestStatus> LocalStore::ListIngests() const {
  std::vector<IngestStatus> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root_ / "ingest", ec)) {
    absl::StatusOr<IngestStatus> s = ReadStatus(e.path());
    if (s.ok() && !s->ref.empty())
      out.push_back(*std::move(s));
  }
  return out;
}

absl::Status LocalStore::Abort(const std::string& ref) {
  BERTH_RETURN_IF_ERROR(CheckBackendRef(ref));
  {
    absl::MutexLock l(&mu_);
    if (locked_.contains(ref))
      return Unavailable(fmt::format("ref {:?}: locked by a writer", ref));
  }
  fs::path dir = IngestDir(ref);
  std::error_code ec;
  if (!fs::exists(dir / "ref", ec) || ReadSmallFile(dir / "ref") != ref) {
    return NotFoundError("ingest", ref);
  }
  fs::remove_all(dir, ec);
  if (ec)
    return ErrnoError(ec.value(), fmt::format("remove ingest {:?}", ref));
  return absl::OkStatus();
}

void LocalStore::Unlock(const std::string& ref) {
  absl::MutexLock l(&mu_);
  locked_.erase(ref);
}

absl::StatusOr<std::unique_ptr<Writer>> LocalStore::OpenWriter(const std::string& ref,
                                                               int64_t total,
                                                               const std::string& expected) {
  BERTH_RETURN_IF_ERROR(CheckBackendRef(ref));
  if (!expected.empty())
    BERTH_RETURN_IF_ERROR(ValidateDigest(expected));
  if (total < 0)
    return InvalidArgument(fmt::format("ref {:?}: negative total size", ref));
  {
    absl::MutexLock l(&mu_);
    if (!locked_.insert(ref).second) {
      return Unavailable(fmt::format("ref {:?}: locked by another writer", ref));
    }
  }
  auto unlock = [&] { Unlock(ref); };
  fs::path dir = IngestDir(ref);
  std::error_code ec;
  bool fresh = !fs::exists(dir / "data", ec);
  if (fresh) {
    fs::create_directories(dir, ec);
    absl::Status s = ec ? ErrnoError(ec.value(), "create ingest directory") : absl::OkStatus();
    if (s.ok())
      s = WriteSmallFile(dir / "ref", ref);
    if (s.ok())
      s = WriteSmallFile(dir / "startedat", std::to_string(metadata::NowNanos()));
    if (!s.ok()) {
      unlock();
      fs::remove_all(dir, ec);
      return Annotate(s, fmt::format("ingest {:?}", ref));
    }
  }
  absl::StatusOr<std::unique_ptr<IngestFile>> file = IngestFile::Open(dir / "data");
  absl::StatusOr<IngestStatus> st =
      file.ok() ? ReadStatus(dir) : Annotate(file.status(), fmt::format("ingest {:?}", ref));
  if (!st.ok()) {
    unlock();
    return st.status();
  }
  st->offset = (*file)->size();
  auto w = std::unique_ptr<Writer>(new Writer(*this, dir, *std::move(file), *std::move(st)));
  if ((total > 0 && w->status_.total > 0 && total != w->status_.total) ||
      (!expected.empty() && !w->status_.expected.empty() && expected != w->status_.expected)) {
    return FailedPrecondition(
        fmt::format("ref {:?}: already in progress with total {} and digest {:?}", ref,
                    w->status_.total, w->status_.expected));
  }
  w->SetExpected(total, expected);
  if (!fresh)
    spdlog::info("resuming ingest ref={:?} offset={}", ref, w->offset());
  return w;
}

Writer::~Writer() {
  // What the client was told is written must be in the file for a resume; a write error has
  // already cut the file back to a consistent prefix.
  if (!discarded_)
    (void)file_->Flush();
  store_.Unlock(status_.ref);
}

void Writer::SetExpected(int64_t total, const std::string& expected) {
  if (total > 0 && status_.total != total) {
    status_.total = total;
    (void)WriteSmallFile(dir_ / "total", std::to_string(total));  // advisory only
  }
  if (!expected.empty() && status_.expected != expected) {
    status_.expected = expected;
    (void)WriteSmallFile(dir_ / "expected", expected);
  }
}

absl::Status Writer::Truncate() {
  BERTH_RETURN_IF_ERROR(Annotate(file_->Truncate(), fmt::format("ingest {:?}", display_ref_)));
  status_.offset = 0;
  return absl::OkStatus();
}

absl::Status Writer::Write(int64_t offset, std::string_view data) {
  if (discarded_)
    return FailedPrecondition(fmt::format("ref {:?}: discarded", display_ref_));
  if (offset != status_.offset) {
    return absl::OutOfRangeError(fmt::format("ref {:?}: write at offset {} but the ingest is at {}",
                                             display_ref_, offset, status_.offset));
  }
  if (status_.total > 0 && offset + static_cast<int64_t>(data.size()) > status_.total) {
    return FailedPrecondition(
        fmt::format("ref {:?}: write past the expected size {}", display_ref_, status_.total));
  }
  absl::Status s = file_->Append(data);
  status_.offset = file_->size();
  BERTH_RETURN_IF_ERROR(Annotate(s, fmt::format("ingest {:?}", display_ref_)));
  status_.updated_at = metadata::NowNanos();
  return absl::OkStatus();
}

absl::Status Writer::Discard(absl::Status why) {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  discarded_ = true;
  return why;
}

absl::StatusOr<Writer::Committed> Writer::Commit(int64_t size, const std::string& expected) {
  if (discarded_)
    return FailedPrecondition(fmt::format("ref {:?}: discarded", display_ref_));
  if (!expected.empty())
    BERTH_RETURN_IF_ERROR(ValidateDigest(expected));
  absl::StatusOr<std::string> digest = file_->Digest();
  if (!digest.ok())
    return Annotate(digest.status(), fmt::format("ingest {:?}", display_ref_));
  const std::string& actual = *digest;
  for (int64_t want : {size, status_.total}) {
    if (want > 0 && want != status_.offset) {
      return Discard(FailedPrecondition(fmt::format(
          "ref {:?}: unexpected commit size {}, expected {}", display_ref_, status_.offset, want)));
    }
  }
  for (const std::string& want : {expected, status_.expected}) {
    if (!want.empty() && want != actual) {
      return Discard(FailedPrecondition(fmt::format(
          "ref {:?}: unexpected commit digest {}, expected {}", display_ref_, actual, want)));
    }
  }
  if (::fsync(file_->fd()) != 0)
    return ErrnoError(errno, "fsync ingest data");
  ::fchmod(file_->fd(), 0444);
  fs::path target = store_.BlobPath(actual);
  std::error_code ec;
  if (fs::exists(target, ec)) {
    fs::remove_all(dir_, ec);
    return Committed{.digest = actual, .existed = true};
  }
  if (::rename((dir_ / "data").c_str(), target.c_str()) != 0) {
    return ErrnoError(errno, fmt::format("publish content {:?}", actual));
  }
  BERTH_RETURN_IF_ERROR(SyncDir(target.parent_path()));
  fs::remove_all(dir_, ec);
  return Committed{.digest = actual};
}

}  // namespace berth::content
