#pragma once

// Image records and the garbage-collection labels that tie an image's blobs together, as
// containerd's clients write them: an index is labelled containerd.io/gc.ref.content.m.<i> for
// its manifests, a manifest .config and .l.<i> for its config and layers.

#include <string>

#include "absl/status/statusor.h"

#include "ctr/connection.h"
#include "ctr/content_io.h"
#include "lib/registry/manifest.h"

namespace berth::ctr {

Labels IndexGcLabels(const registry::Index& idx);
Labels ManifestGcLabels(const registry::Manifest& m);

// Creates the image record `name` → `target`, or points an existing one at `target`.
absl::Status PutImageRecord(Connection& conn, const std::string& name,
                            const registry::Descriptor& target);

// The record of `name` (normalized when it parses as a reference). NotFound names it.
absl::StatusOr<images_api::Image> GetImageRecord(Connection& conn, const std::string& name);

// The manifest of `target` for `platform` (through its index when it is one), with its digest.
struct ResolvedManifest {
  registry::Descriptor desc;
  registry::Manifest manifest;
};

absl::StatusOr<ResolvedManifest> ResolveManifest(Connection& conn,
                                                 const registry::Descriptor& target,
                                                 const registry::Platform& platform);

registry::Descriptor FromProto(const ::containerd::types::Descriptor& p);

}  // namespace berth::ctr
