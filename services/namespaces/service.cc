#include "services/namespaces/service.h"

#include "grpcpp/server_builder.h"

#include "containerd/events/namespace.pb.h"
#include "lib/base/status_macros.h"
#include "lib/filters/filter.h"
#include "lib/rpc/handler.h"

namespace berth::services::namespaces {
namespace {

metadata::Namespace FromProto(const api::Namespace& in) {
  metadata::Namespace out;
  out.name = in.name();
  out.labels.insert(in.labels().begin(), in.labels().end());
  return out;
}

api::Namespace ToProto(const metadata::Namespace& in) {
  api::Namespace out;
  out.set_name(in.name);
  out.mutable_labels()->insert(in.labels.begin(), in.labels.end());
  return out;
}

}  // namespace

void NamespacesService::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
}

grpc::Status NamespacesService::Get(grpc::ServerContext*, const api::GetNamespaceRequest* req,
                                    api::GetNamespaceResponse* resp) {
  return rpc::HandleUnscoped("namespaces.Get", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(metadata::Namespace ns, store_.Get(req->name()));
    *resp->mutable_namespace_() = ToProto(ns);
    return absl::OkStatus();
  });
}

grpc::Status NamespacesService::List(grpc::ServerContext*, const api::ListNamespacesRequest* req,
                                     api::ListNamespacesResponse* resp) {
  return rpc::HandleUnscoped("namespaces.List", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(filters::Filter filter, filters::Filter::Parse(req->filter()));
    BERTH_ASSIGN_OR_RETURN(std::vector<metadata::Namespace> all, store_.List());
    for (const metadata::Namespace& ns : all) {
      if (filter.Match(filters::MapAdaptor({{"name", ns.name}}, ns.labels))) {
        *resp->add_namespaces() = ToProto(ns);
      }
    }
    return absl::OkStatus();
  });
}

grpc::Status NamespacesService::Create(grpc::ServerContext*, const api::CreateNamespaceRequest* req,
                                       api::CreateNamespaceResponse* resp) {
  return rpc::HandleUnscoped("namespaces.Create", [&]() -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(metadata::Namespace ns, store_.Create(FromProto(req->namespace_())));
    *resp->mutable_namespace_() = ToProto(ns);
    containerd::events::NamespaceCreate ev;
    ev.set_name(ns.name);
    ev.mutable_labels()->insert(ns.labels.begin(), ns.labels.end());
    return events_.Publish(ns.name, "/namespaces/create", ev);
  });
}

grpc::Status NamespacesService::Update(grpc::ServerContext*, const api::UpdateNamespaceRequest* req,
                                       api::UpdateNamespaceResponse* resp) {
  return rpc::HandleUnscoped("namespaces.Update", [&]() -> absl::Status {
    std::vector<std::string> paths(req->update_mask().paths().begin(),
                                   req->update_mask().paths().end());
    BERTH_ASSIGN_OR_RETURN(metadata::Namespace ns,
                           store_.Update(FromProto(req->namespace_()), paths));
    *resp->mutable_namespace_() = ToProto(ns);
    containerd::events::NamespaceUpdate ev;
    ev.set_name(ns.name);
    ev.mutable_labels()->insert(ns.labels.begin(), ns.labels.end());
    return events_.Publish(ns.name, "/namespaces/update", ev);
  });
}

grpc::Status NamespacesService::Delete(grpc::ServerContext*, const api::DeleteNamespaceRequest* req,
                                       google::protobuf::Empty*) {
  return rpc::HandleUnscoped("namespaces.Delete", [&]() -> absl::Status {
    BERTH_RETURN_IF_ERROR(store_.Delete(req->name()));
    containerd::events::NamespaceDelete ev;
    ev.set_name(req->name());
    return events_.Publish(req->name(), "/namespaces/delete", ev);
  });
}

}  // namespace berth::services::namespaces
