// bctr diff, cp and export: a container's filesystem, through its snapshot.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <memory>

#include "fmt/format.h"

#include "ctr/archive_io.h"
#include "ctr/commands/commands.h"
#include "ctr/rootfs.h"
#include "lib/archive/layer.h"
#include "lib/archive/tar.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/mount/options.h"

namespace berth::ctr {
namespace {

namespace fs = std::filesystem;

// ---- diff ------------------------------------------------------------------------------

class Differ {
 public:
  Differ(std::string upper, int lower_fd) : upper_(std::move(upper)), lower_fd_(lower_fd) {}

  absl::Status Walk(const std::string& rel);

  const std::map<std::string, char>& changes() const { return changes_; }

 private:
  bool InLower(const std::string& rel) const {
    absl::StatusOr<UniqueFd> fd = OpenInRoot(lower_fd_, rel, false);
    return fd.ok();
  }

  std::string upper_;
  int lower_fd_;
  std::map<std::string, char> changes_;
};

absl::Status Differ::Walk(const std::string& rel) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(upper_ + rel, ec)) {
    std::string child = rel + "/" + e.path().filename().string();
    struct stat st;
    if (::lstat(e.path().c_str(), &st) != 0)
      return ErrnoError(errno, fmt::format("stat {}", e.path().string()));
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) {  // overlay whiteout
      changes_[child] = 'D';
      continue;
    }
    bool lower = InLower(child);
    changes_[child] = lower ? 'C' : 'A';
    if (!S_ISDIR(st.st_mode))
      continue;
    BERTH_RETURN_IF_ERROR(Walk(child));
    char opaque[2] = {};
    if (lower && ::lgetxattr(e.path().c_str(), "trusted.overlay.opaque", opaque, 1) == 1 &&
        opaque[0] == 'y') {
      absl::StatusOr<UniqueFd> dir = OpenInRoot(lower_fd_, child, false);
      if (!dir.ok())
        continue;
      for (const fs::directory_entry& l :
           fs::directory_iterator(fmt::format("/proc/self/fd/{}", dir->get()), ec)) {
        std::string gone = child + "/" + l.path().filename().string();
        if (changes_.count(gone) == 0)
          changes_[gone] = 'D';
      }
    }
  }
  if (ec)
    return ErrnoError(ec.value(), fmt::format("list {}", upper_ + rel));
  return absl::OkStatus();
}

absl::Status RunDiff(Cli& cli, const std::string& id) {
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(ContainerRef c, LookupContainer(conn, id));
  BERTH_ASSIGN_OR_RETURN(std::vector<mount::Mount> mounts,
                         SnapshotMounts(conn, c.snapshotter, c.snapshot_key));
  if (mounts.size() != 1 || mounts[0].type != "overlay" ||
      mount::OptionValue(mounts[0].options, "upperdir").empty())
    return Unimplemented(fmt::format(
        "container {:?}: diff needs an overlayfs snapshot (snapshotter {:?})", id, c.snapshotter));
  std::string upper = mount::OptionValue(mounts[0].options, "upperdir");
  std::string lowers = mount::OptionValue(mounts[0].options, "lowerdir");
  auto print = [&](int lower_fd) -> absl::Status {
    Differ d(upper, lower_fd);
    BERTH_RETURN_IF_ERROR(d.Walk(""));
    for (const auto& [path, kind] : d.changes()) std::printf("%c %s\n", kind, path.c_str());
    return absl::OkStatus();
  };
  if (lowers.find(':') == std::string::npos) {
    UniqueFd fd(::open(lowers.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid())
      return ErrnoError(errno, fmt::format("open {}", lowers));
    return print(fd.get());
  }
  std::vector<mount::Mount> view = {{"overlay", "overlay", {"lowerdir=" + lowers, "ro"}}};
  std::error_code ec;
  return mount::WithTempMount(view, fs::temp_directory_path(ec) / "bctr-rootfs",
                              [&](const fs::path& dir) -> absl::Status {
                                UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
                                if (!fd.valid())
                                  return ErrnoError(errno, fmt::format("open {}", dir.string()));
                                return print(fd.get());
                              });
}

// ---- cp --------------------------------------------------------------------------------

struct Location {
  std::string container;  // "" = this host
  std::string path;       // "-" = a tar on stdin/stdout
};

Location ParseLocation(const std::string& s) {
  if (s == "-" || s.starts_with("/") || s.starts_with("."))
    return {"", s};
  size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0)
    return {"", s};
  return {s.substr(0, colon), s.substr(colon + 1)};
}

