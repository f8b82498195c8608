#pragma once

// Pulling an image into berthd, as containerd 1.6's client does it:
//   1. under a temporary lease, resolve the reference; store the index (if any) and the
//      chosen platform's manifest with containerd.io/gc.ref.content.* labels on their
//      children, then the config;
//   2. download the layers straight into the content store (several at a time, resumable
//      ingest refs "layer-<digest>", verified);
//   3. unpack (unless disabled): one committed snapshot per layer, named by chain id, then
//      label the config containerd.io/gc.ref.snapshot.<snapshotter>=<top chain id>;
//   4. create (or update) the image record pointing at the index or manifest;
//   5. drop the lease.
// Any failure before step 4 leaves no image record, and the lease's removal lets berthd's
// garbage collector take what was written.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "ctr/connection.h"
#include "lib/registry/client.h"
#include "lib/registry/manifest.h"
#include "lib/registry/reference.h"

namespace berth::ctr {

struct PullOptions {
  registry::Platform platform = registry::HostPlatform();
  bool unpack = true;
  std::string snapshotter = "overlayfs";
  int parallel = 3;
  registry::TransferObserver* observer = nullptr;  // per-blob progress
  std::function<void(const std::string&)> say;     // status lines ("unpacking …")
};

struct PullResult {
  std::string name;             // the image record: the normalized reference
  registry::Descriptor target;  // what it points at (index or manifest)
  std::string chain_id;         // the top snapshot when unpacked
};

absl::StatusOr<PullResult> Pull(Connection& conn, registry::Client& client,
                                const registry::Reference& ref, const PullOptions& opts);

// Unpacks `manifest` (whose config is in the content store) into `snapshotter`: for each
// layer, Stat(chain id); if missing, Prepare("extract-<random> <chain id>", parent), Diff
// Apply, check the applied digest against the config's diff id, Commit(chain id). Labels
// layers with containerd.io/uncompressed and the config with the snapshot gc ref. Returns the
// top chain id.
absl::StatusOr<std::string> Unpack(Connection& conn, const registry::Manifest& manifest,
                                   const std::string& snapshotter);

// Whether `key` exists in `snapshotter` (other errors are returned).
absl::StatusOr<bool> SnapshotExists(Connection& conn, const std::string& snapshotter,
                                    const std::string& key);
// Removes a snapshot, best effort, for undoing a half-done step (what stays is left to the GC
// through the caller's lease).
void RemoveSnapshot(Connection& conn, const std::string& snapshotter, const std::string& key);

// chain ids from diff ids: chain[0] = diff[0], chain[i] = sha256(chain[i-1] + " " + diff[i]).
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

}  // namespace berth::ctr
