#include "tests/testing/event_watcher.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "gtest/gtest.h"

#include "tests/testing/command.h"
#include "tests/testing/temp_dir.h"

namespace berth::testing {

EventWatcher::EventWatcher(const std::string& socket, const std::filesystem::path& out)
    : out_(out) {
  pid_ = SpawnInBackground({"/usr/bin/ctr", "--address", socket, "events"},
                           {.output = out.string(), .truncate = true, .with_stderr = false});
  for (int i = 0; pid_ > 0 && i < 50; ++i) {
    std::string probe =
        "berth-events-probe-" + std::to_string(::getpid()) + "-" + std::to_string(i);
    RunCommand({"ctr", "--address", socket, "namespaces", "create", probe});
    bool seen = WaitFor("\"name\":\"" + probe + "\"", std::chrono::milliseconds(200));
    RunCommand({"ctr", "--address", socket, "namespaces", "remove", probe});
    if (seen)
      return;
  }
  ADD_FAILURE() << "ctr events did not subscribe: " << Output();
}

EventWatcher::~EventWatcher() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string EventWatcher::Output() const {
  return ReadFile(out_);
}

bool EventWatcher::WaitFor(const std::string& text, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Output().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

int EventWatcher::WaitExit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (r < 0 || std::chrono::steady_clock::now() >= deadline)
      return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

}  // namespace berth::testing
