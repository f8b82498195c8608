#include "services/images/service.h"

#include "google/protobuf/util/time_util.h"
#include "grpcpp/server_builder.h"

#include "containerd/events/image.pb.h"
#include "lib/base/status_macros.h"
#include "lib/filters/filter.h"
#include "lib/rpc/handler.h"
#include "services/metadata/plugin.h"

namespace berth::services::images {
namespace {

using google::protobuf::util::TimeUtil;

metadata::Image FromProto(const api::Image& in) {
  metadata::Image out;
  out.name = in.name();
  out.labels.insert(in.labels().begin(), in.labels().end());
  out.target.media_type = in.target().media_type();
  out.target.digest = in.target().digest();
  out.target.size = in.target().size();
  out.target.annotations.insert(in.target().annotations().begin(), in.target().annotations().end());
  return out;
}

api::Image ToProto(const metadata::Image& in) {
  api::Image out;
  out.set_name(in.name);
  out.mutable_labels()->insert(in.labels.begin(), in.labels.end());
  out.mutable_target()->set_media_type(in.target.media_type);
  out.mutable_target()->set_digest(in.target.digest);
  out.mutable_target()->set_size(in.target.size);
  out.mutable_target()->mutable_annotations()->insert(in.target.annotations.begin(),
                                                      in.target.annotations.end());
  *out.mutable_created_at() = TimeUtil::NanosecondsToTimestamp(in.created_at);
  *out.mutable_updated_at() = TimeUtil::NanosecondsToTimestamp(in.updated_at);
  return out;
}

// Filter fields, as containerd's image adaptor: name, target.mediatype, target.digest, labels.
std::optional<std::string> Field(const metadata::Image& img, std::span<const std::string> p) {
  if (p.size() == 1 && p[0] == "name")
    return img.name;
  if (p.size() == 2 && p[0] == "target" && p[1] == "mediatype")
    return img.target.media_type;
  if (p.size() == 2 && p[0] == "target" && p[1] == "digest")
    return img.target.digest;
  if (p.size() == 2 && p[0] == "labels") {
    auto it = img.labels.find(p[1]);
    if (it != img.labels.end())
      return it->second;
  }
  return std::nullopt;
}

template <typename Event>
Event MakeEvent(const metadata::Image& img) {
  Event ev;
  ev.set_name(img.name);
  ev.mutable_labels()->insert(img.labels.begin(), img.labels.end());
  return ev;
}

}  // namespace

void ImagesService::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
}

grpc::Status ImagesService::Get(grpc::ServerContext* ctx, const api::GetImageRequest* req,
                                api::GetImageResponse* resp) {
  return rpc::Handle(*ctx, "images.Get", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(metadata::Image img, store_.Get(ns, req->name()));
    *resp->mutable_image() = ToProto(img);
    return absl::OkStatus();
  });
}

grpc::Status ImagesService::List(grpc::ServerContext* ctx, const api::ListImagesRequest* req,
                                 api::ListImagesResponse* resp) {
  return rpc::Handle(*ctx, "images.List", [&](const std::string& ns) -> absl::Status {
    std::vector<std::string> exprs(req->filters().begin(), req->filters().end());
    BERTH_ASSIGN_OR_RETURN(filters::Filter filter, filters::Filter::ParseAll(exprs));
    BERTH_ASSIGN_OR_RETURN(std::vector<metadata::Image> all, store_.List(ns));
    for (const metadata::Image& img : all) {
      filters::FuncAdaptor a([&](std::span<const std::string> p) { return Field(img, p); });
      if (filter.Match(a))
        *resp->add_images() = ToProto(img);
    }
    return absl::OkStatus();
  });
}

grpc::Status ImagesService::Create(grpc::ServerContext* ctx, const api::CreateImageRequest* req,
                                   api::CreateImageResponse* resp) {
  return rpc::Handle(*ctx, "images.Create", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(metadata::Image img, store_.Create(ns, FromProto(req->image())));
    *resp->mutable_image() = ToProto(img);
    return events_.Publish(ns, "/images/create", MakeEvent<api::ImageCreate>(img));
  });
}

grpc::Status ImagesService::Update(grpc::ServerContext* ctx, const api::UpdateImageRequest* req,
                                   api::UpdateImageResponse* resp) {
  return rpc::Handle(*ctx, "images.Update", [&](const std::string& ns) -> absl::Status {
    std::vector<std::string> paths(req->update_mask().paths().begin(),
                                   req->update_mask().paths().end());
    BERTH_ASSIGN_OR_RETURN(metadata::Image img, store_.Update(ns, FromProto(req->image()), paths));
    *resp->mutable_image() = ToProto(img);
    return events_.Publish(ns, "/images/update", MakeEvent<api::ImageUpdate>(img));
  });
}

grpc::Status ImagesService::Delete(grpc::ServerContext* ctx, const api::DeleteImageRequest* req,
                                   google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "images.Delete", [&](const std::string& ns) -> absl::Status {
    BERTH_RETURN_IF_ERROR(store_.Delete(ns, req->name()));
    api::ImageDelete ev;
    ev.set_name(req->name());
    BERTH_RETURN_IF_ERROR(events_.Publish(ns, "/images/delete", ev));
    if (req->sync())
      return gc_.CollectNow();
    gc_.Trigger();
    return absl::OkStatus();
  });
}

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "images",
      .deps = {plugin::Type::kMetadata, plugin::Type::kEvent, plugin::Type::kGc},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* md,
                               ic.GetSingle<metadata::MetadataPlugin>(plugin::Type::kMetadata));
        BERTH_ASSIGN_OR_RETURN(auto* ex, ic.GetSingle<events::Exchange>(plugin::Type::kEvent));
        BERTH_ASSIGN_OR_RETURN(auto* gc, ic.GetSingle<metadata::GcScheduler>(plugin::Type::kGc));
        return std::make_unique<ImagesService>(md->images(), *ex, *gc);
      },
  });
}

}  // namespace berth::services::images
