#include "services/containers/service.h"

#include "grpcpp/server_builder.h"

#include "containerd/events/container.pb.h"
#include "lib/base/status_macros.h"
#include "lib/filters/filter.h"
#include "lib/meta/labels.h"
#include "lib/rpc/handler.h"
#include "services/containers/convert.h"
#include "services/metadata/plugin.h"

namespace berth::services::containers {
namespace {

namespace events_api = ::containerd::events;

// Filter fields, as containerd's container adaptor: id, image, runtime.name, labels.<key>.
std::optional<std::string> Field(const metadata::Container& c, std::span<const std::string> p) {
  auto present = [](const std::string& v) -> std::optional<std::string> {
    if (v.empty())
      return std::nullopt;
    return v;
  };
  if (p.size() == 1 && p[0] == "id")
    return present(c.id);
  if (p.size() == 1 && p[0] == "image")
    return present(c.image);
  if (p.size() == 2 && p[0] == "runtime" && p[1] == "name")
    return present(c.runtime_name);
  if (p.size() >= 2 && p[0] == "labels") {
    std::string key = p[1];
    for (size_t i = 2; i < p.size(); ++i) key += "." + p[i];
    auto it = c.labels.find(key);
    if (it != c.labels.end())
      return it->second;
  }
  return std::nullopt;
}

}  // namespace

void ContainersService::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
}

absl::StatusOr<std::vector<metadata::Container>> ContainersService::Matching(
    const std::string& ns, const google::protobuf::RepeatedPtrField<std::string>& filters) {
  std::vector<std::string> exprs(filters.begin(), filters.end());
  BERTH_ASSIGN_OR_RETURN(filters::Filter filter, filters::Filter::ParseAll(exprs));
  BERTH_ASSIGN_OR_RETURN(std::vector<metadata::Container> all, store_.List(ns));
  std::vector<metadata::Container> out;
  for (metadata::Container& c : all) {
    filters::FuncAdaptor a([&](std::span<const std::string> p) { return Field(c, p); });
    if (filter.Match(a))
      out.push_back(std::move(c));
  }
  return out;
}

grpc::Status ContainersService::Get(grpc::ServerContext* ctx, const api::GetContainerRequest* req,
                                    api::GetContainerResponse* resp) {
  return rpc::Handle(*ctx, "containers.Get", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(metadata::Container c, store_.Get(ns, req->id()));
    *resp->mutable_container() = ToProto(c);
    return absl::OkStatus();
  });
}

grpc::Status ContainersService::List(grpc::ServerContext* ctx,
                                     const api::ListContainersRequest* req,
                                     api::ListContainersResponse* resp) {
  return rpc::Handle(*ctx, "containers.List", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::vector<metadata::Container> found, Matching(ns, req->filters()));
    for (const metadata::Container& c : found) *resp->add_containers() = ToProto(c);
    return absl::OkStatus();
  });
}

grpc::Status ContainersService::ListStream(grpc::ServerContext* ctx,
                                           const api::ListContainersRequest* req,
                                           grpc::ServerWriter<api::ListContainerMessage>* writer) {
  return rpc::Handle(*ctx, "containers.ListStream", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::vector<metadata::Container> found, Matching(ns, req->filters()));
    for (const metadata::Container& c : found) {
      api::ListContainerMessage msg;
      *msg.mutable_container() = ToProto(c);
      if (!writer->Write(msg))
        return absl::CancelledError("containers.ListStream: the client went away");
    }
    return absl::OkStatus();
  });
}

grpc::Status ContainersService::Create(grpc::ServerContext* ctx,
                                       const api::CreateContainerRequest* req,
                                       api::CreateContainerResponse* resp) {
  return rpc::Handle(*ctx, "containers.Create", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(metadata::Container c, store_.Create(ns, FromProto(req->container())));
    *resp->mutable_container() = ToProto(c);
    events_api::ContainerCreate ev;
    ev.set_id(c.id);
    ev.set_image(c.image);
    ev.mutable_runtime()->set_name(c.runtime_name);
    if (c.runtime_options)
      *ev.mutable_runtime()->mutable_options() = ToProto(*c.runtime_options);
    return events_.Publish(ns, "/containers/create", ev);
  });
}

grpc::Status ContainersService::Update(grpc::ServerContext* ctx,
                                       const api::UpdateContainerRequest* req,
                                       api::UpdateContainerResponse* resp) {
  return rpc::Handle(*ctx, "containers.Update", [&](const std::string& ns) -> absl::Status {
    std::vector<std::string> paths(req->update_mask().paths().begin(),
                                   req->update_mask().paths().end());
    BERTH_ASSIGN_OR_RETURN(metadata::Container c,
                           store_.Update(ns, FromProto(req->container()), paths));
    *resp->mutable_container() = ToProto(c);
    events_api::ContainerUpdate ev;
    ev.set_id(c.id);
    ev.set_image(c.image);
    ev.mutable_labels()->insert(c.labels.begin(), c.labels.end());
    ev.set_snapshot_key(c.snapshot_key);
    return events_.Publish(ns, "/containers/update", ev);
  });
}

grpc::Status ContainersService::Delete(grpc::ServerContext* ctx,
                                       const api::DeleteContainerRequest* req,
                                       google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "containers.Delete", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(metadata::Container c, store_.Delete(ns, req->id()));
    // Its log, /etc/hosts and /etc/resolv.conf when bctr made them, whichever client removes it.
    meta::RemoveOwnedFiles(c.labels, ns, c.id);
    events_api::ContainerDelete ev;
    ev.set_id(req->id());
    BERTH_RETURN_IF_ERROR(events_.Publish(ns, "/containers/delete", ev));
    gc_.Trigger();
    return absl::OkStatus();
  });
}

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "containers",
      .deps = {plugin::Type::kMetadata, plugin::Type::kEvent, plugin::Type::kGc},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* md,
                               ic.GetSingle<metadata::MetadataPlugin>(plugin::Type::kMetadata));
        BERTH_ASSIGN_OR_RETURN(auto* ex, ic.GetSingle<events::Exchange>(plugin::Type::kEvent));
        BERTH_ASSIGN_OR_RETURN(auto* gc, ic.GetSingle<metadata::GcScheduler>(plugin::Type::kGc));
        return std::make_unique<ContainersService>(md->containers(), *ex, *gc);
      },
  });
}

}  // namespace berth::services::containers
