#pragma once

// Capability sets from process.capabilities, as bit masks prepared in the parent and applied in
// the child with prctl(PR_CAPBSET_DROP), capset(2) and PR_CAP_AMBIENT. When the spec has no
// capabilities object the process keeps what it inherits.

#include <cstdint>
#include <optional>

#include "lib/oci/spec.h"

namespace berth::shim::linux {

struct CapabilityPlan {
  bool set = false;
  int last_cap = 40;  // /proc/sys/kernel/cap_last_cap
  uint64_t bounding = 0;
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
  uint64_t ambient = 0;
};

// Names were validated by the spec parser; unknown ones are ignored here.
CapabilityPlan PlanCapabilities(const std::optional<oci::Capabilities>& caps);

// Child side, before changing user: PR_SET_KEEPCAPS and dropping the bounding set.
void DropBoundingSet(const CapabilityPlan& plan, int sync);

// Child side, after changing user: effective/permitted/inheritable, then ambient.
void ApplyCapabilities(const CapabilityPlan& plan, int sync);

}  // namespace berth::shim::linux
