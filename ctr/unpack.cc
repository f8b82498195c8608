// Unpacking an image's layers into snapshots, as containerd's rootfs.ApplyLayers does.

#include <random>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"

#include "ctr/content_io.h"
#include "ctr/pull.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/registry/digest.h"

namespace berth::ctr {
namespace {

// Applies one layer on top of `parent` and commits it as `chain`.
absl::Status ApplyLayer(Connection& conn, const std::string& sn, const registry::Descriptor& layer,
                        const std::string& diff_id, const std::string& parent,
                        const std::string& chain) {
  std::random_device rd;
  const std::string key = fmt::format("extract-{:08x}{:04x} {}", rd(), rd() & 0xffff, chain);
  snapshots_api::PrepareSnapshotRequest prep;
  prep.set_snapshotter(sn);
  prep.set_key(key);
  prep.set_parent(parent);
  snapshots_api::PrepareSnapshotResponse mounts;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.snapshots().Prepare(ctx.get(), prep, &mounts)));
  auto undo = absl::MakeCleanup([&] { RemoveSnapshot(conn, sn, key); });

  diff_api::ApplyRequest apply;
  apply.mutable_diff()->set_media_type(layer.media_type);
  apply.mutable_diff()->set_digest(layer.digest);
  apply.mutable_diff()->set_size(layer.size);
  *apply.mutable_mounts() = mounts.mounts();
  diff_api::ApplyResponse applied;
  auto actx = conn.Context();
  BERTH_RETURN_IF_ERROR(Annotate(conn.Check(conn.diff().Apply(actx.get(), apply, &applied)),
                                 fmt::format("apply layer {}", layer.digest)));
  if (applied.applied().digest() != diff_id)
    return absl::DataLossError(fmt::format("layer {}: unpacked to {}, but the config says {}",
                                           layer.digest, applied.applied().digest(), diff_id));
  snapshots_api::CommitSnapshotRequest commit;
  commit.set_snapshotter(sn);
  commit.set_name(chain);
  commit.set_key(key);
  google::protobuf::Empty empty;
  auto cctx = conn.Context();
  absl::Status st = conn.Check(conn.snapshots().Commit(cctx.get(), commit, &empty));
  if (!st.ok() && !absl::IsAlreadyExists(st))
    return st;
  if (st.ok())
    std::move(undo).Cancel();
  return SetLabels(conn, layer.digest, {{"containerd.io/uncompressed", diff_id}});
}

}  // namespace

absl::StatusOr<bool> SnapshotExists(Connection& conn, const std::string& sn,
                                    const std::string& key) {
  snapshots_api::StatSnapshotRequest req;
  req.set_snapshotter(sn);
  req.set_key(key);
  snapshots_api::StatSnapshotResponse resp;
  auto ctx = conn.Context();
  absl::Status st = conn.Check(conn.snapshots().Stat(ctx.get(), req, &resp));
  if (absl::IsNotFound(st))
    return false;
  BERTH_RETURN_IF_ERROR(st);
  return true;
}

void RemoveSnapshot(Connection& conn, const std::string& sn, const std::string& key) {
  snapshots_api::RemoveSnapshotRequest req;
  req.set_snapshotter(sn);
  req.set_key(key);
  google::protobuf::Empty resp;
  auto ctx = conn.Context();
  (void)conn.snapshots().Remove(ctx.get(), req, &resp);
}

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> chain;
  for (const std::string& d : diff_ids)
    chain.push_back(chain.empty() ? d : registry::Sha256Digest(chain.back() + " " + d));
  return chain;
}

absl::StatusOr<std::string> Unpack(Connection& conn, const registry::Manifest& manifest,
                                   const std::string& snapshotter) {
  BERTH_ASSIGN_OR_RETURN(std::string config, ReadBlob(conn, manifest.config.digest));
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> diff_ids,
                         registry::ConfigDiffIds(config, manifest.config.digest));
  if (diff_ids.size() != manifest.layers.size())
    return InvalidArgument(fmt::format("config {}: {} diff ids for {} layers",
                                       manifest.config.digest, diff_ids.size(),
                                       manifest.layers.size()));
  std::vector<std::string> chain = ChainIds(diff_ids);
  for (size_t i = 0; i < chain.size(); ++i) {
    BERTH_ASSIGN_OR_RETURN(bool exists, SnapshotExists(conn, snapshotter, chain[i]));
    if (exists)
      continue;
    BERTH_RETURN_IF_ERROR(ApplyLayer(conn, snapshotter, manifest.layers[i], diff_ids[i],
                                     i == 0 ? "" : chain[i - 1], chain[i]));
  }
  std::string top = chain.empty() ? "" : chain.back();
  if (!top.empty()) {
    BERTH_RETURN_IF_ERROR(
        SetLabels(conn, manifest.config.digest,
                  {{fmt::format("containerd.io/gc.ref.snapshot.{}", snapshotter), top}}));
  }
  return top;
}

}  // namespace berth::ctr
