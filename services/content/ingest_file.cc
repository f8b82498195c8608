#include "services/content/ingest_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::content {
namespace {

// O_DIRECT needs buffers, offsets and lengths aligned to the device's logical block size;
// 4 KiB covers 512-byte and 4 KiB devices.
constexpr size_t kAlign = 4096;
constexpr size_t kChunk = 2 << 20;
constexpr size_t kDepth = 4;  // queued chunks per file

int64_t AlignDown(int64_t v) {
  return v & ~static_cast<int64_t>(kAlign - 1);
}

absl::Status SetDirect(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, on ? (flags | O_DIRECT) : (flags & ~O_DIRECT)) != 0)
    return ErrnoError(errno, "set O_DIRECT on ingest data");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<IngestFile>> IngestFile::Open(const std::filesystem::path& path) {
  bool direct = true;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_DIRECT, 0644));
  if (!fd.valid() && errno == EINVAL) {  // the filesystem has no direct I/O
    direct = false;
    fd = UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  }
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("open ingest data {:?}", path.string()));
  int64_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size < 0)
    return ErrnoError(errno, fmt::format("size of ingest data {:?}", path.string()));
  std::unique_ptr<IngestFile> f(new IngestFile(std::move(fd), direct));
  BERTH_RETURN_IF_ERROR(Annotate(f->Resume(size), fmt::format("resume {:?}", path.string())));
  return f;
}

// Hashes the bytes already in the file and keeps its last partial block in cur_, so that the
// next direct write starts at an aligned offset.
absl::Status IngestFile::Resume(int64_t size) {
  cur_.buf = TakeBuffer();
  size_ = size;
  cur_.offset = AlignDown(size);
  cur_.len = cur_.hashed = cur_.in_file = static_cast<size_t>(size - cur_.offset);
  for (int64_t off = 0; off < size;) {
    // Whole aligned chunks, as O_DIRECT wants; the last read comes back short.
    ssize_t n = ::pread(fd_.get(), cur_.buf.get(), kChunk, off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return ErrnoError(n < 0 ? errno : EIO, "re-read ingest data for its digest");
    n = std::min<ssize_t>(n, size - off);
    hash_.Update(cur_.buf.get(), static_cast<size_t>(n));
    off += n;
  }
  if (cur_.len > 0) {
    ssize_t n = ::pread(fd_.get(), cur_.buf.get(), kAlign, cur_.offset);  // short at the end
    if (n != static_cast<ssize_t>(cur_.len))
      return ErrnoError(n < 0 ? errno : EIO, "re-read the last block of ingest data");
  }
  return absl::OkStatus();
}

IngestFile::~IngestFile() {
  if (hasher_.joinable()) {
    Drain();
    {
      std::lock_guard l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    hasher_.join();
    writer_.join();
  }
}

IngestFile::Buffer IngestFile::TakeBuffer() {
  if (!spare_.empty()) {
    Buffer b = std::move(spare_.back());
    spare_.pop_back();
    return b;
  }
  Buffer b(static_cast<char*>(std::aligned_alloc(kAlign, kChunk)));
  if (b == nullptr)
    throw std::bad_alloc();
  return b;
}

absl::Status IngestFile::Append(std::string_view data) {
  while (!data.empty()) {
    if (cur_.buf == nullptr) {
      std::lock_guard l(mu_);
      cur_.buf = TakeBuffer();
    }
    size_t n = std::min(kChunk - cur_.len, data.size());
    std::memcpy(cur_.buf.get() + cur_.len, data.data(), n);
    cur_.len += n;
    size_ += static_cast<int64_t>(n);
    data.remove_prefix(n);
    if (cur_.len == kChunk)
      BERTH_RETURN_IF_ERROR(Submit());
  }
  std::lock_guard l(mu_);
  return error_;
}

absl::Status IngestFile::Submit() {
  if (!hasher_.joinable()) {  // small blobs never start the threads
    hasher_ = std::thread([this] { HashLoop(); });
    writer_ = std::thread([this] { WriteLoop(); });
  }
  int64_t next = cur_.offset + static_cast<int64_t>(cur_.len);
  {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return queue_.size() < kDepth; });
    if (!error_.ok())
      return error_;
    queue_.push_back(std::move(cur_));
    cur_ = Chunk{.buf = TakeBuffer(), .offset = next};
  }
  cv_.notify_all();
  return absl::OkStatus();
}

