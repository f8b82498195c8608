#include "services/metadata/gc.h"

#include <time.h>

#include <deque>

namespace berth::metadata {
namespace {

constexpr std::string_view kContentRef = "containerd.io/gc.ref.content";
constexpr std::string_view kSnapshotRef = "containerd.io/gc.ref.snapshot.";

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

}  // namespace

void GcGraph::AddLabelRefs(const ResourceKey& from, const Labels& labels) {
  for (const auto& [key, value] : labels) {
    if (key == kGcRootLabel) {
      roots.push_back(from);
    } else if (StartsWith(key, kContentRef) &&
               (key.size() == kContentRef.size() || key[kContentRef.size()] == '.')) {
      AddRef(from, {from.ns, "content", value});
    } else if (StartsWith(key, kSnapshotRef) && key.size() > kSnapshotRef.size()) {
      std::string snapshotter = key.substr(kSnapshotRef.size());
      snapshotter = snapshotter.substr(0, snapshotter.find('/'));
      AddRef(from, {from.ns, "snapshots/" + snapshotter, value});
    }
  }
}

std::set<ResourceKey> Mark(const GcGraph& graph) {
  std::set<ResourceKey> seen;
  std::deque<const ResourceKey*> todo;
  for (const ResourceKey& r : graph.roots) {
    if (seen.insert(r).second)
      todo.push_back(&r);
  }
  while (!todo.empty()) {
    const ResourceKey* k = todo.front();
    todo.pop_front();
    auto it = graph.refs.find(*k);
    if (it == graph.refs.end())
      continue;
    for (const ResourceKey& next : it->second) {
      auto [pos, inserted] = seen.insert(next);
      if (inserted)
        todo.push_back(&*pos);
    }
  }
  return seen;
}

bool LeaseExpired(const Labels& labels, int64_t now_unix) {
  auto it = labels.find(kGcExpireLabel);
  if (it == labels.end())
    return false;

  struct tm tm {};

  const char* end = strptime(it->second.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr)
    return false;
  int64_t t = timegm(&tm);
  // Skip fractional seconds; apply a numeric offset ("+01:00"), "Z" meaning UTC.
  while (*end == '.' || (*end >= '0' && *end <= '9')) ++end;
  if ((*end == '+' || *end == '-') && end[1] && end[2] && end[3] == ':') {
    int off =
        ((end[1] - '0') * 10 + (end[2] - '0')) * 3600 + ((end[4] - '0') * 10 + (end[5] - '0')) * 60;
    t += (*end == '+') ? -off : off;
  }
  return t < now_unix;
}

}  // namespace berth::metadata
