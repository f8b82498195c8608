// ApplyLayer: libarchive parses the tar headers from our own read callback (fed by
// LayerReader); every filesystem write is ours, through *at() calls on directory fds that
// safe_fs.h resolved beneath the root.

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "fmt/format.h"

#include "lib/archive/layer.h"
#include "lib/archive/safe_fs.h"
#include "lib/archive/stream.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/unique_fd.h"

namespace berth::archive {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr std::string_view kWhiteoutMetaInside = "/.wh..wh.";
constexpr std::string_view kOpaqueWhiteout = ".wh..wh..opq";
constexpr char kOverlayOpaqueXattr[] = "trusted.overlay.opaque";

struct DirTimes {
  std::string path;
  timespec times[2];  // atime, mtime
};

// The libarchive read callback's side.
//
// Some tools (umoci 0.4 among them) end a layer right after the last file's data, without
// the padding to a 512-byte block and without the end-of-archive blocks. Go's archive/tar,
// and so containerd and Docker, read such a layer to its end; so do we: a stream that ends
// inside a block is followed by the zeros it lacks. That is only sound when the stream ended
// exactly where the last entry's data did, which Finish() checks (a file cut short inside
// its last block would otherwise be completed with zeros).
struct Source {
  PrefetchReader* reader;
  std::vector<char> buf = std::vector<char>(4096);  // the zeros
  absl::Status status;
  int64_t served = 0;       // real bytes handed to libarchive
  int64_t zeros_left = -1;  // >= 0 once the real stream has ended inside a block
  int64_t last_entry_size = 0;

  absl::Status Finish() const {
    if (zeros_left >= 0 && last_entry_size % 512 != served % 512) {
      return absl::DataLossError(
          fmt::format("layer: tar stream truncated at byte {} inside an entry", served));
    }
    return absl::OkStatus();
  }
};

la_ssize_t ReadCallback(struct archive* a, void* client, const void** out) {
  auto* src = static_cast<Source*>(client);
  if (src->zeros_left < 0) {
    absl::StatusOr<std::string_view> chunk = src->reader->Next();
    if (!chunk.ok()) {
      src->status = chunk.status();
      archive_set_error(a, EIO, "%s", std::string(chunk.status().message()).c_str());
      return -1;
    }
    if (!chunk->empty() || src->served % 512 == 0) {
      src->served += static_cast<int64_t>(chunk->size());
      *out = chunk->data();
      return static_cast<la_ssize_t>(chunk->size());
    }
    src->zeros_left = (512 - src->served % 512) + 1024;  // the block's rest, then the end
  }
  size_t n = static_cast<size_t>(std::min<int64_t>(src->zeros_left, 4096));
  std::fill_n(src->buf.begin(), n, '\0');
  src->zeros_left -= static_cast<int64_t>(n);
  *out = src->buf.data();
  return static_cast<la_ssize_t>(n);
}

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

class Applier {
 public:
  Applier(UniqueFd root, const ApplyOptions& opts, struct archive* a, Source& src)
      : root_(std::move(root)), opts_(opts), a_(a), src_(src), is_root_(::geteuid() == 0) {}

  absl::Status Run();

 private:
  absl::Status Entry(struct archive_entry* e, const std::string& path);
  absl::Status Whiteout(std::string_view parent, std::string_view base);
  absl::Status Opaque(std::string_view parent, int dir_fd);
  // The fd of a parent directory (cached for runs of entries in one directory); made when
  // missing if `create`.
  absl::StatusOr<int> Parent(std::string_view parent, bool create = true);
  absl::Status MakeDir(struct archive_entry* e, const std::string& path, int pfd,
                       const std::string& base);
  absl::Status MakeFile(struct archive_entry* e, int pfd, const std::string& base);
  absl::Status MakeHardlink(struct archive_entry* e, const std::string& path, int pfd,
                            const std::string& base);
  absl::Status MakeOther(struct archive_entry* e, int pfd, const std::string& base);
  absl::Status Replace(int pfd, const std::string& base, bool keep_dir);
  // Runs `create` (0 or -1 with errno); on EEXIST replaces what is there and runs it again.
  absl::Status CreateOrReplace(int pfd, const std::string& base, std::string_view what,
                               absl::FunctionRef<int()> create);
  absl::Status Meta(struct archive_entry* e, int fd, int pfd, const std::string& base);
  absl::Status Xattrs(struct archive_entry* e, int fd, int pfd, const std::string& base);
  absl::Status SetDirTimes();
  absl::Status LibarchiveError(std::string_view what);

