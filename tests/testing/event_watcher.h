#pragma once

// `ctr events` in the background against a test's berthd, its output going to a file.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>

namespace berth::testing {

// Runs until destroyed (then it gets SIGKILL: a process this test started). The constructor
// returns once the watcher is subscribed: it creates probe namespaces until one's
// /namespaces/create shows in the output.
class EventWatcher {
 public:
  EventWatcher(const std::string& socket, const std::filesystem::path& out);
  ~EventWatcher();
  EventWatcher(const EventWatcher&) = delete;
  EventWatcher& operator=(const EventWatcher&) = delete;

  std::string Output() const;

  // Polls the output until it contains `text`.
  bool WaitFor(const std::string& text,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // Waits up to `timeout` for `ctr events` to exit by itself; its exit code (128 + signal when
  // killed), or -1 if it still runs.
  int WaitExit(std::chrono::milliseconds timeout);

 private:
  std::filesystem::path out_;
  pid_t pid_ = -1;
};

}  // namespace berth::testing
