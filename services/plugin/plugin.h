#pragma once

// The plugin model of berthd, after containerd's: every part of the daemon (the metadata
// store, the content store, each snapshotter, each gRPC service …) is a plugin with a type and
// an id, the types it depends on, and an init function. daemon/builtins.cc lists them all.

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/config/section.h"

namespace grpc {
class ServerBuilder;
}

namespace berth::plugin {

enum class Type {
  kInternal,
  kMetadata,
  kContent,
  kSnapshotter,
  kEvent,
  kDiff,
  kLease,
  kGc,
  kRuntime,
  kService,
  kGrpc,
};

// containerd's type URI, e.g. "io.containerd.grpc.v1" for kGrpc.
std::string_view TypeUri(Type t);

class Plugin {
 public:
  virtual ~Plugin() = default;
};

// A plugin that serves gRPC services on berthd's socket.
class GrpcService : public Plugin {
 public:
  virtual void Register(grpc::ServerBuilder& builder) = 0;

  // berthd is about to stop serving: end the calls that would run until cancelled (event
  // streams). Unary calls are let finish.
  virtual void Stopping() {}
};

class InitContext;

struct Registration {
  Type type;
  std::string id;
  std::vector<Type> deps;  // containerd's Requires; loaded before this plugin
  std::function<absl::StatusOr<std::unique_ptr<Plugin>>(InitContext&)> init;
  // Reports the host's platform, as containerd's snapshotters, differs and runtimes do.
  bool host_platform = false;

  // "type.id", e.g. "io.containerd.grpc.v1.namespaces".
  std::string Uri() const { return std::string(TypeUri(type)) + "." + id; }
};

// What a plugin was given and has produced, as introspection shows it.
struct LoadResult {
  const Registration* registration = nullptr;
  absl::Status status;                         // OK, Unimplemented (skipped) or the init error
  std::unique_ptr<Plugin> instance;            // set when status is OK
  std::map<std::string, std::string> exports;  // e.g. {"root": "/var/lib/berth/…"}
  std::vector<std::string> capabilities;
};

// Daemon-wide facts every plugin may need.
struct DaemonInfo {
  std::filesystem::path root;   // persistent root (--root)
  std::filesystem::path state;  // volatile state (--state)
  std::string address;          // the API socket
};

class Registry;

// Handed to a plugin's init function.
class InitContext {
 public:
  InitContext(const DaemonInfo& daemon, Registry& registry, LoadResult& self,
              config::Section config);

  const DaemonInfo& daemon() const { return daemon_; }

  // root/<type>.<id> and state/<type>.<id>: created on first use by the plugin that wants them.
  std::filesystem::path root() const;
  std::filesystem::path state() const;

  // The plugin's own [plugins."<type>.<id>"] table; every key it does not read is an error.
  config::Section& config() { return config_; }

  // Exports shown by introspection.
  void Export(const std::string& key, const std::string& value) { self_.exports[key] = value; }

  void AddCapability(const std::string& cap) { self_.capabilities.push_back(cap); }

  // The loaded plugin of `type` with `id`: NotFound when it is not (or failed to) load.
  absl::StatusOr<Plugin*> Get(Type type, const std::string& id) const;
  // All loaded plugins of `type`, by id.
  std::map<std::string, Plugin*> GetAll(Type type) const;

  // The one loaded plugin of `type`, cast to T; NotFound when there is none, FailedPrecondition
  // when there are several, Internal when it is not a T.
  template <typename T>
  absl::StatusOr<T*> GetSingle(Type type) const {
    absl::StatusOr<Plugin*> p = GetSingleRaw(type);
    if (!p.ok())
      return p.status();
    T* t = dynamic_cast<T*>(*p);
    if (t == nullptr)
      return WrongType(type);
    return t;
  }

  Registry& registry() { return registry_; }

 private:
  absl::StatusOr<Plugin*> GetSingleRaw(Type type) const;
  absl::Status WrongType(Type type) const;

  const DaemonInfo& daemon_;
  Registry& registry_;
  LoadResult& self_;
  config::Section config_;
};

}  // namespace berth::plugin
