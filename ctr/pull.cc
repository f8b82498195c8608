#include "ctr/pull.h"

#include "fmt/format.h"

#include "ctr/content_io.h"
#include "ctr/lease.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

// containerd's children labels: index → manifests "m.<i>", manifest → "config" and "l.<i>".
Labels IndexLabels(const registry::Index& idx) {
  Labels l;
  for (size_t i = 0; i < idx.manifests.size(); ++i)
    l[fmt::format("containerd.io/gc.ref.content.m.{}", i)] = idx.manifests[i].digest;
  return l;
}

Labels ManifestLabels(const registry::Manifest& m) {
  Labels l{{"containerd.io/gc.ref.content.config", m.config.digest}};
  for (size_t i = 0; i < m.layers.size(); ++i)
    l[fmt::format("containerd.io/gc.ref.content.l.{}", i)] = m.layers[i].digest;
  return l;
}

// Where the blob came from, which push uses to mount instead of upload.
Labels SourceLabel(const registry::Reference& ref) {
  std::string host = ref.domain;
  return {{"containerd.io/distribution.source." + host, ref.path}};
}

Labels Merge(Labels a, const Labels& b) {
  a.insert(b.begin(), b.end());
  return a;
}

absl::Status PutImage(Connection& conn, const std::string& name, const registry::Descriptor& d) {
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

}  // namespace

absl::StatusOr<PullResult> Pull(Connection& conn, registry::Client& client,
                                const registry::Reference& ref, const PullOptions& opts) {
  auto say = [&](const std::string& s) {
    if (opts.say)
      opts.say(s);
  };
  BERTH_ASSIGN_OR_RETURN(registry::FetchedManifest root, client.GetManifest(ref));
  BERTH_ASSIGN_OR_RETURN(ScopedLease lease, ScopedLease::Create(conn));
  say(fmt::format("{}: resolved to {} ({})", ref.String(), root.desc.digest, root.desc.media_type));
  registry::FetchedManifest chosen = root;
  if (registry::IsIndex(root.desc.media_type)) {
    BERTH_ASSIGN_OR_RETURN(registry::Index idx, registry::ParseIndex(root.body, ref.String()));
    BERTH_RETURN_IF_ERROR(WriteBlob(conn, RefKey(root.desc), root.desc, root.body,
                                    Merge(IndexLabels(idx), SourceLabel(ref))));
    BERTH_ASSIGN_OR_RETURN(registry::Descriptor d,
                           registry::ChoosePlatform(idx, opts.platform, ref.String()));
    BERTH_ASSIGN_OR_RETURN(chosen, client.GetManifest(ref, d.digest));
    chosen.desc.media_type = d.media_type.empty() ? chosen.desc.media_type : d.media_type;
  }
  BERTH_ASSIGN_OR_RETURN(registry::Manifest m, registry::ParseManifest(chosen.body, ref.String()));
  BERTH_RETURN_IF_ERROR(WriteBlob(conn, RefKey(chosen.desc), chosen.desc, chosen.body,
                                  Merge(ManifestLabels(m), SourceLabel(ref))));
  BERTH_ASSIGN_OR_RETURN(std::string config, client.GetBlob(ref, m.config));
  BERTH_RETURN_IF_ERROR(WriteBlob(conn, RefKey(m.config), m.config, config, SourceLabel(ref)));

  Labels source = SourceLabel(ref);
  BERTH_RETURN_IF_ERROR(client.FetchBlobs(
      ref, m.layers, opts.parallel,
      [&](const registry::Descriptor& d) -> absl::StatusOr<std::unique_ptr<registry::BlobSink>> {
        BERTH_ASSIGN_OR_RETURN(std::unique_ptr<ContentSink> s,
                               ContentSink::Open(conn, RefKey(d), d, source));
        if (s == nullptr) {
          BERTH_RETURN_IF_ERROR(SetLabels(conn, d.digest, source));
          return nullptr;
        }
        return std::unique_ptr<registry::BlobSink>(std::move(s));
      },
      opts.observer));

  PullResult result{ref.String(), root.desc, ""};
  if (opts.unpack) {
    say(fmt::format("unpacking {} {}...", opts.platform.String(), chosen.desc.digest));
    BERTH_ASSIGN_OR_RETURN(result.chain_id, Unpack(conn, m, opts.snapshotter));
  }
  BERTH_RETURN_IF_ERROR(PutImage(conn, result.name, root.desc));
  return result;
}

}  // namespace berth::ctr
