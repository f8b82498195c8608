#include "services/snapshots/service.h"

#include "google/protobuf/util/time_util.h"
#include "grpcpp/server_builder.h"

#include "containerd/events/snapshot.pb.h"
#include "lib/base/status_macros.h"
#include "lib/filters/filter.h"
#include "lib/mount/proto.h"
#include "lib/rpc/handler.h"

namespace berth::services::snapshots {
namespace {

using berth::snapshots::SnapshotStore;
using google::protobuf::util::TimeUtil;

constexpr int kListBatch = 100;

api::Info ToProto(const snapshot::Info& in) {
  api::Info out;
  out.set_name(in.name);
  out.set_parent(in.parent);
  out.set_kind(static_cast<api::Kind>(in.kind));
  *out.mutable_created_at() = TimeUtil::NanosecondsToTimestamp(in.created_at);
  *out.mutable_updated_at() = TimeUtil::NanosecondsToTimestamp(in.updated_at);
  out.mutable_labels()->insert(in.labels.begin(), in.labels.end());
  return out;
}

// The store the request names, then the body with it.
template <typename Req, typename Fn>
grpc::Status WithStore(berth::snapshots::SnapshotStores& stores, grpc::ServerContext* ctx,
                       std::string_view method, const Req& req, Fn fn) {
  return rpc::Handle(*ctx, method, [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(SnapshotStore * store, stores.Get(req.snapshotter()));
    return fn(ns, *store);
  });
}

}  // namespace

void SnapshotsService::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
}

grpc::Status SnapshotsService::Prepare(grpc::ServerContext* ctx,
                                       const api::PrepareSnapshotRequest* req,
                                       api::PrepareSnapshotResponse* resp) {
  return WithStore(stores_, ctx, "snapshots.Prepare", *req,
                   [&](const std::string& ns, SnapshotStore& store) -> absl::Status {
                     Labels labels(req->labels().begin(), req->labels().end());
                     BERTH_ASSIGN_OR_RETURN(
                         std::vector<mount::Mount> mounts,
                         store.Prepare(ns, req->key(), req->parent(), labels, rpc::LeaseOf(*ctx)));
                     mount::MountsToProto(mounts, resp->mutable_mounts());
                     ::containerd::events::SnapshotPrepare ev;
                     ev.set_key(req->key());
                     ev.set_parent(req->parent());
                     return events_.Publish(ns, "/snapshot/prepare", ev);
                   });
}

grpc::Status SnapshotsService::View(grpc::ServerContext* ctx, const api::ViewSnapshotRequest* req,
                                    api::ViewSnapshotResponse* resp) {
  return WithStore(stores_, ctx, "snapshots.View", *req,
                   [&](const std::string& ns, SnapshotStore& store) -> absl::Status {
                     Labels labels(req->labels().begin(), req->labels().end());
                     BERTH_ASSIGN_OR_RETURN(
                         std::vector<mount::Mount> mounts,
                         store.View(ns, req->key(), req->parent(), labels, rpc::LeaseOf(*ctx)));
                     mount::MountsToProto(mounts, resp->mutable_mounts());
                     return absl::OkStatus();
                   });
}

grpc::Status SnapshotsService::Mounts(grpc::ServerContext* ctx, const api::MountsRequest* req,
                                      api::MountsResponse* resp) {
  return WithStore(stores_, ctx, "snapshots.Mounts", *req,
                   [&](const std::string& ns, SnapshotStore& store) -> absl::Status {
                     BERTH_ASSIGN_OR_RETURN(std::vector<mount::Mount> mounts,
                                            store.Mounts(ns, req->key()));
                     mount::MountsToProto(mounts, resp->mutable_mounts());
                     return absl::OkStatus();
                   });
}

grpc::Status SnapshotsService::Commit(grpc::ServerContext* ctx,
                                      const api::CommitSnapshotRequest* req,
                                      google::protobuf::Empty*) {
  return WithStore(stores_, ctx, "snapshots.Commit", *req,
                   [&](const std::string& ns, SnapshotStore& store) -> absl::Status {
                     Labels labels(req->labels().begin(), req->labels().end());
                     BERTH_RETURN_IF_ERROR(
                         store.Commit(ns, req->name(), req->key(), labels, rpc::LeaseOf(*ctx)));
                     ::containerd::events::SnapshotCommit ev;
                     ev.set_key(req->key());
                     ev.set_name(req->name());
                     return events_.Publish(ns, "/snapshot/commit", ev);
                   });
}

