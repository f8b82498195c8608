#include "tests/testing/daemon_fixture.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

namespace berth::testing {
namespace {

bool SocketAnswers(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

void DaemonFixture::SetUp() {
  ASSERT_EQ(::access(BinPath("berthd").c_str(), X_OK), 0) << BinPath("berthd") << " not built";
}

void DaemonFixture::TearDown() {
  if (pid_ > 0) {
    int code = StopDaemon(SIGTERM);
    if (code != 0 && !HasFailure()) {
      ADD_FAILURE() << "berthd exited with " << code << " on SIGTERM; log:\n" << DaemonLog();
    }
  }
  if (HasFailure())
    std::fprintf(stderr, "--- berthd log ---\n%s\n", DaemonLog().c_str());
}

bool DaemonFixture::StartDaemon(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = launcher_;
  for (const std::string& a :
       {BinPath("berthd"), std::string("--root"), root(), std::string("--state"), state(),
        std::string("--address"), socket(), std::string("--log-level"), std::string("debug")})
    argv.push_back(a);
  argv.insert(argv.end(), extra.begin(), extra.end());
  int rc = 0;
  pid_ = SpawnInBackground(argv, {.output = (dir_ / "berthd.log").string()}, &rc);
  if (pid_ < 0) {
    ADD_FAILURE() << "cannot start " << argv[0] << ": " << std::strerror(rc);
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ADD_FAILURE() << "berthd exited during start-up; log:\n" << DaemonLog();
      return false;
    }
    if (SocketAnswers(socket()))
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ADD_FAILURE() << "berthd did not answer on " << socket() << " within 10 s";
  return false;
}

int DaemonFixture::StopDaemon(int sig) {
  if (pid_ <= 0)
    return -1;
  ::kill(pid_, sig);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "berthd did not stop on signal " << sig << "; killing it";
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

CommandResult DaemonFixture::Ctr(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ctr", "--address", socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

void DaemonFixture::CollectGarbage() {
  CommandResult r = Ctr({"-n", "default", "leases", "create", "--id", "berth-test-collect"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Ctr({"-n", "default", "leases", "rm", "--sync", "berth-test-collect"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

CommandResult DaemonFixture::RunBerthd(const std::vector<std::string>& args,
                                       std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {BinPath("berthd")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout);
}

std::string DaemonFixture::DaemonLog() const {
  return ReadFile(dir_ / "berthd.log");
}

void DaemonFixture::CleanUpNamespace(const std::string& ns) {
  if (ns.empty())
    return;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(state() + "/tasks/" + ns, ec)) {
    std::string pid_text = ReadFile(e.path() / "shim.pid");
    int pid = pid_text.empty() ? -1 : std::atoi(pid_text.c_str());
    if (pid > 0 && ReadFile("/proc/" + std::to_string(pid) + "/cmdline").find("berth-shim") !=
                       std::string::npos)
      ::kill(pid, SIGKILL);
    (void)RunCommand({BinPath("berth-shim"), "delete", "--id", e.path().filename().string(),
                      "--namespace", ns, "--bundle", e.path().string()});
  }
  ::rmdir(("/sys/fs/cgroup/" + ns).c_str());
  for (const auto& e : std::filesystem::directory_iterator("/sys/fs/cgroup", ec))
    ::rmdir((e.path() / ns).c_str());
}

}  // namespace berth::testing