  UniqueFd root_;
  const ApplyOptions& opts_;
  struct archive* a_;
  Source& src_;
  bool is_root_;
  std::string cached_parent_;
  UniqueFd cached_fd_;
  absl::flat_hash_set<std::string> written_;  // paths this layer wrote (kRemove opaque dirs)
  std::vector<DirTimes> dir_times_;
};

absl::Status Applier::LibarchiveError(std::string_view what) {
  if (!src_.status.ok())
    return src_.status;
  const char* msg = archive_error_string(a_);
  return InvalidArgument(fmt::format("{}: malformed tar: {}", what, msg ? msg : "unknown error"));
}

absl::StatusOr<int> Applier::Parent(std::string_view parent, bool create) {
  if (!cached_fd_.valid() || cached_parent_ != parent) {
    cached_fd_.reset();
    BERTH_ASSIGN_OR_RETURN(cached_fd_, OpenDirBeneath(root_.get(), parent, create));
    cached_parent_ = std::string(parent);
  }
  return cached_fd_.get();
}

absl::Status Applier::Run() {
  for (;;) {
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(a_, &e);
    if (r == ARCHIVE_EOF)
      break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return LibarchiveError("layer");
    const char* raw = archive_entry_pathname(e);
    if (raw == nullptr)
      raw = archive_entry_pathname_utf8(e);
    if (raw == nullptr)
      return InvalidArgument("layer: an entry has no readable name");
    src_.last_entry_size = archive_entry_size(e);
    absl::StatusOr<std::string> path = CleanEntryPath(raw);
    if (!path.ok())
      return Annotate(path.status(), "layer");
    if (absl::Status st = Entry(e, *path); !st.ok())
      return Annotate(st, fmt::format("layer entry {:?}", *path));
  }
  return SetDirTimes();
}

absl::Status Applier::Entry(struct archive_entry* e, const std::string& path) {
  if (path.empty()) {  // the root itself: only its metadata
    if (archive_entry_filetype(e) != AE_IFDIR)
      return InvalidArgument("the root of the layer must be a directory");
    return MakeDir(e, path, root_.get(), "");
  }
  auto [parent, base] = SplitPath(path);
  if (base.substr(0, kWhiteoutPrefix.size()) == kWhiteoutPrefix)
    return Whiteout(parent, base);
  if (parent.substr(0, kWhiteoutMetaPrefix.size()) == kWhiteoutMetaPrefix ||
      parent.find(kWhiteoutMetaInside) != std::string_view::npos)
    return absl::OkStatus();  // inside aufs metadata (.wh..wh.plnk/…): not part of the tree
  BERTH_ASSIGN_OR_RETURN(int pfd, Parent(parent));
  std::string base_str(base);
  if (opts_.whiteouts == Whiteouts::kRemove)
    written_.insert(path);
  if (archive_entry_hardlink(e) != nullptr)
    return MakeHardlink(e, path, pfd, base_str);
  switch (archive_entry_filetype(e)) {
    case AE_IFDIR:
      return MakeDir(e, path, pfd, base_str);
    case AE_IFREG:
      return MakeFile(e, pfd, base_str);
    default:
      return MakeOther(e, pfd, base_str);
  }
}

absl::Status Applier::Whiteout(std::string_view parent, std::string_view base) {
  bool opaque = base == kOpaqueWhiteout;
  if (!opaque && base.substr(0, kWhiteoutMetaPrefix.size()) == kWhiteoutMetaPrefix)
    return absl::OkStatus();  // other aufs metadata (.wh..wh.plnk …): nothing to do
  std::string name(base.substr(kWhiteoutPrefix.size()));
  if (!opaque && (name.empty() || name == "." || name == ".."))
    return InvalidArgument("whiteout names no entry");
  // kRemove: a whiteout in a directory that does not exist has nothing to remove (and must
  // not make the directory). kOverlay: the upperdir needs the directory to hold it.
  bool remove = opts_.whiteouts == Whiteouts::kRemove;
  absl::StatusOr<int> parent_fd = Parent(parent, /*create=*/!remove);
  if (remove && absl::IsNotFound(parent_fd.status()))
    return absl::OkStatus();
  BERTH_ASSIGN_OR_RETURN(int pfd, std::move(parent_fd));
  if (opaque)
    return Opaque(parent, pfd);
  // Removals only ever take children of the cached parent, so the cached fd stays valid.
  BERTH_RETURN_IF_ERROR(RemoveAllAt(pfd, name));
  if (opts_.whiteouts == Whiteouts::kRemove)
    return absl::OkStatus();
  if (::mknodat(pfd, name.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0)
    return ErrnoError(errno, fmt::format("make overlay whiteout {:?}", name));
  return absl::OkStatus();
}

absl::Status Applier::Opaque(std::string_view parent, int dir_fd) {
  if (opts_.whiteouts == Whiteouts::kOverlay) {
    if (::fsetxattr(dir_fd, kOverlayOpaqueXattr, "y", 1, 0) != 0)
      return ErrnoError(errno, fmt::format("set {}", kOverlayOpaqueXattr));
    return absl::OkStatus();
  }
  // kRemove: drop everything in the directory that this layer did not write.
  UniqueFd list(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!list.valid())
    return ErrnoError(errno, "open opaque directory");
  DIR* d = ::fdopendir(list.get());
  if (d == nullptr)
    return ErrnoError(errno, "read opaque directory");
  (void)list.release();  // owned by d now
  std::vector<std::string> drop;
  while (dirent* de = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe): own DIR*
    std::string_view n(de->d_name);
    if (n == "." || n == "..")
      continue;
    std::string child = parent.empty() ? std::string(n) : fmt::format("{}/{}", parent, n);
    if (!written_.contains(child))
      drop.emplace_back(n);
  }
  ::closedir(d);
  for (const std::string& n : drop) BERTH_RETURN_IF_ERROR(RemoveAllAt(dir_fd, n));
  return absl::OkStatus();
}

// Makes room for a new entry `base`: removes what is there, unless it is a directory and
// `keep_dir` (a directory entry over an existing directory merges into it).
absl::Status Applier::Replace(int pfd, const std::string& base, bool keep_dir) {
  struct stat st;
  if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT)
      return absl::OkStatus();
    return ErrnoError(errno, "stat existing entry");
  }
  if (S_ISDIR(st.st_mode)) {
    if (keep_dir)
      return absl::OkStatus();
    return RemoveAllAt(pfd, base);
  }
  if (::unlinkat(pfd, base.c_str(), 0) != 0)
    return ErrnoError(errno, "remove existing entry");
  return absl::OkStatus();
}