std::string BaseName(std::string p) {
  while (p.size() > 1 && p.ends_with("/")) p.pop_back();
  fs::path base = fs::path(p).filename();
  std::string b = base.string();
  return b == "/" || b == "." ? "" : b;
}

std::string DirName(std::string p) {
  while (p.size() > 1 && p.ends_with("/")) p.pop_back();
  std::string d = fs::path(p).parent_path().string();
  return d.empty() ? "." : d;
}

// Where a copy lands: into `dest` when it is a directory (keeping the source's name), else as
// `dest` (its parent must exist). `open` resolves a path.
struct Landing {
  UniqueFd dir;
  std::string name;
};

absl::StatusOr<Landing> Land(const std::string& dest, const std::string& src_name,
                             absl::FunctionRef<absl::StatusOr<UniqueFd>(const std::string&)> open) {
  absl::StatusOr<UniqueFd> d = open(dest);
  struct stat st;
  if (d.ok() && ::fstat(d->get(), &st) == 0 && S_ISDIR(st.st_mode))
    return Landing{*std::move(d), src_name};
  if (!d.ok() && !absl::IsNotFound(d.status()))
    return d.status();
  if (dest.ends_with("/") || BaseName(dest).empty())
    return FailedPrecondition(fmt::format("{:?}: not a directory", dest));
  BERTH_ASSIGN_OR_RETURN(UniqueFd parent, open(DirName(dest)));
  if (::fstat(parent.get(), &st) != 0 || !S_ISDIR(st.st_mode))
    return FailedPrecondition(fmt::format("{:?}: not a directory", DirName(dest)));
  return Landing{std::move(parent), BaseName(dest)};
}

absl::StatusOr<UniqueFd> OpenHost(const std::string& p, bool follow) {
  UniqueFd fd(::open(p.c_str(), O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW)));
  if (!fd.valid() && errno == ENOENT)
    return absl::NotFoundError(fmt::format("{:?}: no such file or directory", p));
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("open {:?}", p));
  return fd;
}

absl::Status CopyOut(Connection& conn, const Location& src, const std::string& dest) {
  BERTH_ASSIGN_OR_RETURN(ContainerRef c, LookupContainer(conn, src.container));
  std::string name = BaseName(src.path);
  auto tar_of = [&](const std::string& as, int out) {
    return WithContainerRoot(conn, c, Access::kRead, [&](int root) -> absl::Status {
      BERTH_ASSIGN_OR_RETURN(UniqueFd fd, OpenInRoot(root, src.path, src.path.ends_with("/")));
      return TarEntryTo(fd.get(), as, out);
    });
  };
  if (dest == "-")
    return tar_of(name, STDOUT_FILENO);
  BERTH_ASSIGN_OR_RETURN(Landing l,
                         Land(dest, name, [](const std::string& p) { return OpenHost(p, true); }));
  BERTH_ASSIGN_OR_RETURN(UniqueFd tar, TempFile());
  BERTH_RETURN_IF_ERROR(tar_of(l.name, tar.get()));
  return Extract(tar.get(), l.dir.get());
}

