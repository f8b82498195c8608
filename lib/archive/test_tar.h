#pragma once

// Test helpers for lib/archive: tar streams written with libarchive's writer (so the
// malicious corpus needs no external tools), compression through LayerWriter, and
// ReadFn/WriteFn adaptors over strings.

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

#include "lib/archive/layer.h"
#include "lib/archive/stream.h"

namespace berth::archive::testing {

struct TarEntry {
  std::string name;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  std::string data;      // regular files
  std::string symlink;   // AE_IFLNK target
  std::string hardlink;  // when set, a hardlink to this name
  int64_t uid = 0, gid = 0;
  dev_t rdev = 0;
  int64_t mtime = 1700000000;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

inline TarEntry File(std::string name, std::string data, mode_t perm = 0644) {
  TarEntry e;
  e.name = std::move(name);
  e.data = std::move(data);
  e.perm = perm;
  return e;
}

inline TarEntry Dir(std::string name, mode_t perm = 0755) {
  TarEntry e;
  e.name = std::move(name);
  e.type = AE_IFDIR;
  e.perm = perm;
  return e;
}

inline TarEntry Symlink(std::string name, std::string target) {
  TarEntry e;
  e.name = std::move(name);
  e.type = AE_IFLNK;
  e.perm = 0777;
  e.symlink = std::move(target);
  return e;
}

inline TarEntry Hardlink(std::string name, std::string target) {
  TarEntry e;
  e.name = std::move(name);
  e.hardlink = std::move(target);
  return e;
}

inline la_ssize_t AppendToString(struct archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// A PAX tar holding `entries` in order.
inline std::string MakeTar(const std::vector<TarEntry>& entries) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  archive_write_set_bytes_in_last_block(a, 1);
  EXPECT_EQ(archive_write_open(a, &out, nullptr, AppendToString, nullptr), ARCHIVE_OK);
  for (const TarEntry& t : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.name.c_str());
    archive_entry_set_filetype(e, t.type);
    archive_entry_set_perm(e, t.perm);
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, t.mtime, 0);
    for (const auto& [k, v] : t.xattrs)
      archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    if (!t.hardlink.empty())
      archive_entry_set_hardlink(e, t.hardlink.c_str());
    if (t.type == AE_IFLNK)
      archive_entry_set_symlink(e, t.symlink.c_str());
    if (t.type == AE_IFCHR || t.type == AE_IFBLK)
      archive_entry_set_rdev(e, t.rdev);
    bool has_data = t.type == AE_IFREG && t.hardlink.empty();
    archive_entry_set_size(e, has_data ? static_cast<la_int64_t>(t.data.size()) : 0);
    EXPECT_GE(archive_write_header(a, e), ARCHIVE_WARN) << archive_error_string(a);
    if (has_data && !t.data.empty()) {
      EXPECT_EQ(archive_write_data(a, t.data.data(), t.data.size()),
                static_cast<la_ssize_t>(t.data.size()));
    }
    archive_entry_free(e);
  }
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

// `tar` compressed with LayerWriter.
inline std::string Compress(const std::string& tar, Compression c) {
  std::string out;
  auto sink = [&](std::string_view b) {
    out.append(b);
    return absl::OkStatus();
  };
  LayerWriter w(c, sink);  // keeps a FunctionRef: the sink must outlive it
  EXPECT_TRUE(w.Write(tar).ok());
  EXPECT_TRUE(w.Finish().ok());
  return out;
}

// A ReadFn body over a string, handing out at most `chunk` bytes per call.
class StringSource {
 public:
  explicit StringSource(std::string data, size_t chunk = 1 << 16)
      : data_(std::move(data)), chunk_(chunk) {}

  absl::StatusOr<size_t> operator()(char* buf, size_t len) const {
    size_t n = std::min({len, chunk_, data_.size() - pos_});
    std::memcpy(buf, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t chunk_;
  mutable size_t pos_ = 0;  // FunctionRef calls a const operator()
};

inline absl::StatusOr<ApplyResult> ApplyBytes(const std::filesystem::path& root,
                                              const std::string& bytes,
                                              ApplyOptions opts = ApplyOptions()) {
  StringSource src(bytes);
  return ApplyLayer(root, src, opts);
}

}  // namespace berth::archive::testing
