#pragma once

// LocalRegistry runs Debian's docker-registry for one test: on 127.0.0.1 at a free port, with
// its storage in a directory the test owns. Images get there with skopeo (Push). The
// destructor kills only the pid it started.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>

namespace berth::testing {

// What a LocalRegistry serves besides plain HTTP without auth.
struct RegistryOptions {
  // The body of docker-registry's `auth:` section, indented by two ("  htpasswd:\n    ...").
  std::string auth;
  // A TLS certificate and key: the registry serves HTTPS.
  std::string tls_certificate;
  std::string tls_key;
  // How long Start waits for the registry to answer.
  std::chrono::seconds start_timeout{10};
};

class LocalRegistry {
 public:
  LocalRegistry() = default;
  ~LocalRegistry();
  LocalRegistry(const LocalRegistry&) = delete;
  LocalRegistry& operator=(const LocalRegistry&) = delete;

  // Starts the registry with config and storage under `dir`; "" on success, else what went
  // wrong (with the registry's log).
  std::string Start(const std::filesystem::path& dir, const RegistryOptions& options = {});

  // "127.0.0.1:PORT"
  const std::string& host() const { return host_; }

  // Copies the OCI layout `layout` (tag "latest") to <host>/<name> over plain HTTP; "" on
  // success, else skopeo's error.
  std::string Push(const std::filesystem::path& layout, const std::string& name) const;

 private:
  pid_t pid_ = -1;
  std::string host_;
  std::filesystem::path log_;
};

// A TCP port on 127.0.0.1 that the kernel says is free now (-1 if none).
int FreeLoopbackPort();

// True when something accepts connections on 127.0.0.1:`port`.
bool LoopbackPortAnswers(int port);

// True when docker-registry and skopeo are installed.
bool HaveRegistryTools();

}  // namespace berth::testing
