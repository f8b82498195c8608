#pragma once

// containerd's cgroup metrics messages (io.containerd.cgroups.v1.Metrics and v2.Metrics, what
// `ctr tasks metrics`, bctr stats and kubelet's stats decode) from what a cgroup read back.
// memory.stat, memory.events and memory.oom_control keys map to the fields containerd fills
// from them; keys the messages have no field for are left out.

#include "containerd/cgroups/v1/metrics.pb.h"
#include "containerd/cgroups/v2/metrics.pb.h"
#include "shim/linux/cgroups/cgroup.h"

namespace berth::shim {

io::containerd::cgroups::v1::Metrics V1Metrics(const linux::CgroupStats& s);
io::containerd::cgroups::v2::Metrics V2Metrics(const linux::CgroupStats& s);

}  // namespace berth::shim
