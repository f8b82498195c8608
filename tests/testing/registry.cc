#include "tests/testing/registry.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "tests/testing/command.h"
#include "tests/testing/temp_dir.h"

namespace berth::testing {
int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

bool LoopbackPortAnswers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

bool HaveRegistryTools() {
  return HaveProgram("docker-registry") && HaveProgram("skopeo");
}

LocalRegistry::~LocalRegistry() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string LocalRegistry::Start(const std::filesystem::path& dir, const RegistryOptions& options) {
  int port = FreeLoopbackPort();
  if (port <= 0)
    return "no free port on 127.0.0.1";
  host_ = "127.0.0.1:" + std::to_string(port);
  std::filesystem::path config = dir / "registry.yml";
  log_ = dir / "registry.log";
  std::string yaml =
      "version: 0.1\n"
      "log:\n  level: warn\n"
      "storage:\n  filesystem:\n    rootdirectory: " +
      (dir / "storage").string() +
      "\n  delete:\n    enabled: true\n"
      "http:\n  addr: " +
      host_ + "\n";
  if (!options.tls_certificate.empty()) {
    yaml += "  tls:\n    certificate: " + options.tls_certificate +
            "\n    key: " + options.tls_key + "\n";
  }
  if (!options.auth.empty())
    yaml += "auth:\n" + options.auth;
  WriteFile(config, yaml);
  int rc = 0;
  pid_ = SpawnInBackground({"docker-registry", "serve", config.string()}, {.output = log_.string()},
                           &rc);
  if (pid_ < 0)
    return std::string("cannot start docker-registry: ") + std::strerror(rc);
  auto deadline = std::chrono::steady_clock::now() + options.start_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return "docker-registry exited during start-up; log:\n" + ReadFile(log_);
    }
    if (LoopbackPortAnswers(port))
      return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return "docker-registry did not answer on " + host_ + " within " +
         std::to_string(options.start_timeout.count()) + " s; log:\n" + ReadFile(log_);
}

std::string LocalRegistry::Push(const std::filesystem::path& layout,
                                const std::string& name) const {
  CommandResult r =
      RunCommand({"skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false",
                  "oci:" + layout.string() + ":latest", "docker://" + host_ + "/" + name});
  if (r.exit_code != 0)
    return "skopeo copy to " + host_ + "/" + name + " failed: " + r.err;
  return "";
}

}  // namespace berth::testing
