#include "tests/testing/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_split.h"

extern char** environ;

namespace berth::testing {
namespace {

void Drain(int fd, std::string& into, bool& open) {
  char buf[65536];
  ssize_t n = ::read(fd, buf, sizeof(buf));
  if (n > 0) {
    into.append(buf, static_cast<size_t>(n));
  } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
    open = false;
  }
}

// posix_spawnp of `argv` with `fa` (destroyed here); the pid, or -1 with the error in *rc.
pid_t Spawn(const std::vector<std::string>& argv, posix_spawn_file_actions_t* fa, int* rc) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  *rc = posix_spawnp(&pid, args[0], fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(fa);
  return *rc == 0 ? pid : -1;
}

}  // namespace

pid_t SpawnInBackground(const std::vector<std::string>& argv, const BackgroundIo& io, int* error) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (io.stdin_fd >= 0)
    posix_spawn_file_actions_adddup2(&fa, io.stdin_fd, 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, io.output.c_str(),
                                   O_WRONLY | O_CREAT | (io.truncate ? O_TRUNC : O_APPEND), 0644);
  if (io.with_stderr)
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  else
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  int rc = 0;
  pid_t pid = Spawn(argv, &fa, &rc);
  if (pid < 0 && error != nullptr)
    *error = rc;
  return pid;
}

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandResult res;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    return res;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  int rc = 0;
  pid_t pid = Spawn(argv, &fa, &rc);
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    res.err = "spawn " + argv[0] + " failed: " + std::to_string(rc);
    ::close(out[0]);
    ::close(err[0]);
    return res;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      res.timed_out = true;
      ::kill(pid, SIGKILL);  // the pid we started, never by name
      break;
    }
    pollfd fds[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left.count())) <= 0)
      continue;
    if (fds[0].revents)
      Drain(out[0], res.out, out_open);
    if (fds[1].revents)
      Drain(err[0], res.err, err_open);
  }
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return res;
}

std::string BinDir() {
  const char* d = std::getenv("BERTH_BIN_DIR");  // NOLINT(concurrency-mt-unsafe): test setup
  return d && *d ? d : BERTH_DEFAULT_BIN_DIR;
}

std::string SourceDir() {
  const char* d = std::getenv("BERTH_SOURCE_DIR");  // NOLINT(concurrency-mt-unsafe)
  return d && *d ? d : BERTH_DEFAULT_SOURCE_DIR;
}

std::string BinPath(const std::string& name) {
  return BinDir() + "/" + name;
}

bool HaveProgram(const std::string& name) {
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): test setup
  std::string p = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos)
      end = p.size();
    if (::access((p.substr(start, end - start) + "/" + name).c_str(), X_OK) == 0)
      return true;
    start = end + 1;
  }
  return false;
}

UniqueFd LeakableDescriptor(int at_least) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    return UniqueFd();
  UniqueFd read_end(p[0]), write_end(p[1]);
  return UniqueFd(::fcntl(write_end.get(), F_DUPFD, at_least));  // F_DUPFD: no close-on-exec
}

std::vector<std::string> Lines(const std::string& s) {
  return absl::StrSplit(s, '\n', absl::SkipEmpty());
}

CommandResult MakeTestImages(const std::string& outdir) {
  return RunCommand({"bash", SourceDir() + "/tests/fixtures/make-images.sh", outdir},
                    std::chrono::seconds(300));
}

}  // namespace berth::testing
