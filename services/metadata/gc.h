#pragma once

// Garbage-collection marking, containerd's model. Resources are (namespace, type, id) with
// types "content" (a digest), "snapshots/<snapshotter>" (a key), "ingests" (a ref), plus
// "images", "containers" and "leases" as roots. Roots are images, containers, leases that
// have not expired, and objects labelled containerd.io/gc.root. References follow:
//   images      → their target digest, and their gc.ref labels
//   containers  → their snapshot, and their gc.ref labels
//   leases      → every resource they hold
//   content and snapshots → their gc.ref labels; snapshots → their parent
// where a label "containerd.io/gc.ref.content[.<any>]" = digest refers to content and
// "containerd.io/gc.ref.snapshot.<snapshotter>[/<any>]" = key to a snapshot. Mark() returns
// every resource reachable from a root; the rest may be removed.

#include <compare>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "lib/base/labels.h"

namespace berth::metadata {

inline constexpr char kGcRootLabel[] = "containerd.io/gc.root";
inline constexpr char kGcExpireLabel[] = "containerd.io/gc.expire";

struct ResourceKey {
  std::string ns;
  std::string type;
  std::string id;
  auto operator<=>(const ResourceKey&) const = default;
};

struct GcGraph {
  std::vector<ResourceKey> roots;
  std::map<ResourceKey, std::vector<ResourceKey>> refs;

  void AddRef(const ResourceKey& from, ResourceKey to) { refs[from].push_back(std::move(to)); }

  // Adds the references that `labels` of `from` name, and makes `from` a root when labelled
  // containerd.io/gc.root.
  void AddLabelRefs(const ResourceKey& from, const Labels& labels);
};

// Everything reachable from the roots (the roots included).
std::set<ResourceKey> Mark(const GcGraph& graph);

// What services that delete things see of the garbage collector (services/gc implements it).
class GcScheduler {
 public:
  virtual ~GcScheduler() = default;
  // A collection soon (debounced).
  virtual void Trigger() = 0;
  // A collection now, returning when it is done (deletes with sync=true).
  virtual absl::Status CollectNow() = 0;
};

// True when labels carry containerd.io/gc.expire with an RFC 3339 time before `now_unix`.
// An unparsable time counts as not expired (the lease is kept, as containerd does).
bool LeaseExpired(const Labels& labels, int64_t now_unix);

}  // namespace berth::metadata
