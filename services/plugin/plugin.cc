#include "services/plugin/plugin.h"

#include "fmt/format.h"

#include "lib/base/status.h"
#include "services/plugin/registry.h"

namespace berth::plugin {

std::string_view TypeUri(Type t) {
  switch (t) {
    case Type::kInternal:
      return "io.containerd.internal.v1";
    case Type::kMetadata:
      return "io.containerd.metadata.v1";
    case Type::kContent:
      return "io.containerd.content.v1";
    case Type::kSnapshotter:
      return "io.containerd.snapshotter.v1";
    case Type::kEvent:
      return "io.containerd.event.v1";
    case Type::kDiff:
      return "io.containerd.differ.v1";
    case Type::kLease:
      return "io.containerd.lease.v1";
    case Type::kGc:
      return "io.containerd.gc.v1";
    case Type::kRuntime:
      return "io.containerd.runtime.v2";
    case Type::kService:
      return "io.containerd.service.v1";
    case Type::kGrpc:
      return "io.containerd.grpc.v1";
  }
  return "unknown";
}

InitContext::InitContext(const DaemonInfo& daemon, Registry& registry, LoadResult& self,
                         config::Section config)
    : daemon_(daemon), registry_(registry), self_(self), config_(std::move(config)) {}

std::filesystem::path InitContext::root() const {
  return daemon_.root / self_.registration->Uri();
}

std::filesystem::path InitContext::state() const {
  return daemon_.state / self_.registration->Uri();
}

absl::StatusOr<Plugin*> InitContext::Get(Type type, const std::string& id) const {
  for (const LoadResult& r : registry_.results_) {
    if (r.registration->type == type && r.registration->id == id && r.instance) {
      return r.instance.get();
    }
  }
  return NotFoundError("plugin", fmt::format("{}.{}", TypeUri(type), id));
}

std::map<std::string, Plugin*> InitContext::GetAll(Type type) const {
  std::map<std::string, Plugin*> out;
  for (const LoadResult& r : registry_.results_) {
    if (r.registration->type == type && r.instance)
      out[r.registration->id] = r.instance.get();
  }
  return out;
}

absl::StatusOr<Plugin*> InitContext::GetSingleRaw(Type type) const {
  std::map<std::string, Plugin*> all = GetAll(type);
  if (all.empty()) {
    return absl::NotFoundError(fmt::format("no plugin of type {} is loaded", TypeUri(type)));
  }
  if (all.size() > 1) {
    return FailedPrecondition(
        fmt::format("more than one plugin of type {} is loaded", TypeUri(type)));
  }
  return all.begin()->second;
}

absl::Status InitContext::WrongType(Type type) const {
  return Internal(fmt::format("plugin of type {} has an unexpected class", TypeUri(type)));
}

}  // namespace berth::plugin
