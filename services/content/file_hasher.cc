#include "services/content/file_hasher.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

#include "lib/base/status.h"

namespace berth::content {
namespace {

constexpr int64_t kChunk = 4 << 20;

}  // namespace

FileHasher::FileHasher(int fd) : fd_(fd), thread_([this] { Loop(); }) {}

FileHasher::~FileHasher() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void FileHasher::Advance(int64_t end) {
  {
    std::lock_guard l(mu_);
    end_ = end;
  }
  cv_.notify_all();
}

void FileHasher::Reset() {
  std::lock_guard h(hash_mu_);
  std::lock_guard l(mu_);
  ++generation_;
  end_ = 0;
  hashed_ = 0;
  error_ = absl::OkStatus();
  hash_ = Sha256();
}

absl::StatusOr<std::string> FileHasher::Digest() {
  {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return hashed_ >= end_ || !error_.ok(); });
    if (!error_.ok())
      return error_;
  }
  std::lock_guard h(hash_mu_);
  return hash_.Digest();
}

void FileHasher::Loop() {
  std::vector<char> buf(kChunk);
  std::unique_lock l(mu_);
  while (true) {
    cv_.wait(l, [&] { return stopping_ || (hashed_ < end_ && error_.ok()); });
    if (stopping_)
      return;
    const uint64_t generation = generation_;
    const int64_t offset = hashed_;
    const size_t want = static_cast<size_t>(std::min(kChunk, end_ - hashed_));
    l.unlock();
    ssize_t n;
    int err = 0;
    {
      // Writers only need mu_ (Advance), so hashing here never makes them wait; Reset takes
      // hash_mu_ first and so never clears the hash under this chunk.
      std::lock_guard h(hash_mu_);
      do {
        n = ::pread(fd_, buf.data(), want, offset);
      } while (n < 0 && errno == EINTR);
      err = errno;
      bool current;
      {
        std::lock_guard g(mu_);
        current = generation == generation_;
      }
      if (current && n > 0)
        hash_.Update(buf.data(), static_cast<size_t>(n));
    }
    l.lock();
    if (generation != generation_)
      continue;  // truncated meanwhile: these bytes are gone
    if (n <= 0) {
      error_ = ErrnoError(n < 0 ? err : EIO, "re-read ingest data for its digest");
    } else {
      hashed_ += n;
    }
    cv_.notify_all();
  }
}

}  // namespace berth::content
