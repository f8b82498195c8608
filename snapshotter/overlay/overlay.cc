#include "snapshotter/overlay/overlay.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <vector>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/mount/mount.h"
#include "snapshotter/fs_util.h"
#include "snapshotter/local.h"
#include "snapshotter/snapshotter.h"

namespace berth::snapshot {
namespace {

namespace fs = std::filesystem;

absl::Status MakeDir(const fs::path& p, mode_t mode) {
  if (::mkdir(p.c_str(), mode) != 0)
    return ErrnoError(errno, fmt::format("create directory {:?}", p.string()));
  if (::chmod(p.c_str(), mode) != 0)  // undo the umask
    return ErrnoError(errno, fmt::format("chmod {:?}", p.string()));
  return absl::OkStatus();
}

class OverlayDriver : public Driver {
 public:
  OverlayDriver() {
    std::error_code ec;
    index_off_ = fs::exists("/sys/module/overlay/parameters/index", ec);
  }

  absl::Status Populate(const fs::path& dir, Kind kind,
                        const std::vector<fs::path>& parents) override {
    BERTH_RETURN_IF_ERROR(MakeDir(dir / "fs", 0755));
    if (kind == Kind::kActive)
      BERTH_RETURN_IF_ERROR(MakeDir(dir / "work", 0711));
    if (parents.empty())
      return absl::OkStatus();
    // The upper dir takes the owner of the layer below, as in containerd (user namespaces).
    struct stat st;
    if (::stat(parents.front().c_str(), &st) != 0)
      return ErrnoError(errno, fmt::format("stat parent {:?}", parents.front().string()));
    if (::lchown((dir / "fs").c_str(), st.st_uid, st.st_gid) != 0)
      return ErrnoError(errno, fmt::format("chown {:?}", (dir / "fs").string()));
    return absl::OkStatus();
  }

  std::vector<mount::Mount> Mounts(const fs::path& dir, Kind kind,
                                   const std::vector<fs::path>& parents) override {
    if (parents.empty()) {
      return {{.type = "bind",
               .source = (dir / "fs").string(),
               .options = {kind == Kind::kView ? "ro" : "rw", "rbind"}}};
    }
    if (kind == Kind::kView && parents.size() == 1)
      return {{.type = "bind", .source = parents.front().string(), .options = {"ro", "rbind"}}};
    std::vector<std::string> options;
    if (index_off_)
      options.push_back("index=off");
    if (kind == Kind::kActive) {
      options.push_back("workdir=" + (dir / "work").string());
      options.push_back("upperdir=" + (dir / "fs").string());
    }
    std::string lower = "lowerdir=";
    for (size_t i = 0; i < parents.size(); ++i) lower += (i ? ":" : "") + parents[i].string();
    options.push_back(std::move(lower));
    return {{.type = "overlay", .source = "overlay", .options = std::move(options)}};
  }

 private:
  bool index_off_ = false;
};

}  // namespace

absl::Status ProbeOverlay(const fs::path& root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    return ErrnoError(ec.value(), fmt::format("create {:?}", root.string()));
  std::string tmpl = (root / "overlay-probe-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    return ErrnoError(errno, fmt::format("create probe directory in {:?}", root.string()));
  const fs::path dir = tmpl;
  absl::Status s;
  for (const char* d : {"lower", "upper", "work", "merged"}) {
    if (s.ok())
      s = MakeDir(dir / d, 0755);
  }
  if (s.ok()) {
    mount::Mount m{
        .type = "overlay",
        .source = "overlay",
        .options = {"workdir=" + (dir / "work").string(), "upperdir=" + (dir / "upper").string(),
                    "lowerdir=" + (dir / "lower").string()}};
    s = mount::MountAll({&m, 1}, dir / "merged");
    if (s.ok())
      s = mount::UnmountAll(dir / "merged");
  }
  absl::Status removed = RemoveTree(dir);
  if (!s.ok())
    return Unimplemented(fmt::format("skip plugin: overlayfs does not work on {:?}: {}",
                                     root.string(), std::string(s.message())));
  return removed;
}

absl::StatusOr<std::unique_ptr<Snapshotter>> NewOverlay(const fs::path& root) {
  BERTH_RETURN_IF_ERROR(ProbeOverlay(root));
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<LocalSnapshotter> s,
                         LocalSnapshotter::Open(root, std::make_unique<OverlayDriver>()));
  return std::unique_ptr<Snapshotter>(std::move(s));
}

}  // namespace berth::snapshot
