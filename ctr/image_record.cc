#include "ctr/image_record.h"

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/registry/reference.h"

namespace berth::ctr {

Labels IndexGcLabels(const registry::Index& idx) {
  Labels l;
  for (size_t i = 0; i < idx.manifests.size(); ++i)
    l[fmt::format("containerd.io/gc.ref.content.m.{}", i)] = idx.manifests[i].digest;
  return l;
}

Labels ManifestGcLabels(const registry::Manifest& m) {
  Labels l{{"containerd.io/gc.ref.content.config", m.config.digest}};
  for (size_t i = 0; i < m.layers.size(); ++i)
    l[fmt::format("containerd.io/gc.ref.content.l.{}", i)] = m.layers[i].digest;
  return l;
}

absl::Status PutImageRecord(Connection& conn, const std::string& name,
                            const registry::Descriptor& d) {
  images_api::Image img;
  img.set_name(name);
  img.mutable_target()->set_media_type(d.media_type);
  img.mutable_target()->set_digest(d.digest);
  img.mutable_target()->set_size(d.size);
  images_api::CreateImageRequest req;
  *req.mutable_image() = img;
  images_api::CreateImageResponse resp;
  auto ctx = conn.Context();
  absl::Status st = conn.Check(conn.images().Create(ctx.get(), req, &resp));
  if (!absl::IsAlreadyExists(st))
    return st;
  images_api::UpdateImageRequest up;
  *up.mutable_image() = img;
  up.mutable_update_mask()->add_paths("target");
  images_api::UpdateImageResponse uresp;
  auto uctx = conn.Context();
  return conn.Check(conn.images().Update(uctx.get(), up, &uresp));
}

absl::StatusOr<images_api::Image> GetImageRecord(Connection& conn, const std::string& name) {
  absl::StatusOr<registry::Reference> r = registry::ParseReference(name);
  images_api::GetImageRequest req;
  req.set_name(r.ok() ? r->String() : name);
  images_api::GetImageResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.images().Get(ctx.get(), req, &resp)));
  return resp.image();
}

registry::Descriptor FromProto(const ::containerd::types::Descriptor& p) {
  registry::Descriptor d;
  d.media_type = p.media_type();
  d.digest = p.digest();
  d.size = p.size();
  return d;
}

absl::StatusOr<ResolvedManifest> ResolveManifest(Connection& conn,
                                                 const registry::Descriptor& target,
                                                 const registry::Platform& platform) {
  BERTH_ASSIGN_OR_RETURN(std::string body, ReadBlob(conn, target.digest));
  ResolvedManifest out{target, {}};
  std::string type = target.media_type.empty() ? registry::SniffMediaType(body) : target.media_type;
  if (registry::IsIndex(type)) {
    BERTH_ASSIGN_OR_RETURN(registry::Index idx, registry::ParseIndex(body, target.digest));
    BERTH_ASSIGN_OR_RETURN(out.desc, registry::ChoosePlatform(idx, platform, target.digest));
    BERTH_ASSIGN_OR_RETURN(body, ReadBlob(conn, out.desc.digest));
  }
  BERTH_ASSIGN_OR_RETURN(out.manifest, registry::ParseManifest(body, out.desc.digest));
  if (out.desc.media_type.empty())
    out.desc.media_type = out.manifest.media_type;
  return out;
}

}  // namespace berth::ctr