absl::Status Applier::CreateOrReplace(int pfd, const std::string& base, std::string_view what,
                                      absl::FunctionRef<int()> create) {
  if (create() == 0)
    return absl::OkStatus();
  if (errno != EEXIST)
    return ErrnoError(errno, what);
  BERTH_RETURN_IF_ERROR(Replace(pfd, base, /*keep_dir=*/false));
  if (create() != 0)
    return ErrnoError(errno, what);
  return absl::OkStatus();
}

absl::Status Applier::MakeDir(struct archive_entry* e, const std::string& path, int pfd,
                              const std::string& base) {
  UniqueFd fd;
  if (base.empty()) {
    fd = UniqueFd(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
  } else {
    // Create first, look only when something is there (one syscall in the common case).
    if (::mkdirat(pfd, base.c_str(), 0700) != 0) {
      if (errno != EEXIST)
        return ErrnoError(errno, "mkdir");
      BERTH_RETURN_IF_ERROR(Replace(pfd, base, /*keep_dir=*/true));  // drops a non-directory
      if (::mkdirat(pfd, base.c_str(), 0700) != 0 && errno != EEXIST)
        return ErrnoError(errno, "mkdir");
    }
    fd = UniqueFd(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  }
  if (!fd.valid())
    return ErrnoError(errno, "open directory");
  BERTH_RETURN_IF_ERROR(Meta(e, fd.get(), -1, ""));
  DirTimes t{path, {}};
  t.times[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
  t.times[0] = archive_entry_atime_is_set(e)
                   ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)}
                   : t.times[1];
  dir_times_.push_back(std::move(t));
  return absl::OkStatus();
}

absl::Status Applier::MakeFile(struct archive_entry* e, int pfd, const std::string& base) {
  constexpr int kCreate = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd fd(::openat(pfd, base.c_str(), kCreate, 0600));
  if (!fd.valid() && errno == EEXIST) {
    BERTH_RETURN_IF_ERROR(Replace(pfd, base, /*keep_dir=*/false));
    fd = UniqueFd(::openat(pfd, base.c_str(), kCreate, 0600));
  }
  if (!fd.valid())
    return ErrnoError(errno, "create file");
  int64_t end = 0;
  for (;;) {
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    int r = archive_read_data_block(a_, &buf, &size, &offset);
    if (r == ARCHIVE_EOF)
      break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return LibarchiveError("file data");
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
      ssize_t n = ::pwrite(fd.get(), p, size, offset);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        return ErrnoError(errno, "write file");
      }
      p += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
    end = std::max<int64_t>(end, offset);
  }
  if (end < archive_entry_size(e) && ::ftruncate(fd.get(), archive_entry_size(e)) != 0)
    return ErrnoError(errno, "extend sparse file");
  BERTH_RETURN_IF_ERROR(Meta(e, fd.get(), -1, ""));
  timespec times[2];
  times[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
  times[0] = archive_entry_atime_is_set(e)
                 ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)}
                 : times[1];
  if (::futimens(fd.get(), times) != 0)
    return ErrnoError(errno, "set times");
  return absl::OkStatus();
}

