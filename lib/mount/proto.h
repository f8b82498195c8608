#pragma once

// lib/mount's Mount to and from containerd.types.Mount, for any class generated from it:
// berthd's (full runtime), the shim's (lite), ctr's. Header-only, so that lib/mount needs no
// proto library. containerd's `target` field is not part of the v1 API's rootfs mounts.

#include <span>
#include <string>
#include <vector>

#include "lib/mount/mount.h"

namespace berth::mount {

template <typename ProtoMounts>
std::vector<Mount> MountsFromProto(const ProtoMounts& in) {
  std::vector<Mount> out;
  out.reserve(static_cast<size_t>(in.size()));
  for (const auto& m : in)
    out.push_back({m.type(), m.source(), {m.options().begin(), m.options().end()}});
  return out;
}

template <typename ProtoMounts>
void MountsToProto(std::span<const Mount> in, ProtoMounts* out) {
  for (const Mount& m : in) {
    auto* p = out->Add();
    p->set_type(m.type);
    p->set_source(m.source);
    for (const std::string& o : m.options) p->add_options(o);
  }
}

}  // namespace berth::mount
