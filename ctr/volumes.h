#pragma once

// Docker's local volumes, kept by bctr on the host: a directory per volume,
//   <root>/<namespace>/<name>/_data          what containers see (bind-mounted)
//   <root>/<namespace>/<name>/volume.json    {"Name", "Labels", "CreatedAt", "Anonymous"}
// with the root from bctr.toml's [volumes] (default /var/lib/berth/volumes). A container's
// volumes are named by its label berth.io/volumes (comma-separated), which is what "in use"
// means. Anonymous volumes (`-v /data`, `--mount type=volume` without a source, an image's
// VOLUME) get a random 64-hex name, and their directories are also named by the container's
// label meta::kAnonymousVolumesLabel: `run --rm` (bctr, or berthd for `-d --rm`) and `rm -v`
// remove them with their container.
//
// Errors name the volume: InvalidArgument (a bad name), NotFound, AlreadyExists, or the errno
// of the filesystem call.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/oci/spec.h"

namespace berth::ctr {

inline constexpr char kVolumesLabel[] = "berth.io/volumes";

struct Volume {
  std::string name;
  std::filesystem::path mountpoint;  // .../<name>/_data
  std::map<std::string, std::string> labels;
  std::string created_at;  // RFC 3339, as Docker's CreatedAt
  bool anonymous = false;
};

// [a-zA-Z0-9][a-zA-Z0-9_.-]+, as Docker's local driver.
absl::Status ValidateVolumeName(const std::string& name);

class VolumeStore {
 public:
  VolumeStore(std::filesystem::path root, std::string ns);

  // AlreadyExists when there is one of that name. An empty name makes an anonymous volume.
  absl::StatusOr<Volume> Create(const std::string& name,
                                const std::map<std::string, std::string>& labels = {});
  absl::StatusOr<Volume> Get(const std::string& name) const;
  absl::StatusOr<std::vector<Volume>> List() const;  // by name
  // Removes its directory and everything in it; NotFound when there is none.
  absl::Status Remove(const std::string& name);

 private:
  std::filesystem::path Dir(const std::string& name) const;

  std::filesystem::path root_;  // <root>/<namespace>
};

// The store under bctr.toml's [volumes] root (ctr/config.h), for namespace `ns`.
absl::StatusOr<VolumeStore> ConfiguredVolumeStore(const std::string& ns);

// The volumes a container's labels name (kVolumesLabel), in order.
std::vector<std::string> ContainerVolumes(const std::map<std::string, std::string>& labels);

// One volume a container mounts: `-v NAME:/dst[:ro,nocopy]`, `-v /dst` or `--mount
// type=volume,...`, as BuildSpec leaves it in the spec until bctr resolves it (ResolveVolumes).
struct VolumeMount {
  std::string name;  // "" for an anonymous one
  std::string destination;
  bool read_only = false;
  bool nocopy = false;  // do not fill a new, empty volume from the image
};

// The spec mount that stands for `v` until ResolveVolumes (type "volume"), and back.
oci::Mount VolumePlaceholder(const VolumeMount& v);
std::optional<VolumeMount> AsVolumeMount(const oci::Mount& m);

}  // namespace berth::ctr
