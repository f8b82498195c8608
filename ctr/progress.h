#pragma once

// Transfer progress for pull and push. On a terminal: one bar per blob and a total line,
// redrawn in place ten times a second. Otherwise (a pipe, a file): one plain line when a blob
// starts, is retried, and is done. Thread-safe: the transfer threads report, a render thread
// draws.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "lib/registry/client.h"

namespace berth::ctr {

// "1.2 MiB", "512 B"
std::string HumanSize(int64_t bytes);

class Progress : public registry::TransferObserver {
 public:
  // `verb` is "downloading" or "uploading"; `out` is where to draw; `tty` picks the style.
  Progress(std::FILE* out, bool tty, std::string verb);
  ~Progress() override;

  // Adds blobs so that they show (as waiting) before their transfer starts.
  void Expect(const registry::Descriptor& d);
  // Stops drawing and leaves the final state on the screen.
  void Stop();

  void Started(const registry::Descriptor& d, int64_t offset) override;
  void Advanced(const registry::Descriptor& d, int64_t bytes) override;
  void Finished(const registry::Descriptor& d, bool already_there) override;
  void Retrying(const registry::Descriptor& d, const absl::Status& why) override;

 private:
  enum class State { kWaiting, kActive, kDone, kExists };

  struct Row {
    std::string digest;
    int64_t size = 0;
    int64_t done = 0;
    State state = State::kWaiting;
  };

  Row& RowFor(const registry::Descriptor& d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Draw() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::FILE* out_;
  bool tty_;
  std::string verb_;
  absl::Mutex mu_;
  std::vector<Row> rows_ ABSL_GUARDED_BY(mu_);
  int drawn_ ABSL_GUARDED_BY(mu_) = 0;  // lines drawn last time
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::thread render_;
};

}  // namespace berth::ctr
