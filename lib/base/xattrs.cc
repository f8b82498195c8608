#include "lib/base/xattrs.h"

#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>

#include "fmt/format.h"

#include "lib/base/status.h"

namespace berth {
namespace {

// `list(buf, size)` and `get(name, buf, size)` as llistxattr and lgetxattr on one entry.
template <typename List, typename Get>
absl::StatusOr<Xattrs> Read(const List& list, const Get& get, std::string_view what,
                            std::string_view skip_prefix) {
  Xattrs out;
  ssize_t n = list(nullptr, 0);
  if (n < 0) {
    if (errno == ENOTSUP)
      return out;
    return ErrnoError(errno, fmt::format("list xattrs of {:?}", what));
  }
  std::string names(static_cast<size_t>(n), '\0');
  n = list(names.data(), names.size());
  if (n < 0)
    return ErrnoError(errno, fmt::format("list xattrs of {:?}", what));
  names.resize(static_cast<size_t>(n));
  for (size_t pos = 0; pos < names.size();) {
    std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (name.empty() || (!skip_prefix.empty() && name.starts_with(skip_prefix)))
      continue;
    ssize_t vn = get(name.c_str(), nullptr, 0);
    if (vn < 0) {
      if (errno == ENODATA)
        continue;  // removed since it was listed
      return ErrnoError(errno, fmt::format("read xattr {:?} of {:?}", name, what));
    }
    std::string value(static_cast<size_t>(vn), '\0');
    vn = get(name.c_str(), value.data(), value.size());
    if (vn < 0)
      return ErrnoError(errno, fmt::format("read xattr {:?} of {:?}", name, what));
    value.resize(static_cast<size_t>(vn));
    out.emplace_back(std::move(name), std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

absl::StatusOr<Xattrs> ReadXattrs(const std::string& path, std::string_view skip_prefix,
                                  std::string_view what) {
  return Read([&](char* buf, size_t size) { return ::llistxattr(path.c_str(), buf, size); },
              [&](const char* name, void* buf, size_t size) {
                return ::lgetxattr(path.c_str(), name, buf, size);
              },
              what.empty() ? std::string_view(path) : what, skip_prefix);
}

absl::StatusOr<Xattrs> ReadXattrs(int fd, std::string_view what, std::string_view skip_prefix) {
  return Read(
      [&](char* buf, size_t size) { return ::flistxattr(fd, buf, size); },
      [&](const char* xattr, void* buf, size_t size) { return ::fgetxattr(fd, xattr, buf, size); },
      what, skip_prefix);
}

}  // namespace berth
