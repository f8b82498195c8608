#include "lib/meta/labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <sstream>

#include "absl/status/statusor.h"
#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/stdio_uri.h"

namespace berth::meta {

namespace fs = std::filesystem;

std::string LogPath(std::string_view log_root, std::string_view ns, std::string_view id) {
  return fmt::format("{}/{}/{}.log", log_root, ns, id);
}

std::string LogUri(std::string_view path) {
  return fmt::format("file://{}?format=cri", path);
}

std::string FileUriPath(std::string_view uri) {
  absl::StatusOr<StdioUri> u = ParseStdioUri(uri, "file");  // as the shim that wrote it
  return u.ok() ? u->path : "";
}

std::string InitLayerName(std::string_view id) {
  return fmt::format("{}-init", id);
}

bool IsInitLayerOf(const Labels& snapshot_labels, std::string_view id) {
  auto it = snapshot_labels.find(kInitLayerLabel);
  return it != snapshot_labels.end() && it->second == id;
}

fs::path HostsFilePath(std::string_view state_dir, std::string_view ns, std::string_view id) {
  return fs::path(state_dir) / "hosts.d" / fmt::format("{}-{}", ns, id);
}

fs::path ResolvFilePath(std::string_view state_dir, std::string_view ns, std::string_view id) {
  return fs::path(state_dir) / "resolv.d" / fmt::format("{}-{}", ns, id);
}

std::vector<fs::path> OwnedFiles(const Labels& container_labels, std::string_view ns,
                                 std::string_view id) {
  std::vector<fs::path> out;
  if (auto it = container_labels.find(kLogUriLabel); it != container_labels.end()) {
    const fs::path path = FileUriPath(it->second);
    if (path.filename() == fmt::format("{}.log", id) && path.parent_path().filename() == ns)
      out.push_back(path);
  }
  for (auto [label, dir] :
       {std::pair{kHostsFileLabel, "hosts.d"}, {kResolvFileLabel, "resolv.d"}}) {
    auto it = container_labels.find(label);
    if (it == container_labels.end())
      continue;
    const fs::path path(it->second);
    if (path.is_absolute() && path.filename() == fmt::format("{}-{}", ns, id) &&
        path.parent_path().filename() == dir)
      out.push_back(path);
  }
  return out;
}

void RemoveOwnedFiles(const Labels& container_labels, std::string_view ns, std::string_view id) {
  for (const fs::path& path : OwnedFiles(container_labels, ns, id)) {
    std::error_code ec;
    if (fs::is_regular_file(fs::symlink_status(path, ec)))
      fs::remove(path, ec);
  }
}

absl::Status RemoveVolumeDirectory(const fs::path& dir) {
  const std::string name = dir.filename().string();
  std::string gone = (dir.parent_path() / fmt::format(".rm-{}-XXXXXX", name)).string();
  if (::mkdtemp(gone.data()) == nullptr)
    return ErrnoError(errno, fmt::format("volume {:?}: make {}", name, gone));
  if (::rename(dir.c_str(), gone.c_str()) != 0) {  // onto the new, empty directory
    const int err = errno;
    ::rmdir(gone.c_str());
    if (err == ENOENT)
      return absl::NotFoundError(fmt::format("volume {:?}: no such volume", name));
    return ErrnoError(err, fmt::format("volume {:?}: rename", name));
  }
  std::error_code ec;
  fs::remove_all(gone, ec);
  if (ec)
    return ErrnoError(ec.value(), fmt::format("volume {:?}: remove {}", name, gone));
  return absl::OkStatus();
}

absl::Status RemoveAnonymousVolumes(const Labels& container_labels, std::string_view ns) {
  auto it = container_labels.find(kAnonymousVolumesLabel);
  if (it == container_labels.end())
    return absl::OkStatus();
  std::istringstream lines(it->second);
  for (std::string line; std::getline(lines, line);) {
    const fs::path dir(line);
    const std::string name = dir.filename().string();
    const bool hex = name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) {
                       return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                     });
    std::error_code ec;
    if (!dir.is_absolute() || !hex || dir.parent_path().filename() != ns ||
        !fs::is_regular_file(fs::symlink_status(dir / kVolumeRecordFile, ec)))
      continue;  // not an anonymous volume's directory, or gone already
    if (absl::Status st = RemoveVolumeDirectory(dir); !st.ok() && !absl::IsNotFound(st))
      return st;
  }
  return absl::OkStatus();
}

}  // namespace berth::meta
