#include "ctr/pull.h"

#include "fmt/format.h"

#include "ctr/content_io.h"
#include "ctr/image_record.h"
#include "ctr/lease.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

// Where the blob came from, which push uses to mount instead of upload.
Labels SourceLabel(const registry::Reference& ref) {
  std::string host = ref.domain;
  return {{"containerd.io/distribution.source." + host, ref.path}};
}

Labels Merge(Labels a, const Labels& b) {
  a.insert(b.begin(), b.end());
  return a;
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
                                    Merge(IndexGcLabels(idx), SourceLabel(ref))));
    BERTH_ASSIGN_OR_RETURN(registry::Descriptor d,
                           registry::ChoosePlatform(idx, opts.platform, ref.String()));
    BERTH_ASSIGN_OR_RETURN(chosen, client.GetManifest(ref, d.digest));
    chosen.desc.media_type = d.media_type.empty() ? chosen.desc.media_type : d.media_type;
  }
  BERTH_ASSIGN_OR_RETURN(registry::Manifest m, registry::ParseManifest(chosen.body, ref.String()));
  BERTH_RETURN_IF_ERROR(WriteBlob(conn, RefKey(chosen.desc), chosen.desc, chosen.body,
                                  Merge(ManifestGcLabels(m), SourceLabel(ref))));
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
  BERTH_RETURN_IF_ERROR(PutImageRecord(conn, result.name, root.desc));
  return result;
}

}  // namespace berth::ctr