void IngestFile::Drain() {
  std::unique_lock l(mu_);
  cv_.wait(l, [&] { return queue_.empty(); });
}

absl::Status IngestFile::WriteAt(const char* data, size_t n, int64_t offset, bool allow_direct) {
  if (direct_ && !allow_direct)
    BERTH_RETURN_IF_ERROR(SetDirect(fd_.get(), false));
  size_t done = 0;
  absl::Status s;
  while (done < n) {
    ssize_t w = ::pwrite(fd_.get(), data + done, n - done, offset + static_cast<int64_t>(done));
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && errno == EINVAL && direct_ && allow_direct) {
      // The device wants a larger alignment than ours: go through the page cache from now on.
      s = SetDirect(fd_.get(), false);
      direct_ = false;
      if (!s.ok())
        break;
      continue;
    }
    if (w <= 0) {
      s = ErrnoError(w < 0 ? errno : EIO, "write ingest data");
      break;
    }
    done += static_cast<size_t>(w);
  }
  if (direct_ && !allow_direct && s.ok())
    s = SetDirect(fd_.get(), true);
  return s;
}

void IngestFile::HashLoop() {
  std::unique_lock l(mu_);
  while (true) {
    cv_.wait(l, [&] { return stopping_ || hashed_ < queue_.size(); });
    if (stopping_)
      return;
    const Chunk& c = queue_[hashed_];  // deque: stays put while the other thread pushes
    l.unlock();
    hash_.Update(c.buf.get() + c.hashed, c.len - c.hashed);
    l.lock();
    ++hashed_;
    if (hashed_ > 0 && written_ > 0) {
      spare_.push_back(std::move(queue_.front().buf));
      queue_.pop_front();
      --hashed_;
      --written_;
    }
    cv_.notify_all();
  }
}

void IngestFile::WriteLoop() {
  std::unique_lock l(mu_);
  while (true) {
    cv_.wait(l, [&] { return stopping_ || written_ < queue_.size(); });
    if (stopping_)
      return;
    const Chunk& c = queue_[written_];
    bool failed = !error_.ok();
    l.unlock();
    absl::Status s;
    if (!failed) {
      s = WriteAt(c.buf.get(), c.len, c.offset, /*allow_direct=*/true);
      if (!s.ok())
        (void)::ftruncate(fd_.get(), c.offset);  // keep the file a prefix of the data
    }
    l.lock();
    if (!s.ok())
      error_ = s;
    ++written_;
    if (hashed_ > 0 && written_ > 0) {
      spare_.push_back(std::move(queue_.front().buf));
      queue_.pop_front();
      --hashed_;
      --written_;
    }
    cv_.notify_all();
  }
}

absl::Status IngestFile::Flush() {
  Drain();
  {
    std::lock_guard l(mu_);
    BERTH_RETURN_IF_ERROR(error_);
  }
  if (cur_.len > cur_.hashed) {
    hash_.Update(cur_.buf.get() + cur_.hashed, cur_.len - cur_.hashed);
    cur_.hashed = cur_.len;
  }
  if (cur_.len > cur_.in_file) {
    // The partial chunk goes through the page cache: its end is not aligned.
    BERTH_RETURN_IF_ERROR(WriteAt(cur_.buf.get() + cur_.in_file, cur_.len - cur_.in_file,
                                  cur_.offset + static_cast<int64_t>(cur_.in_file),
                                  /*allow_direct=*/false));
    cur_.in_file = cur_.len;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> IngestFile::Digest() {
  BERTH_RETURN_IF_ERROR(Flush());
  return hash_.Digest();
}

absl::Status IngestFile::Truncate() {
  Drain();
  if (::ftruncate(fd_.get(), 0) != 0)
    return ErrnoError(errno, "truncate ingest data");
  std::lock_guard l(mu_);
  error_ = absl::OkStatus();
  hash_ = Sha256();
  size_ = 0;
  cur_.offset = 0;
  cur_.len = cur_.hashed = cur_.in_file = 0;
  return absl::OkStatus();
}

}  // namespace berth::content
