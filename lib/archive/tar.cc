#include "lib/archive/tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/unique_fd.h"
#include "lib/base/xattrs.h"

namespace berth::archive {
namespace {

constexpr size_t kReadBuffer = 1 << 20;

std::string DirName(std::string_view name) {
  std::string n(name);
  if (n.empty() || n.back() != '/')
    n += '/';
  return n;
}

std::string ChildName(const std::string& parent, const std::string& child) {
  return parent.empty() ? child : parent + "/" + child;
}

}  // namespace

TarWriter::TarWriter(WriteFn out) : out_(out) {}

TarWriter::~TarWriter() {
  if (a_ != nullptr)
    archive_write_free(a_);
  if (e_ != nullptr)
    archive_entry_free(e_);
}

long TarWriter::WriteCallback(struct archive* a, void* client, const void* buf, size_t n) {
  auto* self = static_cast<TarWriter*>(client);
  if (!self->status_.ok())
    return -1;
  absl::Status st = self->out_(std::string_view(static_cast<const char*>(buf), n));
  if (!st.ok()) {
    self->status_ = st;
    archive_set_error(a, EIO, "%s", std::string(st.message()).c_str());
    return -1;
  }
  return static_cast<long>(n);
}

absl::Status TarWriter::Fail(std::string_view what) {
  if (!status_.ok())
    return status_;
  const char* msg = a_ != nullptr ? archive_error_string(a_) : nullptr;
  return Internal(fmt::format("{}: {}", what, msg ? msg : "libarchive error"));
}

absl::Status TarWriter::Open() {
  if (open_)
    return absl::OkStatus();
  a_ = archive_write_new();
  e_ = archive_entry_new();
  if (a_ == nullptr || e_ == nullptr)
    return Internal("libarchive: cannot allocate a tar writer");
  archive_write_set_format_pax(a_);  // PAX headers keep sub-second times
  archive_write_set_bytes_per_block(a_, 64 * 1024);
  archive_write_set_bytes_in_last_block(a_, 1);
  if (archive_write_open(a_, this, nullptr, WriteCallback, nullptr) != ARCHIVE_OK)
    return Fail("open tar writer");
  open_ = true;
  return absl::OkStatus();
}

absl::Status TarWriter::Header(std::string_view what) {
  if (archive_write_header(a_, e_) < ARCHIVE_WARN)
    return Fail(fmt::format("write tar header of {:?}", what));
  return absl::OkStatus();
}

absl::Status TarWriter::AddDirectory(std::string_view name, mode_t mode, int64_t mtime) {
  BERTH_RETURN_IF_ERROR(Open());
  archive_entry_clear(e_);
  archive_entry_set_pathname(e_, DirName(name).c_str());
  archive_entry_set_filetype(e_, AE_IFDIR);
  archive_entry_set_perm(e_, mode & 07777);
  archive_entry_set_mtime(e_, mtime, 0);
  return Header(name);
}

absl::Status TarWriter::BeginFile(std::string_view name, int64_t size, mode_t mode, int64_t mtime) {
  BERTH_RETURN_IF_ERROR(Open());
  archive_entry_clear(e_);
  archive_entry_set_pathname(e_, std::string(name).c_str());
  archive_entry_set_filetype(e_, AE_IFREG);
  archive_entry_set_perm(e_, mode & 07777);
  archive_entry_set_size(e_, size);
  archive_entry_set_mtime(e_, mtime, 0);
  return Header(name);
}

absl::Status TarWriter::WriteData(std::string_view bytes) {
  while (!bytes.empty()) {
    la_ssize_t n = archive_write_data(a_, bytes.data(), bytes.size());
    if (n <= 0)
      return Fail("write tar data");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status TarWriter::AddFile(std::string_view name, std::string_view data, mode_t mode,
                                int64_t mtime) {
  BERTH_RETURN_IF_ERROR(BeginFile(name, static_cast<int64_t>(data.size()), mode, mtime));
  return WriteData(data);
}

absl::Status TarWriter::AddTree(int dir_fd, const std::string& name, const std::string& tar_name,
                                bool one_filesystem) {
  BERTH_RETURN_IF_ERROR(Open());
  struct stat root;
  if (::fstat(dir_fd, &root) != 0)
    return ErrnoError(errno, "stat the tree's directory");
  return TreeEntry(dir_fd, name, tar_name, root.st_dev, one_filesystem);
}

absl::Status TarWriter::TreeEntry(int dir_fd, const std::string& name, const std::string& tar_name,
                                  dev_t root_dev, bool one_filesystem) {
  struct stat st;
  int flags = AT_SYMLINK_NOFOLLOW | (name.empty() ? AT_EMPTY_PATH : 0);
  if (::fstatat(dir_fd, name.c_str(), &st, flags) != 0)
    return ErrnoError(errno, fmt::format("stat {:?}", tar_name));
  if (S_ISSOCK(st.st_mode))
    return absl::OkStatus();
  const bool dir = S_ISDIR(st.st_mode);
  const bool write_self = !(dir && tar_name.empty());
  archive_entry_clear(e_);
  archive_entry_set_pathname(e_, dir ? DirName(tar_name).c_str() : tar_name.c_str());
  archive_entry_set_mode(e_, st.st_mode);
  archive_entry_set_uid(e_, st.st_uid);
  archive_entry_set_gid(e_, st.st_gid);
  archive_entry_set_mtime(e_, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  UniqueFd fd;
  if (S_ISREG(st.st_mode)) {
    auto key = std::make_pair(st.st_dev, st.st_ino);
    if (st.st_nlink > 1) {
      auto it = links_.find(key);
      if (it != links_.end()) {
        archive_entry_set_hardlink(e_, it->second.c_str());
        archive_entry_set_size(e_, 0);
        return Header(tar_name);
      }
      links_[key] = tar_name;
    }
    if (name.empty())  // the entry is dir_fd itself (an O_PATH fd may not read): reopen it
      fd.reset(::open(fmt::format("/proc/self/fd/{}", dir_fd).c_str(), O_RDONLY | O_CLOEXEC));
    else
      fd.reset(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid())
      return ErrnoError(errno, fmt::format("open {:?}", tar_name));
    archive_entry_set_size(e_, st.st_size);
  } else if (S_ISLNK(st.st_mode)) {
    std::string target(PATH_MAX + 1, '\0');
    ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
    if (n < 0)
      return ErrnoError(errno, fmt::format("read link {:?}", tar_name));
    target.resize(static_cast<size_t>(n));
    archive_entry_set_symlink(e_, target.c_str());
  } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    archive_entry_set_rdev(e_, st.st_rdev);
  }
  // A directory on another filesystem (one_filesystem) is written empty, and without its xattrs.
  const bool descend = dir && !(one_filesystem && st.st_dev != root_dev);
  UniqueFd dfd;
  if (descend) {
    dfd.reset(::openat(dir_fd, name.empty() ? "." : name.c_str(),
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dfd.valid())
      return ErrnoError(errno, fmt::format("open directory {:?}", tar_name));
  }
  if (write_self) {
    // Files' and directories' xattrs (file capabilities, say), as Docker's export keeps them.
    if (int xfd = fd.valid() ? fd.get() : dfd.get(); xfd >= 0) {
      BERTH_ASSIGN_OR_RETURN(Xattrs xattrs, ReadXattrs(xfd, tar_name, kOverlayXattrPrefix));
      for (const auto& [xname, value] : xattrs)
        archive_entry_xattr_add_entry(e_, xname.c_str(), value.data(), value.size());
    }
    BERTH_RETURN_IF_ERROR(Header(tar_name));
  }
  if (fd.valid()) {
    std::vector<char> buf(kReadBuffer);
    for (int64_t left = st.st_size; left > 0;) {
      ssize_t n =
          ::read(fd.get(), buf.data(),
                 static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(buf.size()))));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return ErrnoError(errno, fmt::format("read {:?}", tar_name));
      if (n == 0) {  // shrank while we read: pad with zeros, as tar does
        std::fill(buf.begin(), buf.end(), 0);
        n = static_cast<ssize_t>(std::min<int64_t>(left, static_cast<int64_t>(buf.size())));
      }
      BERTH_RETURN_IF_ERROR(WriteData(std::string_view(buf.data(), static_cast<size_t>(n))));
      left -= n;
    }
  }
  if (!descend)
    return absl::OkStatus();
  return TreeChildren(dfd.get(), tar_name, root_dev, one_filesystem);
}

absl::Status TarWriter::TreeChildren(int fd, const std::string& tar_name, dev_t root_dev,
                                     bool one_filesystem) {
  UniqueFd list(::dup(fd));
  if (!list.valid())
    return ErrnoError(errno, "dup");
  DIR* d = ::fdopendir(list.get());
  if (d == nullptr)
    return ErrnoError(errno, fmt::format("list {:?}", tar_name));
  (void)list.release();
  std::vector<std::string> names;
  while (struct dirent* de = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe): one DIR per call
    std::string n = de->d_name;
    if (n != "." && n != "..")
      names.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names)
    BERTH_RETURN_IF_ERROR(TreeEntry(fd, n, ChildName(tar_name, n), root_dev, one_filesystem));
  return absl::OkStatus();
}

absl::Status TarWriter::Close() {
  BERTH_RETURN_IF_ERROR(Open());
  if (archive_write_close(a_) != ARCHIVE_OK)
    return Fail("finish tar");
  return status_;
}

TarReader::TarReader(ReadFn in, std::string what)
    : in_(in), what_(std::move(what)), buf_(new char[kReadBuffer]) {}

TarReader::~TarReader() {
  if (a_ != nullptr)
    archive_read_free(a_);
}

long TarReader::ReadCallback(struct archive* a, void* client, const void** out) {
  auto* self = static_cast<TarReader*>(client);
  absl::StatusOr<size_t> n = self->in_(self->buf_.get(), kReadBuffer);
  if (!n.ok()) {
    self->status_ = n.status();
    archive_set_error(a, EIO, "%s", std::string(n.status().message()).c_str());
    return -1;
  }
  *out = self->buf_.get();
  return static_cast<long>(*n);
}

absl::Status TarReader::Fail(std::string_view what) {
  if (!status_.ok())
    return status_;
  const char* msg = archive_error_string(a_);
  std::string m = msg ? msg : "unknown error";
  bool truncated = m.find("runcated") != std::string::npos ||
                   m.find("nexpected EOF") != std::string::npos ||
                   m.find("premature") != std::string::npos;
  std::string text = fmt::format("{}: {}: {}", what_, what, m);
  return truncated ? absl::DataLossError(text) : InvalidArgument(text);
}

absl::StatusOr<std::optional<TarEntry>> TarReader::Next() {
  if (!open_) {
    a_ = archive_read_new();
    if (a_ == nullptr)
      return Internal("libarchive: cannot allocate a tar reader");
    archive_read_support_filter_all(a_);
    archive_read_support_format_tar(a_);
    archive_read_support_format_gnutar(a_);
    if (archive_read_open(a_, this, nullptr, ReadCallback, nullptr) != ARCHIVE_OK)
      return Fail("not a tar archive");
    open_ = true;
  }
  struct archive_entry* e = nullptr;
  int r = archive_read_next_header(a_, &e);
  if (r == ARCHIVE_EOF)
    return std::nullopt;
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
    return Fail("malformed tar");
  TarEntry out;
  const char* name = archive_entry_pathname(e);
  out.name = name ? name : "";
  while (out.name.starts_with("./")) out.name.erase(0, 2);
  out.type = archive_entry_filetype(e);
  out.size = archive_entry_size(e);
  out.mode = archive_entry_perm(e);
  return out;
}

absl::StatusOr<size_t> TarReader::Read(char* buf, size_t len) {
  la_ssize_t n = archive_read_data(a_, buf, len);
  if (n < 0)
    return Fail("read entry data");
  return static_cast<size_t>(n);
}

}  // namespace berth::archive
