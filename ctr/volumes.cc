#include "ctr/volumes.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "absl/cleanup/cleanup.h"
#include "fmt/chrono.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "ctr/config.h"
#include "ctr/containers.h"
#include "ctr/text.h"
#include "lib/base/files.h"
#include "lib/base/labels.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/meta/labels.h"

namespace berth::ctr {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr char kDataDir[] = "_data";

absl::Status MakeDir(const fs::path& p, mode_t mode) {
  if (::mkdir(p.c_str(), mode) != 0 && errno != EEXIST)
    return ErrnoError(errno, fmt::format("mkdir {}", p.string()));
  return absl::OkStatus();
}

absl::StatusOr<Volume> ReadVolume(const fs::path& dir, const std::string& name) {
  absl::StatusOr<std::string> text = ReadWholeFile(dir / meta::kVolumeRecordFile);
  if (absl::IsNotFound(text.status()))
    return absl::NotFoundError(fmt::format("volume {:?}: no such volume", name));
  if (!text.ok())
    return Annotate(text.status(), fmt::format("volume {:?}", name));
  json doc = json::parse(*text, nullptr, false);
  if (!doc.is_object())
    return Internal(fmt::format("volume {:?}: {} is not a JSON object", name,
                                (dir / meta::kVolumeRecordFile).string()));
  Volume v;
  v.name = name;
  v.mountpoint = dir / kDataDir;
  v.created_at = doc.value("CreatedAt", "");
  v.anonymous = doc.value("Anonymous", false);
  if (auto it = doc.find("Labels"); it != doc.end() && it->is_object())
    v.labels = it->get<std::map<std::string, std::string>>();
  return v;
}

}  // namespace

absl::Status ValidateVolumeName(const std::string& name) {
  auto ok = [](char c, bool first) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           (!first && (c == '_' || c == '.' || c == '-'));
  };
  bool valid = name.size() >= 2 && name.size() <= 255;
  for (size_t i = 0; valid && i < name.size(); ++i) valid = ok(name[i], i == 0);
  if (!valid)
    return InvalidArgument(fmt::format(
        "volume name {:?}: want [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a host path must be absolute)", name));
  return absl::OkStatus();
}

VolumeStore::VolumeStore(fs::path root, std::string ns) : root_(std::move(root) / ns) {}

fs::path VolumeStore::Dir(const std::string& name) const {
  return root_ / name;
}

absl::StatusOr<Volume> VolumeStore::Create(const std::string& requested,
                                           const std::map<std::string, std::string>& labels) {
  const bool anonymous = requested.empty();
  const std::string name = anonymous ? NewContainerId() : requested;
  BERTH_RETURN_IF_ERROR(ValidateVolumeName(name));
  BERTH_RETURN_IF_ERROR(Annotate(ValidateLabels(labels), fmt::format("volume {:?}", name)));
  std::error_code ec;
  fs::create_directories(root_.parent_path().parent_path(), ec);  // /var/lib/berth, say
  BERTH_RETURN_IF_ERROR(MakeDir(root_.parent_path(), 0700));      // only root looks inside
  BERTH_RETURN_IF_ERROR(MakeDir(root_, 0700));
  // Made aside and renamed into place, so that a volume is whole or absent, and two creates of
  // one name cannot both win.
  const fs::path tmp = root_ / fmt::format(".new-{}-{}", name, NewContainerId().substr(0, 8));
  absl::Cleanup drop = [&] { fs::remove_all(tmp, ec); };
  BERTH_RETURN_IF_ERROR(MakeDir(tmp, 0755));
  BERTH_RETURN_IF_ERROR(MakeDir(tmp / kDataDir, 0755));
  const std::string created = fmt::format(
      "{:%Y-%m-%dT%H:%M:%SZ}",
      fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
  json record = {
      {"Name", name}, {"Labels", labels}, {"CreatedAt", created}, {"Anonymous", anonymous}};
  BERTH_RETURN_IF_ERROR(ReplaceFile(tmp / meta::kVolumeRecordFile, record.dump() + "\n", 0644));
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, Dir(name).c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST)
      return AlreadyExistsError("volume", name);
    return ErrnoError(errno, fmt::format("volume {:?}: rename {} into place", name, tmp.string()));
  }
  std::move(drop).Cancel();
  return Volume{name, Dir(name) / kDataDir, labels, created, anonymous};
}

absl::StatusOr<Volume> VolumeStore::Get(const std::string& name) const {
  BERTH_RETURN_IF_ERROR(ValidateVolumeName(name));
  return ReadVolume(Dir(name), name);
}

absl::StatusOr<std::vector<Volume>> VolumeStore::List() const {
  std::vector<Volume> out;
  std::error_code ec;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(".") || !ValidateVolumeName(name).ok())
      continue;  // one being made or removed
    absl::StatusOr<Volume> v = ReadVolume(it->path(), name);
    if (v.ok())
      out.push_back(*std::move(v));
  }
  if (ec && ec != std::errc::no_such_file_or_directory)
    return ErrnoError(ec.value(), fmt::format("list {}", root_.string()));
  std::sort(out.begin(), out.end(),
            [](const Volume& a, const Volume& b) { return a.name < b.name; });
  return out;
}

absl::Status VolumeStore::Remove(const std::string& name) {
  BERTH_RETURN_IF_ERROR(Get(name).status());
  return meta::RemoveVolumeDirectory(Dir(name));
}

absl::StatusOr<VolumeStore> ConfiguredVolumeStore(const std::string& ns) {
  BERTH_ASSIGN_OR_RETURN(ClientConfig config, LoadClientConfig(ClientConfigPath()));
  return VolumeStore(config.volume_root, ns);
}

std::vector<std::string> ContainerVolumes(const std::map<std::string, std::string>& labels) {
  std::vector<std::string> out;
  if (auto it = labels.find(kVolumesLabel); it != labels.end()) {
    for (const std::string& n : Split(it->second, ',')) {
      if (!n.empty())
        out.push_back(n);
    }
  }
  return out;
}

oci::Mount VolumePlaceholder(const VolumeMount& v) {
  oci::Mount m{v.destination, "volume", v.name, {}};
  if (v.read_only)
    m.options.push_back("ro");
  if (v.nocopy)
    m.options.push_back("nocopy");
  return m;
}

std::optional<VolumeMount> AsVolumeMount(const oci::Mount& m) {
  if (m.type != "volume")
    return std::nullopt;
  VolumeMount v{m.source, m.destination};
  for (const std::string& o : m.options) {
    v.read_only |= o == "ro";
    v.nocopy |= o == "nocopy";
  }
  return v;
}

}  // namespace berth::ctr
