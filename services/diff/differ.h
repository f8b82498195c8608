#pragma once

// Differ is the walking differ (io.containerd.differ.v1.walking): it applies layers from the
// content store onto snapshot mounts, and makes layers from the difference between two sets
// of mounts, writing them into the content store.
//
// Apply takes the fastest safe way onto the mounts: straight into the upperdir of an overlay
// (OCI whiteouts become overlay whiteouts), straight into the source of a writable bind, or
// else through a temporary mount (whiteouts delete). lib/archive keeps every write inside the
// target. Thread-safe.

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/base/labels.h"
#include "lib/mount/mount.h"
#include "services/content/content_store.h"
#include "services/metadata/image_store.h"

namespace berth::diff {

inline constexpr char kUncompressedLabel[] = "containerd.io/uncompressed";

class Differ {
 public:
  // Temporary mounts go under `mount_dir`. Layers may carry device nodes only when
  // `allow_devices`.
  Differ(content::ContentStore& content, std::filesystem::path mount_dir, bool allow_devices)
      : content_(content), mount_dir_(std::move(mount_dir)), allow_devices_(allow_devices) {}

  // Applies the layer `layer` (a blob of namespace `ns`) onto `mounts`. Returns the
  // uncompressed layer's descriptor (its digest is the diff id). InvalidArgument for a media
  // type that is not a layer; FailedPrecondition when the blob's digest does not match.
  absl::StatusOr<metadata::Descriptor> Apply(const std::string& ns,
                                             const metadata::Descriptor& layer,
                                             const std::vector<mount::Mount>& mounts);

  struct DiffRequest {
    std::vector<mount::Mount> lower;
    std::vector<mount::Mount> upper;
    std::string media_type;  // "" = application/vnd.oci.image.layer.v1.tar+gzip
    std::string ref;         // ingest ref; "" = a new one
    Labels labels;
    std::string lease;
  };

  // Writes the layer that turns `lower` into `upper` into the content store, labelled with its
  // uncompressed digest, and returns its descriptor.
  absl::StatusOr<metadata::Descriptor> Diff(const std::string& ns, const DiffRequest& req);

 private:
  content::ContentStore& content_;
  std::filesystem::path mount_dir_;
  const bool allow_devices_;
};

// True for the layer media types Apply understands (OCI and Docker; tar, gzip, zstd).
bool IsLayerMediaType(std::string_view media_type);

}  // namespace berth::diff
