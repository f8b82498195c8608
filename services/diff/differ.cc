#include "services/diff/differ.h"

#include <unistd.h>

#include <array>
#include <atomic>

#include "fmt/format.h"

#include "lib/archive/layer.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/mount/options.h"

namespace berth::diff {
namespace {

constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
constexpr std::string_view kOciNondistributable =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
constexpr std::string_view kDockerForeign = "application/vnd.docker.image.rootfs.foreign.diff.tar";

std::string Hex(uint64_t v) {
  return fmt::format("{:016x}", v);
}

absl::StatusOr<archive::Compression> CompressionFor(std::string_view media_type) {
  if (media_type.empty() || media_type == "application/vnd.oci.image.layer.v1.tar+gzip" ||
      media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip")
    return archive::Compression::kGzip;
  if (media_type == kOciLayer || media_type == kDockerLayer)
    return archive::Compression::kNone;
  if (media_type == "application/vnd.oci.image.layer.v1.tar+zstd")
    return archive::Compression::kZstd;
  return InvalidArgument(
      fmt::format("diff: unsupported media type {:?} (want an OCI or Docker "
                  "layer: tar, tar+gzip or tar+zstd)",
                  media_type));
}

}  // namespace

bool IsLayerMediaType(std::string_view mt) {
  for (std::string_view base : {kOciLayer, kOciNondistributable, kDockerLayer, kDockerForeign}) {
    if (mt.substr(0, base.size()) != base)
      continue;
    std::string_view rest = mt.substr(base.size());
    if (rest.empty() || rest == "+gzip" || rest == "+zstd" || rest == ".gzip" || rest == ".zstd")
      return true;
  }
  return false;
}

absl::StatusOr<metadata::Descriptor> Differ::Apply(const std::string& ns,
                                                   const metadata::Descriptor& layer,
                                                   const std::vector<mount::Mount>& mounts) {
  std::string object = fmt::format("layer {}", layer.digest);
  if (!IsLayerMediaType(layer.media_type)) {
    return InvalidArgument(
        fmt::format("{}: media type {:?} is not a layer", object, layer.media_type));
  }
  if (mounts.empty())
    return InvalidArgument(fmt::format("{}: no mounts to apply onto", object));
  BERTH_ASSIGN_OR_RETURN(UniqueFd blob, content_.Open(ns, layer.digest));
  auto read = [&](char* buf, size_t len) -> absl::StatusOr<size_t> {
    while (true) {
      ssize_t n = ::read(blob.get(), buf, len);
      if (n >= 0)
        return static_cast<size_t>(n);
      if (errno != EINTR)
        return ErrnoError(errno, fmt::format("reading {}", object));
    }
  };
  auto apply = [&](const std::filesystem::path& root,
                   archive::Whiteouts whiteouts) -> absl::StatusOr<archive::ApplyResult> {
    return archive::ApplyLayer(root, read,
                               {.whiteouts = whiteouts, .allow_devices = allow_devices_});
  };

  absl::StatusOr<archive::ApplyResult> result;
  const mount::Mount& m = mounts.front();
  const std::string upperdir = mount::OptionValue(m.options, "upperdir");
  if (mounts.size() == 1 && m.type == "overlay" && !upperdir.empty()) {
    result = apply(upperdir, archive::Whiteouts::kOverlay);
  } else if (mounts.size() == 1 && m.type == "bind" && !mount::HasOption(m.options, "ro")) {
    result = apply(m.source, archive::Whiteouts::kRemove);
  } else {
    absl::Status s = mount::WithTempMount(mounts, mount_dir_, [&](const std::filesystem::path& d) {
      result = apply(d, archive::Whiteouts::kRemove);
      return result.status();
    });
    if (!s.ok() && result.ok())
      result = s;
  }
  if (!result.ok())
    return Annotate(result.status(), fmt::format("applying {}", object));
  if (result->compressed_digest != layer.digest) {
    return FailedPrecondition(
        fmt::format("{}: digest mismatch: the content is {}", object, result->compressed_digest));
  }
  return metadata::Descriptor{
      std::string(kOciLayer), result->uncompressed_digest, result->uncompressed_size, {}};
}

absl::StatusOr<metadata::Descriptor> Differ::Diff(const std::string& ns, const DiffRequest& req) {
  BERTH_ASSIGN_OR_RETURN(archive::Compression compression, CompressionFor(req.media_type));
  std::string media_type =
      req.media_type.empty() ? "application/vnd.oci.image.layer.v1.tar+gzip" : req.media_type;
  static std::atomic<uint64_t> counter{0};
  std::string ref = req.ref.empty()
                        ? fmt::format("diff-{}-{}", Hex(metadata::NowNanos()), counter.fetch_add(1))
                        : req.ref;
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<content::Writer> w, content_.OpenWriter(ns, ref, 0, ""));
  BERTH_RETURN_IF_ERROR(w->Truncate());
  absl::StatusOr<archive::DiffResult> result;
  absl::Status s = mount::WithTempMount(
      req.lower, mount_dir_, [&](const std::filesystem::path& lower) -> absl::Status {
        return mount::WithTempMount(
            req.upper, mount_dir_, [&](const std::filesystem::path& upper) -> absl::Status {
              result = archive::WriteDiff(lower, upper, compression, [&](std::string_view b) {
                return w->Write(w->offset(), b);
              });
              return result.status();
            });
      });
  if (!s.ok()) {
    w.reset();  // releases the ref, so that it can be aborted
    (void)content_.Abort(ns, ref);
    return Annotate(s, "diff");
  }
  Labels labels = req.labels;
  labels[kUncompressedLabel] = result->uncompressed_digest;
  absl::StatusOr<std::string> digest = content_.Commit(
      ns, *w, result->compressed_size, result->compressed_digest, labels, req.lease);
  if (!digest.ok() && !absl::IsAlreadyExists(digest.status()))
    return Annotate(digest.status(), "diff");
  return metadata::Descriptor{media_type, result->compressed_digest, result->compressed_size, {}};
}

}  // namespace berth::diff
