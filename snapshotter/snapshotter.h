#pragma once

// A snapshotter keeps the copy-on-write directory trees of images and containers, as
// containerd's snapshots.Snapshotter does. A snapshot is active (writable, from Prepare),
// a view (read-only, from View) or committed (from Commit of an active one; the only kind
// that can be a parent). Keys and committed names share one namespace of arbitrary non-empty
// strings; they are never used as path names (the backends map them to numeric ids).
//
// Errors (errdefs classes): NotFound (missing key or parent), AlreadyExists (key or commit
// name taken), FailedPrecondition (parent not committed, Commit of a snapshot that is not
// active, Mounts of a committed snapshot, Remove of a snapshot with children), InvalidArgument
// (empty key or name, bad labels or update paths). Messages name the snapshot:
// `snapshot "x": has children`.
//
// Implementations are thread-safe, and keep their records persistent and crash-safe in their
// root: after a crash or a reopen every snapshot that a synced call returned is there, and
// directories that no record refers to are removed by Cleanup().

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "lib/base/durability.h"
#include "lib/base/labels.h"
#include "lib/mount/mount.h"

namespace berth::plugin {
class Registry;
}

namespace berth::snapshot {

// containerd's proto enum values.
enum class Kind { kUnknown = 0, kView = 1, kActive = 2, kCommitted = 3 };

// "view", "active", "committed" ("unknown" otherwise), as containerd prints kinds.
std::string_view KindName(Kind k);

struct Info {
  std::string name;    // the key (active, view) or the committed name
  std::string parent;  // the committed parent's name, "" for none
  Kind kind = Kind::kUnknown;
  Labels labels;
  int64_t created_at = 0;  // ns since the Unix epoch
  int64_t updated_at = 0;
};

struct Usage {
  int64_t size = 0;    // bytes on disk (allocated blocks), each inode counted once
  int64_t inodes = 0;  // distinct inodes
};

class Snapshotter {
 public:
  virtual ~Snapshotter() = default;

  virtual absl::StatusOr<Info> Stat(const std::string& key) = 0;

  // Updates the labels of info.name. paths: "labels" (replace all), "labels.<key>" (set or,
  // when absent or empty in info, remove one); no paths: replace the labels. Any other path
  // is InvalidArgument. Returns the updated info.
  virtual absl::StatusOr<Info> Update(const Info& info, const std::vector<std::string>& paths) = 0;

  // Active and view snapshots: measured now; committed ones: as recorded by Commit.
  virtual absl::StatusOr<Usage> GetUsage(const std::string& key) = 0;

  // The mounts of an active or view snapshot (FailedPrecondition for a committed one).
  virtual absl::StatusOr<std::vector<mount::Mount>> Mounts(const std::string& key) = 0;

  // Creates an active (writable) snapshot `key` on top of the committed `parent` ("" for an
  // empty tree) and returns its mounts. kDeferred: no sync; a power loss before the next
  // synced call can take the snapshot (usable at once all the same), for a caller that
  // recreates what it lost (SnapshotStore does, at start).
  virtual absl::StatusOr<std::vector<mount::Mount>> Prepare(
      const std::string& key, const std::string& parent, const Labels& labels,
      Durability durability = Durability::kSynced) = 0;

  // As Prepare, but the snapshot is a read-only view and cannot be committed.
  virtual absl::StatusOr<std::vector<mount::Mount>> View(
      const std::string& key, const std::string& parent, const Labels& labels,
      Durability durability = Durability::kSynced) = 0;

  // Turns the active snapshot `key` into the committed snapshot `name` with `labels` (the
  // active one's labels are not inherited, as in containerd) and records its usage. `key` is
  // gone afterwards. The data are not moved.
  virtual absl::Status Commit(const std::string& name, const std::string& key,
                              const Labels& labels) = 0;

  // Removes the snapshot and its directories. FailedPrecondition when it has children.
  virtual absl::Status Remove(const std::string& key) = 0;

  // Calls fn for every snapshot (in id order), on a consistent copy taken before the first
  // call: fn may call back into the snapshotter. fn's first error stops the walk.
  virtual absl::Status Walk(absl::FunctionRef<absl::Status(const Info&)> fn) = 0;

  // Removes directories no record refers to (left by a crash or a failed removal).
  virtual absl::Status Cleanup() = 0;
};

// overlayfs: active snapshots are an overlay of the parents' fs dirs with their own fs (upper)
// and work dirs; Unimplemented when overlayfs does not work on the root's filesystem.
absl::StatusOr<std::unique_ptr<Snapshotter>> NewOverlay(const std::filesystem::path& root);

// native: every active snapshot is a full copy of its parent (modes, owners, xattrs,
// hardlinks, symlinks, devices and times kept); mounts are binds. For filesystems without
// overlay support.
absl::StatusOr<std::unique_ptr<Snapshotter>> NewNative(const std::filesystem::path& root);

// Registers the io.containerd.snapshotter.v1 plugins "overlayfs" and "native" with their root
// at InitContext::root(). Each plugin instance is a class deriving from both plugin::Plugin and
// Snapshotter (dynamic_cast<snapshot::Snapshotter*> of the plugin works). The overlayfs plugin
// is skipped (Unimplemented, "skip plugin: …") when overlay does not work on that filesystem.
void RegisterPlugins(plugin::Registry& registry);

}  // namespace berth::snapshot
