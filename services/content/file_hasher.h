#pragma once

// FileHasher computes the SHA-256 of a file that is being written, on its own thread, by
// reading the written bytes back (from the page cache) behind the writer. A write then costs
// only its pwrite, and hashing overlaps with receiving the next chunk: on a stream that
// answers every chunk before the next one comes (containerd's Write), that is the difference
// between hash + transfer and the larger of the two.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

#include "services/content/digest.h"

namespace berth::content {

class FileHasher {
 public:
  // Reads `fd` with pread; the caller keeps it open for the hasher's life.
  explicit FileHasher(int fd);
  ~FileHasher();
  FileHasher(const FileHasher&) = delete;
  FileHasher& operator=(const FileHasher&) = delete;

  // Bytes [0, end) of the file are written and may be hashed.
  void Advance(int64_t end);
  // The file was truncated to 0: start over.
  void Reset();
  // "sha256:<hex>" of bytes [0, end) once they are all hashed; an error if reading failed.
  absl::StatusOr<std::string> Digest();

 private:
  void Loop();

  const int fd_;
  std::mutex hash_mu_;  // held by Loop while it reads and hashes a chunk; taken before mu_
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t end_ = 0;          // guarded by mu_
  int64_t hashed_ = 0;       // guarded by mu_
  uint64_t generation_ = 0;  // guarded by mu_; bumped by Reset
  bool stopping_ = false;    // guarded by mu_
  absl::Status error_;       // guarded by mu_
  Sha256 hash_;              // guarded by hash_mu_
  std::thread thread_;
};

}  // namespace berth::content
