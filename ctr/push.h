#pragma once

// Pushing an image from berthd to a registry: the blobs of each manifest (skipped when the
// registry has them, mounted from another repository of the same registry when the blob's
// containerd.io/distribution.source.<host> label names one), then the manifests by digest,
// then the image's own index or manifest under the reference's tag. For an index, only the
// platforms whose manifests are in the content store are pushed.

#include <functional>
#include <string>

#include "absl/status/status.h"

#include "ctr/connection.h"
#include "lib/registry/client.h"
#include "lib/registry/reference.h"

namespace berth::ctr {

struct PushOptions {
  registry::TransferObserver* observer = nullptr;
  std::function<void(const std::string&)> say;
};

// The image record `local` (a normalized name) is pushed as `remote`.
absl::Status Push(Connection& conn, registry::Client& client, const std::string& local,
                  const registry::Reference& remote, const PushOptions& opts);

}  // namespace berth::ctr
