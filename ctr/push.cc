#include "ctr/push.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fmt/format.h"

#include "ctr/content_io.h"
#include "ctr/image_record.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

absl::Status PushBlobs(Connection& conn, registry::Client& client,
                       const registry::Reference& remote, const registry::Manifest& m,
                       const PushOptions& opts) {
  std::vector<registry::Descriptor> blobs = m.layers;
  blobs.push_back(m.config);
  const std::string source_key = "containerd.io/distribution.source." + remote.domain;
  for (const registry::Descriptor& d : blobs) {
    BERTH_ASSIGN_OR_RETURN(Labels labels, BlobLabels(conn, d.digest));
    std::vector<std::string> sources;  // repositories of this registry known to have the blob
    if (auto it = labels.find(source_key); it != labels.end())
      sources = absl::StrSplit(it->second, ',', absl::SkipEmpty());
    std::string mount_from;
    for (const std::string& repo : sources) {
      if (repo != remote.path) {
        mount_from = repo;
        break;
      }
    }
    ContentSource src(conn, d.digest);
    BERTH_RETURN_IF_ERROR(client.PushBlob(remote, d, src, mount_from, opts.observer));
    if (std::find(sources.begin(), sources.end(), remote.path) == sources.end()) {
      // As containerd does: remember where the blob now is, for mounts by later pushes.
      sources.push_back(remote.path);
      BERTH_RETURN_IF_ERROR(SetLabels(conn, d.digest, {{source_key, absl::StrJoin(sources, ",")}}));
    }
  }
  return absl::OkStatus();
}

absl::Status PushManifest(Connection& conn, registry::Client& client,
                          const registry::Reference& remote, const registry::Descriptor& d,
                          const std::string& body, const PushOptions& opts) {
  BERTH_ASSIGN_OR_RETURN(registry::Manifest m, registry::ParseManifest(body, d.digest));
  BERTH_RETURN_IF_ERROR(PushBlobs(conn, client, remote, m, opts));
  registry::Reference by_digest = remote;
  by_digest.tag.clear();
  by_digest.digest = d.digest;
  return client.PutManifest(by_digest, d.media_type, body);
}

}  // namespace

absl::Status Push(Connection& conn, registry::Client& client, const std::string& local,
                  const registry::Reference& remote, const PushOptions& opts) {
  images_api::GetImageRequest req;
  req.set_name(local);
  images_api::GetImageResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.images().Get(ctx.get(), req, &resp)));
  registry::Descriptor target = FromProto(resp.image().target());
  BERTH_ASSIGN_OR_RETURN(std::string body, ReadBlob(conn, target.digest));
  if (registry::IsIndex(target.media_type)) {
    BERTH_ASSIGN_OR_RETURN(registry::Index idx, registry::ParseIndex(body, local));
    int pushed = 0;
    for (const registry::Descriptor& child : idx.manifests) {
      absl::StatusOr<std::string> cbody = ReadBlob(conn, child.digest);
      if (absl::IsNotFound(cbody.status()))
        continue;  // a platform that was never pulled
      BERTH_RETURN_IF_ERROR(cbody.status());
      BERTH_RETURN_IF_ERROR(PushManifest(conn, client, remote, child, *cbody, opts));
      ++pushed;
    }
    if (pushed == 0)
      return FailedPrecondition(
          fmt::format("image {:?}: none of the index's manifests are stored", local));
  } else {
    BERTH_RETURN_IF_ERROR(PushManifest(conn, client, remote, target, body, opts));
  }
  if (opts.say)
    opts.say(fmt::format("{}: pushed {}", remote.String(), target.digest));
  registry::Reference tagged = remote;
  if (tagged.tag.empty() && !tagged.digest.empty())
    return client.PutManifest(tagged, target.media_type, body);
  tagged.digest.clear();
  return client.PutManifest(tagged, target.media_type, body);
}

}  // namespace berth::ctr
