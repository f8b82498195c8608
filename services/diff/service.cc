#include "services/diff/service.h"

#include "grpcpp/server_builder.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/mount/proto.h"
#include "lib/rpc/handler.h"
#include "services/content/service.h"

namespace berth::diff {
namespace {

void ToProto(const metadata::Descriptor& d, ::containerd::types::Descriptor* out) {
  out->set_media_type(d.media_type);
  out->set_digest(d.digest);
  out->set_size(d.size);
}

}  // namespace

void DiffService::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
}

grpc::Status DiffService::Apply(grpc::ServerContext* ctx, const api::ApplyRequest* req,
                                api::ApplyResponse* resp) {
  return rpc::Handle(*ctx, "diff.Apply", [&](const std::string& ns) -> absl::Status {
    metadata::Descriptor layer{
        req->diff().media_type(), req->diff().digest(), req->diff().size(), {}};
    BERTH_ASSIGN_OR_RETURN(metadata::Descriptor applied,
                           differ_.Apply(ns, layer, mount::MountsFromProto(req->mounts())));
    ToProto(applied, resp->mutable_applied());
    return absl::OkStatus();
  });
}

grpc::Status DiffService::Diff(grpc::ServerContext* ctx, const api::DiffRequest* req,
                               api::DiffResponse* resp) {
  return rpc::Handle(*ctx, "diff.Diff", [&](const std::string& ns) -> absl::Status {
    Differ::DiffRequest in{mount::MountsFromProto(req->left()),
                           mount::MountsFromProto(req->right()),
                           req->media_type(),
                           req->ref(),
                           {req->labels().begin(), req->labels().end()},
                           rpc::LeaseOf(*ctx)};
    BERTH_ASSIGN_OR_RETURN(metadata::Descriptor out, differ_.Diff(ns, in));
    ToProto(out, resp->mutable_diff());
    return absl::OkStatus();
  });
}

void RegisterPlugins(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kDiff,
      .id = "walking",
      .deps = {plugin::Type::kContent},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* cp,
                               ic.GetSingle<content::ContentPlugin>(plugin::Type::kContent));
        std::error_code ec;
        std::filesystem::create_directories(ic.state(), ec);
        if (ec)
          return Internal("diff: creating " + ic.state().string() + ": " + ec.message());
        BERTH_ASSIGN_OR_RETURN(bool devices, ic.config().Bool("allow_device_nodes", true));
        return std::make_unique<DifferPlugin>(cp->store(), ic.state(), devices);
      },
      .host_platform = true,
  });
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "diff",
      .deps = {plugin::Type::kDiff},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* dp, ic.GetSingle<DifferPlugin>(plugin::Type::kDiff));
        return std::make_unique<DiffService>(dp->differ());
      },
  });
}

}  // namespace berth::diff
