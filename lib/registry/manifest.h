#pragma once

// OCI and Docker (schema 2) image manifests and indexes, parsed with nlohmann::json, and the
// choice of one platform's manifest from an index.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::registry {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
}  // namespace media

// The Accept header for manifest requests: all four manifest and index types.
std::string ManifestAccept();

bool IsIndex(std::string_view media_type);
bool IsManifest(std::string_view media_type);

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64"
  std::string variant;       // "v8", or empty

  // "linux/amd64", "linux/arm64/v8"
  std::string String() const;
  bool operator==(const Platform&) const = default;
};

// "linux/amd64", "linux/arm/v7", "amd64" (os linux). InvalidArgument naming the string.
absl::StatusOr<Platform> ParsePlatform(std::string_view s);

// The platform this binary runs on (linux/amd64 on x86-64, linux/arm64 on aarch64, …).
Platform HostPlatform();

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations{};
  std::vector<std::string> urls{};
  std::optional<Platform> platform{};
};

struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};

struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
};

// Parse `body` as a manifest or index. `media_type` is the Content-Type it came with (or the
// descriptor's); when empty, the body's own mediaType field decides. InvalidArgument naming
// `what` (a reference or digest) when the JSON is not a manifest/index.
absl::StatusOr<Manifest> ParseManifest(std::string_view body, std::string_view what);
absl::StatusOr<Index> ParseIndex(std::string_view body, std::string_view what);

// The media type a body claims ("mediaType"), or guessed from its shape ("manifests" → OCI
// index, "layers" → OCI manifest) when it has none.
std::string SniffMediaType(std::string_view body);

// Picks the manifest for `want` from an index: exact os/architecture, a matching variant
// preferred (an empty wanted variant matches any; arm64 treats "" and "v8" alike). NotFound
// naming `what` and the platforms the index has.
absl::StatusOr<Descriptor> ChoosePlatform(const Index& index, const Platform& want,
                                          std::string_view what);

// The layer digests after decompression ("rootfs.diff_ids") from an image config.
absl::StatusOr<std::vector<std::string>> ConfigDiffIds(std::string_view config,
                                                       std::string_view what);

// JSON for a descriptor as it appears in manifests and indexes.
std::string DescriptorJson(const Descriptor& d);

}  // namespace berth::registry
