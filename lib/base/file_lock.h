#pragma once

// An exclusive advisory lock on a file (flock), held for the object's lifetime. berthd takes
// one on <root>/berthd.lock so that a second daemon on the same root refuses to start.

#include <string>

#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"

namespace berth {

class FileLock {
 public:
  // Creates `path` if needed, locks it without waiting and writes our pid into it.
  // FailedPrecondition when another process holds it (the message names that pid, read from
  // the file); ErrnoError for I/O failures.
  static absl::StatusOr<FileLock> Acquire(const std::string& path);

  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}

  UniqueFd fd_;  // the lock is released when the descriptor closes
};

}  // namespace berth
