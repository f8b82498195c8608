// WriteDiff and WriteOverlayUpperDiff: walk the trees in sorted order and write tar entries
// with libarchive's PAX writer into LayerWriter (compression and digests).

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fmt/format.h"

#include "lib/archive/layer.h"
#include "lib/archive/stream.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/unique_fd.h"
#include "lib/base/xattrs.h"

namespace berth::archive {
namespace {

namespace fs = std::filesystem;

constexpr char kOverlayOpaqueXattr[] = "trusted.overlay.opaque";

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(path.c_str()), ::closedir);
  if (d == nullptr)
    return ErrnoError(errno, fmt::format("read directory {:?}", path));
  std::vector<std::string> out;
  while (dirent* e = ::readdir(d.get())) {  // NOLINT(concurrency-mt-unsafe): own DIR*
    std::string_view n(e->d_name);
    if (n != "." && n != "..")
      out.emplace_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<struct stat> Lstat(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0)
    return ErrnoError(errno, fmt::format("stat {:?}", path));
  return st;
}

absl::StatusOr<std::string> ReadLink(const std::string& path) {
  std::string buf(PATH_MAX, '\0');
  ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
  if (n < 0)
    return ErrnoError(errno, fmt::format("read symlink {:?}", path));
  buf.resize(static_cast<size_t>(n));
  return buf;
}

// True when the two regular files hold the same bytes.
absl::StatusOr<bool> SameContent(const std::string& a, const std::string& b) {
  UniqueFd fa(::open(a.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  UniqueFd fb(::open(b.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fa.valid() || !fb.valid())
    return ErrnoError(errno, fmt::format("open {:?} or {:?}", a, b));
  std::vector<char> ba(1 << 16), bb(1 << 16);
  for (;;) {
    ssize_t na = ::read(fa.get(), ba.data(), ba.size());
    if (na < 0)
      return ErrnoError(errno, fmt::format("read {:?}", a));
    size_t got = 0;
    while (got < static_cast<size_t>(na)) {
      ssize_t nb = ::read(fb.get(), bb.data() + got, static_cast<size_t>(na) - got);
      if (nb < 0)
        return ErrnoError(errno, fmt::format("read {:?}", b));
      if (nb == 0)
        return false;
      got += static_cast<size_t>(nb);
    }
    if (std::memcmp(ba.data(), bb.data(), got) != 0)
      return false;
    if (na == 0) {
      char c;
      return ::read(fb.get(), &c, 1) == 0;
    }
  }
}

struct Node {
  std::string rel;   // name in the layer, "a/b"
  std::string full;  // path on disk
  struct stat st;
};

// Writes tar entries; owns the libarchive writer.
class TarOut {
 public:
  TarOut(Compression c, WriteFn out) : layer_(c, out), async_(layer_) {}

  ~TarOut() {
    abandoned_ = true;  // archive_write_free closes an open writer: write nothing more
    if (a_ != nullptr)
      archive_write_free(a_);
    if (e_ != nullptr)
      archive_entry_free(e_);
  }

  absl::Status Open();
  // The entry at n.full named n.rel (hardlinks to an earlier entry of the same inode).
  absl::Status Entry(const Node& n);
  // An empty regular file, mode 0, owner 0:0, mtime 0 (whiteouts and opaque markers).
  absl::Status Marker(const std::string& rel);
  absl::StatusOr<DiffResult> Close();

 private:
  static la_ssize_t WriteCallback(struct archive*, void* client, const void* buf, size_t n);
  absl::Status Header(const std::string& what);
  absl::Status Data(const Node& n);
  absl::Status Fail(const std::string& what);

  LayerWriter layer_;
  AsyncLayerWriter async_;  // compresses, hashes and calls `out` on its own thread
  absl::Status status_;
  bool abandoned_ = false;
  struct archive* a_ = nullptr;
  struct archive_entry* e_ = nullptr;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  Buffer buf_{kStreamBufferSize};
};

la_ssize_t TarOut::WriteCallback(struct archive* a, void* client, const void* buf, size_t n) {
  auto* self = static_cast<TarOut*>(client);
  if (self->abandoned_)
    return -1;
  absl::Status st = self->async_.Write(std::string_view(static_cast<const char*>(buf), n));
  if (!st.ok()) {
    self->status_ = st;
    archive_set_error(a, EIO, "%s", std::string(st.message()).c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

absl::Status TarOut::Fail(const std::string& what) {
  if (!status_.ok())
    return status_;
  const char* msg = archive_error_string(a_);
  return Internal(fmt::format("{}: {}", what, msg ? msg : "libarchive error"));
}

absl::Status TarOut::Open() {
  a_ = archive_write_new();
  e_ = archive_entry_new();
  if (a_ == nullptr || e_ == nullptr)
    return Internal("libarchive: cannot allocate a writer");
  archive_write_set_format_pax(a_);
  // Block output in 64 KiB for fewer callbacks, without padding the end past the trailer.
  archive_write_set_bytes_per_block(a_, 64 * 1024);
  archive_write_set_bytes_in_last_block(a_, 1);
  if (archive_write_open(a_, this, nullptr, WriteCallback, nullptr) != ARCHIVE_OK)
    return Fail("open tar writer");
  return absl::OkStatus();
}

absl::Status TarOut::Header(const std::string& what) {
  if (archive_write_header(a_, e_) < ARCHIVE_WARN)
    return Fail(fmt::format("write tar header of {:?}", what));
  return absl::OkStatus();
}

absl::Status TarOut::Marker(const std::string& rel) {
  archive_entry_clear(e_);
  archive_entry_set_pathname(e_, rel.c_str());
  archive_entry_set_filetype(e_, AE_IFREG);
  archive_entry_set_perm(e_, 0);
  archive_entry_set_size(e_, 0);
  archive_entry_set_mtime(e_, 0, 0);
  return Header(rel);
}

absl::Status TarOut::Entry(const Node& n) {
  const struct stat& st = n.st;
  if (S_ISSOCK(st.st_mode))
    return absl::OkStatus();  // tar has no sockets; a socket is runtime state anyway
  archive_entry_clear(e_);
  bool dir = S_ISDIR(st.st_mode);
  archive_entry_set_pathname(e_, dir ? (n.rel + "/").c_str() : n.rel.c_str());
  archive_entry_set_mode(e_, st.st_mode);
  archive_entry_set_uid(e_, st.st_uid);
  archive_entry_set_gid(e_, st.st_gid);
  archive_entry_set_mtime(e_, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  BERTH_ASSIGN_OR_RETURN(Xattrs xattrs, ReadXattrs(n.full, kOverlayXattrPrefix));
  for (const auto& [name, value] : xattrs)
    archive_entry_xattr_add_entry(e_, name.c_str(), value.data(), value.size());
  if (!dir && st.st_nlink > 1) {
    auto [it, first] = links_.try_emplace({st.st_dev, st.st_ino}, n.rel);
    if (!first) {
      archive_entry_set_hardlink(e_, it->second.c_str());
      archive_entry_set_size(e_, 0);
      return Header(n.rel);
    }
  }
  if (S_ISLNK(st.st_mode)) {
    BERTH_ASSIGN_OR_RETURN(std::string target, ReadLink(n.full));
    archive_entry_set_symlink(e_, target.c_str());
  } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    archive_entry_set_rdev(e_, st.st_rdev);
  } else if (S_ISREG(st.st_mode)) {
    archive_entry_set_size(e_, st.st_size);
  }
  BERTH_RETURN_IF_ERROR(Header(n.rel));
  return S_ISREG(st.st_mode) ? Data(n) : absl::OkStatus();
}

absl::Status TarOut::Data(const Node& n) {
  UniqueFd fd(::open(n.full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("open {:?}", n.full));
  int64_t left = n.st.st_size;
  while (left > 0) {
    ssize_t r =
        ::read(fd.get(), buf_.data(),
               static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(buf_.size()))));
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return ErrnoError(errno, fmt::format("read {:?}", n.full));
    }
    if (r == 0)
      return FailedPrecondition(fmt::format("file {:?} shrank while being archived", n.full));
    if (archive_write_data(a_, buf_.data(), static_cast<size_t>(r)) < 0)
      return Fail(fmt::format("write data of {:?}", n.rel));
    left -= r;
  }
  return absl::OkStatus();
}

absl::StatusOr<DiffResult> TarOut::Close() {
  if (archive_write_close(a_) != ARCHIVE_OK)
    return Fail("finish tar stream");
  return async_.Finish();
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// The lower→upper comparison, one directory at a time.
class Differ {
 public:
  Differ(std::string lower, std::string upper, TarOut& out)
      : lower_(std::move(lower)), upper_(std::move(upper)), out_(out) {}

  absl::Status Dir(const std::string& rel, bool lower_is_dir);

 private:
  absl::Status Flush();  // writes the parents not written yet
  absl::Status Emit(const Node& n);
  absl::Status Child(const std::string& rel, bool in_upper, bool in_lower);
  absl::StatusOr<bool> Same(const Node& u, const Node& l);

  std::string lower_, upper_;
  TarOut& out_;
  std::vector<std::pair<Node, bool>> parents_;  // the directories being walked, written?
};

absl::Status Differ::Flush() {
  for (auto& [node, written] : parents_) {
    if (!written && !node.rel.empty())
      BERTH_RETURN_IF_ERROR(out_.Entry(node));
    written = true;
  }
  return absl::OkStatus();
}

absl::Status Differ::Emit(const Node& n) {
  BERTH_RETURN_IF_ERROR(Flush());
  return out_.Entry(n);
}

absl::StatusOr<bool> Differ::Same(const Node& u, const Node& l) {
  const struct stat &a = u.st, &b = l.st;
  if (a.st_mode != b.st_mode || a.st_uid != b.st_uid || a.st_gid != b.st_gid ||
      a.st_mtim.tv_sec != b.st_mtim.tv_sec || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec)
    return false;
  if ((S_ISCHR(a.st_mode) || S_ISBLK(a.st_mode)) && a.st_rdev != b.st_rdev)
    return false;
  if (S_ISREG(a.st_mode) && a.st_size != b.st_size)
    return false;
  BERTH_ASSIGN_OR_RETURN(Xattrs xa, ReadXattrs(u.full, kOverlayXattrPrefix));
  BERTH_ASSIGN_OR_RETURN(Xattrs xb, ReadXattrs(l.full, kOverlayXattrPrefix));
  if (xa != xb)
    return false;
  if (S_ISLNK(a.st_mode)) {
    BERTH_ASSIGN_OR_RETURN(std::string ta, ReadLink(u.full));
    BERTH_ASSIGN_OR_RETURN(std::string tb, ReadLink(l.full));
    return ta == tb;
  }
  // Whole-second mtimes (e.g. from a tar without PAX times) cannot tell edits apart.
  if (S_ISREG(a.st_mode) && a.st_mtim.tv_nsec == 0)
    return SameContent(u.full, l.full);
  return true;
}

absl::Status Differ::Child(const std::string& rel, bool in_upper, bool in_lower) {
  if (!in_upper) {
    BERTH_RETURN_IF_ERROR(Flush());
    size_t slash = rel.rfind('/');
    std::string wh = slash == std::string::npos
                         ? ".wh." + rel
                         : rel.substr(0, slash + 1) + ".wh." + rel.substr(slash + 1);
    return out_.Marker(wh);
  }
  Node u{rel, upper_ + "/" + rel, {}};
  BERTH_ASSIGN_OR_RETURN(u.st, Lstat(u.full));
  bool lower_dir = false, same = false;
  if (in_lower) {
    Node l{rel, lower_ + "/" + rel, {}};
    BERTH_ASSIGN_OR_RETURN(l.st, Lstat(l.full));
    lower_dir = S_ISDIR(l.st.st_mode);
    BERTH_ASSIGN_OR_RETURN(same, Same(u, l));
  }
  if (!S_ISDIR(u.st.st_mode))
    return same ? absl::OkStatus() : Emit(u);
  if (!same)
    BERTH_RETURN_IF_ERROR(Emit(u));
  parents_.emplace_back(std::move(u), !same);
  absl::Status st = Dir(rel, lower_dir);
  parents_.pop_back();
  return st;
}

absl::Status Differ::Dir(const std::string& rel, bool lower_is_dir) {
  std::string up = rel.empty() ? upper_ : upper_ + "/" + rel;
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> un, ListDir(up));
  std::vector<std::string> ln;
  if (lower_is_dir) {
    BERTH_ASSIGN_OR_RETURN(ln, ListDir(rel.empty() ? lower_ : lower_ + "/" + rel));
  }
  size_t i = 0, j = 0;
  while (i < un.size() || j < ln.size()) {
    int cmp = i == un.size() ? 1 : j == ln.size() ? -1 : un[i].compare(ln[j]);
    const std::string& name = cmp <= 0 ? un[i] : ln[j];
    BERTH_RETURN_IF_ERROR(Child(Join(rel, name), cmp <= 0, cmp >= 0));
    if (cmp <= 0)
      ++i;
    if (cmp >= 0)
      ++j;
  }
  return absl::OkStatus();
}

// Every entry of an overlay upperdir, with overlay whiteouts turned into OCI ones.
absl::Status UpperDir(const std::string& upper, const std::string& rel, TarOut& out) {
  std::string dir = rel.empty() ? upper : upper + "/" + rel;
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  for (const std::string& name : names) {
    Node n{Join(rel, name), Join(dir, name), {}};
    BERTH_ASSIGN_OR_RETURN(n.st, Lstat(n.full));
    if (S_ISCHR(n.st.st_mode) && n.st.st_rdev == 0) {
      BERTH_RETURN_IF_ERROR(out.Marker(Join(rel, ".wh." + name)));
      continue;
    }
    BERTH_RETURN_IF_ERROR(out.Entry(n));
    if (!S_ISDIR(n.st.st_mode))
      continue;
    char v[4];
    ssize_t vn = ::lgetxattr(n.full.c_str(), kOverlayOpaqueXattr, v, sizeof(v));
    if (vn == 1 && v[0] == 'y')
      BERTH_RETURN_IF_ERROR(out.Marker(n.rel + "/.wh..wh..opq"));
    BERTH_RETURN_IF_ERROR(UpperDir(upper, n.rel, out));
  }
  return absl::OkStatus();
}

absl::Status CheckDir(const fs::path& p, std::string_view what) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return NotFoundError(what, p.string());
    return ErrnoError(errno, fmt::format("stat {} {:?}", what, p.string()));
  }
  if (!S_ISDIR(st.st_mode))
    return InvalidArgument(fmt::format("{} {:?} is not a directory", what, p.string()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DiffResult> WriteDiff(const fs::path& lower, const fs::path& upper, Compression c,
                                     WriteFn out) {
  BERTH_RETURN_IF_ERROR(CheckDir(lower, "lower tree"));
  BERTH_RETURN_IF_ERROR(CheckDir(upper, "upper tree"));
  TarOut tar(c, out);
  BERTH_RETURN_IF_ERROR(tar.Open());
  Differ differ(lower.string(), upper.string(), tar);
  BERTH_RETURN_IF_ERROR(differ.Dir("", /*lower_is_dir=*/true));
  return tar.Close();
}

absl::StatusOr<DiffResult> WriteOverlayUpperDiff(const fs::path& upperdir, Compression c,
                                                 WriteFn out) {
  BERTH_RETURN_IF_ERROR(CheckDir(upperdir, "overlay upperdir"));
  TarOut tar(c, out);
  BERTH_RETURN_IF_ERROR(tar.Open());
  BERTH_RETURN_IF_ERROR(UpperDir(upperdir.string(), "", tar));
  return tar.Close();
}

}  // namespace berth::archive
