#pragma once

// containerd.services.diff.v1.Diff over the walking Differ, and the plugins for both.

#include "containerd/services/diff/v1/diff.grpc.pb.h"
#include "services/diff/differ.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"

namespace berth::diff {

namespace api = ::containerd::services::diff::v1;

// io.containerd.differ.v1.walking
class DifferPlugin : public plugin::Plugin {
 public:
  DifferPlugin(content::ContentStore& content, std::filesystem::path mount_dir, bool allow_devices)
      : differ_(content, std::move(mount_dir), allow_devices) {}

  Differ& differ() { return differ_; }

 private:
  Differ differ_;
};

class DiffService final : public api::Diff::Service, public plugin::GrpcService {
 public:
  explicit DiffService(Differ& differ) : differ_(differ) {}

  void Register(grpc::ServerBuilder& builder) override;
  grpc::Status Apply(grpc::ServerContext* ctx, const api::ApplyRequest* req,
                     api::ApplyResponse* resp) override;
  grpc::Status Diff(grpc::ServerContext* ctx, const api::DiffRequest* req,
                    api::DiffResponse* resp) override;

 private:
  Differ& differ_;
};

void RegisterPlugins(plugin::Registry& registry);

}  // namespace berth::diff
