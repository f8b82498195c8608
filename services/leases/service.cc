#include "services/leases/service.h"

#include "google/protobuf/util/time_util.h"
#include "grpcpp/server_builder.h"

#include "lib/base/status_macros.h"
#include "lib/filters/filter.h"
#include "lib/rpc/handler.h"
#include "services/metadata/plugin.h"

namespace berth::services::leases {
namespace {

api::Lease ToProto(const metadata::Lease& in) {
  api::Lease out;
  out.set_id(in.id);
  out.mutable_labels()->insert(in.labels.begin(), in.labels.end());
  *out.mutable_created_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(in.created_at);
  return out;
}

metadata::LeaseResource FromProto(const api::Resource& r) {
  return {r.id(), r.type()};
}

}  // namespace

void LeasesService::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
}

grpc::Status LeasesService::Create(grpc::ServerContext* ctx, const api::CreateRequest* req,
                                   api::CreateResponse* resp) {
  return rpc::Handle(*ctx, "leases.Create", [&](const std::string& ns) -> absl::Status {
    metadata::Lease in{req->id(), {req->labels().begin(), req->labels().end()}, 0};
    BERTH_ASSIGN_OR_RETURN(metadata::Lease out, store_.Create(ns, std::move(in)));
    *resp->mutable_lease() = ToProto(out);
    return absl::OkStatus();
  });
}

grpc::Status LeasesService::Delete(grpc::ServerContext* ctx, const api::DeleteRequest* req,
                                   google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "leases.Delete", [&](const std::string& ns) -> absl::Status {
    BERTH_RETURN_IF_ERROR(store_.Delete(ns, req->id()));
    if (req->sync())
      return gc_.CollectNow();
    gc_.Trigger();
    return absl::OkStatus();
  });
}

grpc::Status LeasesService::List(grpc::ServerContext* ctx, const api::ListRequest* req,
                                 api::ListResponse* resp) {
  return rpc::Handle(*ctx, "leases.List", [&](const std::string& ns) -> absl::Status {
    std::vector<std::string> exprs(req->filters().begin(), req->filters().end());
    BERTH_ASSIGN_OR_RETURN(filters::Filter filter, filters::Filter::ParseAll(exprs));
    BERTH_ASSIGN_OR_RETURN(std::vector<metadata::Lease> all, store_.List(ns));
    for (const metadata::Lease& l : all) {
      if (filter.Match(filters::MapAdaptor({{"id", l.id}}, l.labels))) {
        *resp->add_leases() = ToProto(l);
      }
    }
    return absl::OkStatus();
  });
}

grpc::Status LeasesService::AddResource(grpc::ServerContext* ctx,
                                        const api::AddResourceRequest* req,
                                        google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "leases.AddResource", [&](const std::string& ns) {
    return store_.AddResource(ns, req->id(), FromProto(req->resource()));
  });
}

grpc::Status LeasesService::DeleteResource(grpc::ServerContext* ctx,
                                           const api::DeleteResourceRequest* req,
                                           google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "leases.DeleteResource", [&](const std::string& ns) {
    return store_.DeleteResource(ns, req->id(), FromProto(req->resource()));
  });
}

grpc::Status LeasesService::ListResources(grpc::ServerContext* ctx,
                                          const api::ListResourcesRequest* req,
                                          api::ListResourcesResponse* resp) {
  return rpc::Handle(*ctx, "leases.ListResources", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(auto all, store_.ListResources(ns, req->id()));
    for (const metadata::LeaseResource& r : all) {
      api::Resource* out = resp->add_resources();
      out->set_id(r.id);
      out->set_type(r.type);
    }
    return absl::OkStatus();
  });
}

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "leases",
      .deps = {plugin::Type::kMetadata, plugin::Type::kGc},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* md,
                               ic.GetSingle<metadata::MetadataPlugin>(plugin::Type::kMetadata));
        BERTH_ASSIGN_OR_RETURN(auto* gc, ic.GetSingle<metadata::GcScheduler>(plugin::Type::kGc));
        return std::make_unique<LeasesService>(md->leases(), *gc);
      },
  });
}

}  // namespace berth::services::leases