absl::Status CopyIn(Connection& conn, const std::string& src, const Location& dest) {
  BERTH_ASSIGN_OR_RETURN(ContainerRef c, LookupContainer(conn, dest.container));
  UniqueFd host;
  if (src != "-") {
    BERTH_ASSIGN_OR_RETURN(host, OpenHost(src, src.ends_with("/")));
  }
  return WithContainerRoot(conn, c, Access::kWrite, [&](int root) -> absl::Status {
    auto open = [&](const std::string& p) { return OpenInRoot(root, p, true); };
    if (src == "-") {
      BERTH_ASSIGN_OR_RETURN(UniqueFd dir, open(dest.path));
      archive::ApplyOptions opts;
      return archive::ApplyLayer(
                 fmt::format("/proc/self/fd/{}", dir.get()),
                 [](char* buf, size_t len) { return ReadFd(STDIN_FILENO, buf, len); }, opts)
          .status();
    }
    BERTH_ASSIGN_OR_RETURN(Landing l, Land(dest.path, BaseName(src), open));
    BERTH_ASSIGN_OR_RETURN(UniqueFd tar, TempFile());
    BERTH_RETURN_IF_ERROR(TarEntryTo(host.get(), l.name, tar.get()));
    return Extract(tar.get(), l.dir.get());
  });
}

absl::Status RunCp(Cli& cli, const std::string& a, const std::string& b) {
  Location src = ParseLocation(a), dest = ParseLocation(b);
  if (src.container.empty() == dest.container.empty())
    return InvalidArgument("one of SRC and DEST must be CONTAINER:PATH, and only one");
  if (src.path.empty() || dest.path.empty())
    return InvalidArgument("an empty path");
  Connection& conn = cli.conn();
  if (!src.container.empty()) {
    if (dest.path == "-" && StdoutIsTty())
      return InvalidArgument("refusing to write a tar to a terminal");
    return Annotate(CopyOut(conn, src, dest.path),
                    fmt::format("container {:?}: {}", src.container, src.path));
  }
  return Annotate(CopyIn(conn, src.path, dest),
                  fmt::format("container {:?}: {}", dest.container, dest.path));
}

// ---- export ----------------------------------------------------------------------------

absl::Status RunExport(Cli& cli, const std::string& id, const std::string& file) {
  if (file == "-" && StdoutIsTty())
    return InvalidArgument("refusing to write a tar to a terminal (use -o FILE, or redirect)");
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(ContainerRef c, LookupContainer(conn, id));
  return WriteOutput(file, [&](archive::WriteFn out) {
    return WithContainerRoot(conn, c, Access::kRead, [&](int root) -> absl::Status {
      archive::TarWriter tar(out);
      BERTH_RETURN_IF_ERROR(tar.AddTree(root, "", "", /*one_filesystem=*/true));
      return tar.Close();
    });
  });
}

}  // namespace

void AddDiff(CLI::App& parent, Cli& cli) {
  auto id = std::make_shared<std::string>();
  CLI::App* cmd = parent.add_subcommand(
      "diff", "List the files a container added (A), changed (C) and deleted (D)");
  cmd->add_option("container", *id, "Container")->required();
  cmd->callback(
      [&cli, id] { cli.action = [&cli, id] { return Annotate(RunDiff(cli, *id), "diff"); }; });
}

void AddCp(CLI::App& parent, Cli& cli) {
  auto src = std::make_shared<std::string>();
  auto dest = std::make_shared<std::string>();
  CLI::App* cmd = parent.add_subcommand(
      "cp", "Copy files between a container and the host (CONTAINER:PATH; - for a tar stream)");
  cmd->add_option("src", *src, "Source: PATH, CONTAINER:PATH or -")->required();
  cmd->add_option("dest", *dest, "Destination: PATH, CONTAINER:PATH or -")->required();
  cmd->callback([&cli, src, dest] {
    cli.action = [&cli, src, dest] { return Annotate(RunCp(cli, *src, *dest), "cp"); };
  });
}

void AddExport(CLI::App& parent, Cli& cli) {
  auto id = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>("-");
  CLI::App* cmd = parent.add_subcommand("export", "Write a container's filesystem as a tar");
  cmd->add_option("container", *id, "Container")->required();
  cmd->add_option("-o,--output", *file, "File to write (default: stdout)");
  cmd->callback([&cli, id, file] {
    cli.action = [&cli, id, file] { return Annotate(RunExport(cli, *id, *file), "export"); };
  });
}

}  // namespace berth::ctr
