// The native snapshotter's driver (see snapshotter.h NewNative): every active snapshot's fs/ is
// a full copy of its parent's fs/; a view of a parent is a read-only bind of the parent itself
// (nothing to copy, as in containerd). Mounts are binds: ["rw", "rbind"] for an active
// snapshot, ["ro", "rbind"] for a view.

#include <sys/stat.h>

#include <cerrno>
#include <vector>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "snapshotter/fs_util.h"
#include "snapshotter/local.h"
#include "snapshotter/snapshotter.h"

namespace berth::snapshot {
namespace {

namespace fs = std::filesystem;

class NativeDriver : public Driver {
 public:
  absl::Status Populate(const fs::path& dir, Kind kind,
                        const std::vector<fs::path>& parents) override {
    const fs::path tree = dir / "fs";
    if (::mkdir(tree.c_str(), 0755) != 0 || ::chmod(tree.c_str(), 0755) != 0)
      return ErrnoError(errno, fmt::format("create directory {:?}", tree.string()));
    if (kind == Kind::kActive && !parents.empty())
      return CopyTree(parents.front(), tree);
    return absl::OkStatus();
  }

  std::vector<mount::Mount> Mounts(const fs::path& dir, Kind kind,
                                   const std::vector<fs::path>& parents) override {
    const bool own = parents.empty() || kind == Kind::kActive;
    return {{.type = "bind",
             .source = own ? (dir / "fs").string() : parents.front().string(),
             .options = {kind == Kind::kView ? "ro" : "rw", "rbind"}}};
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<Snapshotter>> NewNative(const fs::path& root) {
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<LocalSnapshotter> s,
                         LocalSnapshotter::Open(root, std::make_unique<NativeDriver>()));
  return std::unique_ptr<Snapshotter>(std::move(s));
}

}  // namespace berth::snapshot