grpc::Status SnapshotsService::Remove(grpc::ServerContext* ctx,
                                      const api::RemoveSnapshotRequest* req,
                                      google::protobuf::Empty*) {
  return WithStore(stores_, ctx, "snapshots.Remove", *req,
                   [&](const std::string& ns, SnapshotStore& store) -> absl::Status {
                     BERTH_RETURN_IF_ERROR(store.Remove(ns, req->key()));
                     ::containerd::events::SnapshotRemove ev;
                     ev.set_key(req->key());
                     return events_.Publish(ns, "/snapshot/remove", ev);
                   });
}

grpc::Status SnapshotsService::Stat(grpc::ServerContext* ctx, const api::StatSnapshotRequest* req,
                                    api::StatSnapshotResponse* resp) {
  return WithStore(stores_, ctx, "snapshots.Stat", *req,
                   [&](const std::string& ns, SnapshotStore& store) -> absl::Status {
                     BERTH_ASSIGN_OR_RETURN(snapshot::Info info, store.Stat(ns, req->key()));
                     *resp->mutable_info() = ToProto(info);
                     return absl::OkStatus();
                   });
}

grpc::Status SnapshotsService::Update(grpc::ServerContext* ctx,
                                      const api::UpdateSnapshotRequest* req,
                                      api::UpdateSnapshotResponse* resp) {
  return WithStore(stores_, ctx, "snapshots.Update", *req,
                   [&](const std::string& ns, SnapshotStore& store) -> absl::Status {
                     snapshot::Info in;
                     in.name = req->info().name();
                     in.labels.insert(req->info().labels().begin(), req->info().labels().end());
                     std::vector<std::string> paths(req->update_mask().paths().begin(),
                                                    req->update_mask().paths().end());
                     BERTH_ASSIGN_OR_RETURN(snapshot::Info out, store.Update(ns, in, paths));
                     *resp->mutable_info() = ToProto(out);
                     return absl::OkStatus();
                   });
}

grpc::Status SnapshotsService::List(grpc::ServerContext* ctx, const api::ListSnapshotsRequest* req,
                                    grpc::ServerWriter<api::ListSnapshotsResponse>* writer) {
  return WithStore(stores_, ctx, "snapshots.List", *req,
                   [&](const std::string& ns, SnapshotStore& store) -> absl::Status {
                     std::vector<std::string> exprs(req->filters().begin(), req->filters().end());
                     BERTH_ASSIGN_OR_RETURN(filters::Filter filter,
                                            filters::Filter::ParseAll(exprs));
                     BERTH_ASSIGN_OR_RETURN(std::vector<snapshot::Info> all, store.List(ns));
                     api::ListSnapshotsResponse batch;
                     for (const snapshot::Info& info : all) {
                       filters::MapAdaptor fields({{"name", info.name},
                                                   {"parent", info.parent},
                                                   {"kind", std::string(KindName(info.kind))}},
                                                  info.labels);
                       if (!filter.Match(fields))
                         continue;
                       *batch.add_info() = ToProto(info);
                       if (batch.info_size() == kListBatch) {
                         if (!writer->Write(batch))
                           return absl::CancelledError("snapshots.List: client went away");
                         batch.Clear();
                       }
                     }
                     if (batch.info_size() > 0 && !writer->Write(batch))
                       return absl::CancelledError("snapshots.List: client went away");
                     return absl::OkStatus();
                   });
}

grpc::Status SnapshotsService::Usage(grpc::ServerContext* ctx, const api::UsageRequest* req,
                                     api::UsageResponse* resp) {
  return WithStore(stores_, ctx, "snapshots.Usage", *req,
                   [&](const std::string& ns, SnapshotStore& store) -> absl::Status {
                     BERTH_ASSIGN_OR_RETURN(snapshot::Usage u, store.GetUsage(ns, req->key()));
                     resp->set_size(u.size);
                     resp->set_inodes(u.inodes);
                     return absl::OkStatus();
                   });
}

grpc::Status SnapshotsService::Cleanup(grpc::ServerContext* ctx, const api::CleanupRequest* req,
                                       google::protobuf::Empty*) {
  return WithStore(stores_, ctx, "snapshots.Cleanup", *req,
                   [&](const std::string&, SnapshotStore& store) { return store.Cleanup(); });
}

void RegisterPlugin(plugin::Registry& registry) {
  berth::snapshots::RegisterPlugin(registry);
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "snapshots",
      .deps = {plugin::Type::kService, plugin::Type::kEvent},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* stores, berth::snapshots::GetStores(ic));
        BERTH_ASSIGN_OR_RETURN(auto* ex, ic.GetSingle<events::Exchange>(plugin::Type::kEvent));
        return std::make_unique<SnapshotsService>(*stores, *ex);
      },
  });
}

}  // namespace berth::services::snapshots
