#pragma once

// Plain tar files, for image archives (docker save/load, OCI archives) and container
// filesystems (export, cp): a writer of entries made from bytes or from a tree on disk, and a
// reader of entries (tar, or tar compressed with gzip, bzip2, xz or zstd, detected by
// libarchive). Layers go through layer.h instead.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "lib/archive/layer.h"

struct archive;
struct archive_entry;

namespace berth::archive {

// Writes an uncompressed PAX tar to `out`. Keeps `out` (a FunctionRef): the callable must
// outlive the writer. Not thread-safe. Errors name the entry and the cause; an error from
// `out` is returned as it was.
class TarWriter {
 public:
  explicit TarWriter(WriteFn out);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // A directory entry "name/" (mode 0755 unless given), owner 0:0, mtime `mtime`.
  absl::Status AddDirectory(std::string_view name, mode_t mode = 0755, int64_t mtime = 0);
  // A regular file with the given bytes, owner 0:0.
  absl::Status AddFile(std::string_view name, std::string_view data, mode_t mode = 0644,
                       int64_t mtime = 0);
  // A regular file whose `size` bytes follow in WriteData calls (exactly `size` of them).
  absl::Status BeginFile(std::string_view name, int64_t size, mode_t mode = 0644,
                         int64_t mtime = 0);
  absl::Status WriteData(std::string_view bytes);

  // The filesystem entry `name` in directory `dir_fd` ("" = dir_fd itself), written as
  // `tar_name`, and for a directory everything below it (children named "tar_name/child"; with
  // an empty tar_name the directory itself is not written and children are "child"). Nothing
  // is followed: symlinks are written as symlinks, and every entry is opened relative to its
  // parent's fd with O_NOFOLLOW, so the walk never leaves the tree. Mode, owner, mtime (with
  // nanoseconds), symlink targets, devices and fifos are kept, files' and directories' xattrs
  // too (xattrs.h), extra links of one inode become tar hardlinks, sockets are skipped. With `one_filesystem`, directories on another device
  // than `dir_fd`'s (mounts inside the tree, e.g. /proc of a running container) are written
  // as empty directories.
  absl::Status AddTree(int dir_fd, const std::string& name, const std::string& tar_name,
                       bool one_filesystem = false);

  // Writes the end-of-archive blocks. Call once, after the last entry.
  absl::Status Close();

 private:
  static long WriteCallback(struct archive* a, void* client, const void* buf, size_t n);
  absl::Status Open();
  absl::Status Header(std::string_view what);
  absl::Status Fail(std::string_view what);
  absl::Status TreeEntry(int dir_fd, const std::string& name, const std::string& tar_name,
                         dev_t root_dev, bool one_filesystem);
  absl::Status TreeChildren(int fd, const std::string& tar_name, dev_t root_dev,
                            bool one_filesystem);

  WriteFn out_;
  absl::Status status_;  // the first error from `out`
  struct archive* a_ = nullptr;
  struct archive_entry* e_ = nullptr;
  bool open_ = false;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

// One entry of a tar being read.
struct TarEntry {
  std::string name;  // as stored, with a leading "./" dropped
  mode_t type = 0;   // S_IFREG, S_IFDIR, S_IFLNK, …
  int64_t size = 0;  // of a regular file's data
  mode_t mode = 0;   // permission bits
};

// Reads the entries of a tar (optionally compressed) from `in`. Keeps `in`: the callable must
// outlive the reader. Errors: InvalidArgument naming `what` for a stream that is not a tar
// (or is corrupt), DataLoss for a truncated one, or what `in` returned.
class TarReader {
 public:
  TarReader(ReadFn in, std::string what);
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // The next entry, or nullopt at the end of the archive. Unread data of the previous entry
  // is skipped.
  absl::StatusOr<std::optional<TarEntry>> Next();
  // Up to `len` bytes of the current entry's data; 0 at its end.
  absl::StatusOr<size_t> Read(char* buf, size_t len);

 private:
  static long ReadCallback(struct archive* a, void* client, const void** out);
  absl::Status Fail(std::string_view what);

  ReadFn in_;
  std::string what_;
  absl::Status status_;  // the first error from `in`
  std::unique_ptr<char[]> buf_;
  struct archive* a_ = nullptr;
  bool open_ = false;
};

}  // namespace berth::archive