absl::Status Applier::MakeHardlink(struct archive_entry* e, const std::string& path, int pfd,
                                   const std::string& base) {
  const char* raw = archive_entry_hardlink(e);
  absl::StatusOr<std::string> target = CleanEntryPath(raw);
  if (!target.ok())
    return Annotate(target.status(), "hardlink target");
  if (target->empty())
    return InvalidArgument("hardlink target is the root directory");
  if (*target == path)
    return absl::OkStatus();
  auto [tparent, tbase] = SplitPath(*target);
  std::string tbase_str(tbase);
  absl::StatusOr<UniqueFd> tdir = OpenDirBeneath(root_.get(), tparent, /*create=*/false);
  if (!tdir.ok()) {
    if (absl::IsNotFound(tdir.status()))
      return InvalidArgument(fmt::format("hardlink target {:?} does not exist", *target));
    return Annotate(tdir.status(), fmt::format("hardlink target {:?}", *target));
  }
  struct stat tst;
  if (::fstatat(tdir->get(), tbase_str.c_str(), &tst, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT)
      return InvalidArgument(fmt::format("hardlink target {:?} does not exist", *target));
    return ErrnoError(errno, fmt::format("stat hardlink target {:?}", *target));
  }
  if (S_ISDIR(tst.st_mode))
    return InvalidArgument(fmt::format("hardlink target {:?} is a directory", *target));
  struct stat cur;
  if (::fstatat(pfd, base.c_str(), &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_dev == tst.st_dev &&
      cur.st_ino == tst.st_ino)
    return absl::OkStatus();  // already that file
  BERTH_RETURN_IF_ERROR(Replace(pfd, base, /*keep_dir=*/false));
  if (::linkat(tdir->get(), tbase_str.c_str(), pfd, base.c_str(), 0) != 0)
    return ErrnoError(errno, fmt::format("link to {:?}", *target));
  return absl::OkStatus();
}

absl::Status Applier::MakeOther(struct archive_entry* e, int pfd, const std::string& base) {
  mode_t type = archive_entry_filetype(e);
  if ((type == AE_IFCHR || type == AE_IFBLK) && !opts_.allow_devices)
    return InvalidArgument(fmt::format("{} device nodes are not allowed here",
                                       type == AE_IFCHR ? "character" : "block"));
  if (type == AE_IFLNK) {
    const char* target = archive_entry_symlink(e);
    if (target == nullptr)
      target = archive_entry_symlink_utf8(e);
    if (target == nullptr || *target == '\0')
      return InvalidArgument("symlink has no target");
    if (std::string_view(target).size() >= PATH_MAX)
      return InvalidArgument("symlink target is longer than PATH_MAX");
    BERTH_RETURN_IF_ERROR(CreateOrReplace(pfd, base, "create symlink",
                                          [&] { return ::symlinkat(target, pfd, base.c_str()); }));
  } else if (type == AE_IFIFO || type == AE_IFCHR || type == AE_IFBLK) {
    BERTH_RETURN_IF_ERROR(CreateOrReplace(pfd, base, "create special file", [&] {
      return ::mknodat(pfd, base.c_str(), type | 0600, archive_entry_rdev(e));
    }));
  } else {
    return InvalidArgument(fmt::format("unsupported entry type {:#o}", type));
  }
  BERTH_RETURN_IF_ERROR(Meta(e, -1, pfd, base));
  timespec times[2];
  times[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
  times[0] = times[1];
  if (::utimensat(pfd, base.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoError(errno, "set times");
  return absl::OkStatus();
}

// Owner, then mode (chown clears setuid/setgid), then xattrs; through `fd` when the entry is
// open, else by name in `pfd` without following it.
absl::Status Applier::Meta(struct archive_entry* e, int fd, int pfd, const std::string& base) {
  uid_t uid = static_cast<uid_t>(archive_entry_uid(e));
  gid_t gid = static_cast<gid_t>(archive_entry_gid(e));
  int r = fd >= 0 ? ::fchown(fd, uid, gid)
                  : ::fchownat(pfd, base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
  if (r != 0 && (is_root_ || errno != EPERM))
    return ErrnoError(errno, fmt::format("chown to {}:{}", uid, gid));
  mode_t mode = archive_entry_perm(e) & 07777;
  bool is_link = archive_entry_filetype(e) == AE_IFLNK;
  if (!is_link) {
    r = fd >= 0 ? ::fchmod(fd, mode) : ::fchmodat(pfd, base.c_str(), mode, 0);
    if (r != 0)
      return ErrnoError(errno, fmt::format("chmod to {:#o}", mode));
  }
  return Xattrs(e, fd, pfd, base);
}

absl::Status Applier::Xattrs(struct archive_entry* e, int fd, int pfd, const std::string& base) {
  if (archive_entry_xattr_reset(e) == 0)
    return absl::OkStatus();
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    // overlayfs's own attributes (opaque, redirect, metacopy …) would let a layer steer the
    // overlay mount; whiteouts come only from .wh. entries.
    if (std::string_view(name).substr(0, kOverlayXattrPrefix.size()) == kOverlayXattrPrefix)
      continue;
    int r;
    if (fd >= 0) {
      r = ::fsetxattr(fd, name, value, size, 0);
    } else {  // symlinks and special files: by name, through the parent's fd
      std::string p = fmt::format("/proc/self/fd/{}/{}", pfd, base);
      r = ::lsetxattr(p.c_str(), name, value, size, 0);
    }
    if (r != 0)
      return ErrnoError(errno, fmt::format("set xattr {:?}", name));
  }
  return absl::OkStatus();
}

absl::Status Applier::SetDirTimes() {
  cached_fd_.reset();
  for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
    absl::StatusOr<UniqueFd> fd = OpenDirBeneath(root_.get(), it->path, /*create=*/false);
    if (absl::IsNotFound(fd.status()))
      continue;  // removed by a later whiteout
    if (!fd.ok())
      return Annotate(fd.status(), "set directory times");
    if (::futimens(fd->get(), it->times) != 0)
      return ErrnoError(errno, fmt::format("set times of directory {:?}", it->path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ApplyResult> ApplyLayer(const std::filesystem::path& root, ReadFn in,
                                       const ApplyOptions& opts) {
  UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) {
    if (errno == ENOENT)
      return NotFoundError("layer target directory", root.string());
    return ErrnoError(errno, fmt::format("open layer target {:?}", root.string()));
  }
  LayerReader reader(in);
  BERTH_RETURN_IF_ERROR(reader.Start());
  // Decompression and hashing run on a helper thread, a few buffers ahead of the writes.
  auto prefetch = std::make_unique<PrefetchReader>(reader);
  Source src{.reader = prefetch.get(), .status = absl::OkStatus()};
  std::unique_ptr<struct archive, ArchiveFree> a(archive_read_new());
  if (a == nullptr)
    return Internal("libarchive: cannot allocate a reader");
  archive_read_support_format_tar(a.get());
  archive_read_support_format_empty(a.get());
  if (archive_read_open(a.get(), &src, nullptr, ReadCallback, nullptr) != ARCHIVE_OK) {
    if (!src.status.ok())
      return src.status;
    return InvalidArgument(fmt::format("layer: malformed tar: {}", archive_error_string(a.get())));
  }
  Applier applier(std::move(root_fd), opts, a.get(), src);
  BERTH_RETURN_IF_ERROR(applier.Run());
  BERTH_RETURN_IF_ERROR(src.Finish());
  // Read (hash, check) whatever follows the tar's end marker; then the thread ends.
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(std::string_view rest, prefetch->Next());
    if (rest.empty())
      break;
  }
  prefetch.reset();
  return reader.Finish();
}

}  // namespace berth::archive
