#pragma once

// Image archives, read into and written from berthd's content store:
//   - OCI image layout archives: oci-layout, index.json, blobs/sha256/<hex>; image names from
//     the index's io.containerd.image.name annotation, else org.opencontainers.image.ref.name
//     (a bare tag becomes "<base name>:<tag>", as containerd's `ctr images import` does);
//   - docker-archive (`docker save`): manifest.json with Config, RepoTags and Layers; a Docker
//     schema 2 manifest is made for each entry. An archive with both (as newer docker and
//     ExportArchive with docker=true write) is read through its index.json, so digests stay.
// Import runs under a lease: every blob is streamed through Content.Write and committed with
// the digest computed on the way (a blob named by digest must match it); the image records are
// made only after every referenced blob is in and, unless disabled, unpacked. On failure no
// record is made, and the lease is deleted with a synchronous collection, so nothing written
// by the import stays.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "ctr/connection.h"
#include "lib/archive/layer.h"
#include "lib/registry/manifest.h"

namespace berth::ctr {

struct ImportOptions {
  bool unpack = true;
  std::string snapshotter = "overlayfs";
  registry::Platform platform = registry::HostPlatform();
  std::string index_name;  // also name the archive's whole index (an image of all its images)
  std::string base_name;   // for OCI ref names that are only a tag; "" = "import-YYYY-MM-DD"
  std::function<void(const std::string&)> say;  // progress lines
};

struct ImportedImage {
  std::string name;
  registry::Descriptor target;
};

// Reads an archive (tar, or gzip/zstd/xz-compressed tar) from `in`; `what` names it in errors
// (the file name, or "stdin").
absl::StatusOr<std::vector<ImportedImage>> ImportArchive(Connection& conn, archive::ReadFn in,
                                                         const std::string& what,
                                                         const ImportOptions& opts);

struct ExportOptions {
  // Only this platform's manifests of an index (the index itself is kept, so the digest
  // stays); nullopt = every manifest whose blobs the store holds.
  std::optional<registry::Platform> platform;
  // Also write docker-archive's manifest.json (RepoTags as docker shows them), for `save`.
  bool docker = false;
};

// Writes the images `names` (normalized references or record names) as one archive to `out`.
// Everything is looked up before the first byte is written: NotFound names a missing image.
absl::Status ExportArchive(Connection& conn, const std::vector<std::string>& names,
                           const ExportOptions& opts, archive::WriteFn out);

// Writes to `path` through a temporary file in the same directory, renamed over `path` only
// when `fn` succeeded (so a failure leaves no partial file); "-" writes to stdout.
absl::Status WriteOutput(const std::string& path,
                         absl::FunctionRef<absl::Status(archive::WriteFn out)> fn);

// Reads from `path` ("-" = stdin) through `fn`.
absl::Status ReadInput(const std::string& path,
                       absl::FunctionRef<absl::Status(archive::ReadFn in)> fn);

// The name docker shows for a normalized reference: "docker.io/library/busybox:latest" →
// "busybox:latest", "docker.io/user/app:1" → "user/app:1"; others unchanged.
std::string FamiliarName(const std::string& name);

}  // namespace berth::ctr
