#pragma once

// IngestFile appends an ingest's bytes to its data file and computes their SHA-256, both off
// the caller's thread and both from the same memory: Append copies the bytes into 2 MiB
// chunks (aligned for O_DIRECT), and each full chunk goes to a hashing thread and a writing
// thread. The file is written with O_DIRECT where the filesystem allows it: the data then
// never fills the page cache. On the 2-core build VM, filling fresh page-cache pages cost
// 1.5-2.4 s of system time per GiB (and the fsync at commit another 0.7-1 s), more than the
// hash itself; direct writes of the same GiB cost 0.2-0.3 s. Where O_DIRECT is refused
// (tmpfs, some FUSE filesystems) the chunks are written through the page cache instead.
//
// At most a few chunks are queued per file (Append waits for room), so a writer holds at most
// ~10 MiB. The file always holds a prefix of the appended bytes; Flush writes the last,
// partial chunk. A write error (ENOSPC, EIO) cuts the file back to the last complete chunk,
// keeps it a consistent prefix for a later resume, and is returned by the next call.
//
// Not thread-safe: one caller at a time (the ingest's Writer holds the ref's lock).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"
#include "services/content/digest.h"

namespace berth::content {

class IngestFile {
 public:
  // Opens or creates `path`. Bytes already in the file (a resumed ingest) are read back and
  // hashed before this returns.
  static absl::StatusOr<std::unique_ptr<IngestFile>> Open(const std::filesystem::path& path);
  // Waits for queued chunks; the partial chunk is dropped unless Flush ran.
  ~IngestFile();
  IngestFile(const IngestFile&) = delete;
  IngestFile& operator=(const IngestFile&) = delete;

  // Bytes appended so far, including those not yet in the file.
  int64_t size() const { return size_; }

  int fd() const { return fd_.get(); }

  // True while the file is written with O_DIRECT.
  bool direct() const { return direct_; }

  // Queues `data` at the end. Returns an earlier write error, if any.
  absl::Status Append(std::string_view data);
  // Waits until every appended byte is in the file (not fsynced).
  absl::Status Flush();
  // Flush, then "sha256:<hex>" of all appended bytes.
  absl::StatusOr<std::string> Digest();
  // Empties the file and starts over.
  absl::Status Truncate();

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };

  using Buffer = std::unique_ptr<char, Free>;

  struct Chunk {
    Buffer buf;
    int64_t offset = 0;  // file offset of buf[0], a multiple of the alignment
    size_t len = 0;      // bytes in buf
    size_t hashed = 0;   // leading bytes already hashed (a resumed partial block)
    size_t in_file = 0;  // leading bytes already in the file (after a Flush or a resume)
  };

  IngestFile(UniqueFd fd, bool direct) : fd_(std::move(fd)), direct_(direct) {}

  absl::Status Resume(int64_t size);
  absl::Status Submit();  // queues cur_ (full) and starts the next chunk
  void Drain();           // waits until the threads have taken every queued chunk
  absl::Status WriteAt(const char* data, size_t n, int64_t offset, bool allow_direct);
  Buffer TakeBuffer();  // REQUIRES: mu_ held
  void HashLoop();
  void WriteLoop();

  UniqueFd fd_;
  bool direct_;
  int64_t size_ = 0;
  Chunk cur_;    // being filled by Append
  Sha256 hash_;  // the hashing thread's while chunks are queued; the caller's after Drain

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> queue_;    // guarded by mu_; popped once hashed and written
  size_t hashed_ = 0;          // guarded by mu_; chunks at the front of queue_ already hashed
  size_t written_ = 0;         // guarded by mu_; ... already written
  std::vector<Buffer> spare_;  // guarded by mu_; buffers of popped chunks, for reuse
  absl::Status error_;         // guarded by mu_; the first write error
  bool stopping_ = false;      // guarded by mu_
  std::thread hasher_;
  std::thread writer_;
};

}  // namespace berth::content
