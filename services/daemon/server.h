#pragma once

// Server is a running berthd: the root lock, the loaded plugins and the gRPC server on the
// unix socket. Start() does everything in order and undoes what it did on failure.

#include <chrono>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"

#include "lib/base/file_lock.h"
#include "services/daemon/config.h"
#include "services/plugin/registry.h"

namespace berth::daemon {

class Server {
 public:
  // Creates root and state (0711), locks <root>/berthd.lock (FailedPrecondition when another
  // berthd holds it), loads the plugins, and serves on the socket: a stale socket file left by
  // a crash is replaced, a live one (something answers on it) is FailedPrecondition. The socket
  // gets mode 0660 and the configured owner.
  static absl::StatusOr<std::unique_ptr<Server>> Start(Config config);

  // Stops serving (in-flight calls get `grace` to finish), destroys plugins in reverse load
  // order and removes the socket. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);

  ~Server();

  const plugin::Registry& registry() const { return registry_; }

 private:
  explicit Server(Config config, FileLock lock)
      : config_(std::move(config)), lock_(std::move(lock)) {}

  absl::Status LoadPlugins();
  absl::Status Serve();
  // The loaded plugins that serve gRPC services.
  std::vector<plugin::GrpcService*> GrpcServices() const;

  Config config_;
  FileLock lock_;
  plugin::Registry registry_;
  std::unique_ptr<grpc::Server> grpc_;
  bool stopped_ = false;
};

// Readies `address` for bind: creates its directory, removes a stale socket file, refuses a
// live socket or any other kind of file.
absl::Status PrepareSocketPath(const std::string& address);

}  // namespace berth::daemon
