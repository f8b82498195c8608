#include "shim/linux/capabilities.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "lib/oci/capabilities.h"
#include "shim/linux/sync.h"

namespace berth::shim::linux {
namespace {

uint64_t Mask(const std::vector<std::string>& names) {
  uint64_t m = 0;
  for (const std::string& n : names) {
    if (std::optional<int> c = oci::CapabilityFromName(n))
      m |= uint64_t{1} << *c;
  }
  return m;
}

}  // namespace

CapabilityPlan PlanCapabilities(const std::optional<oci::Capabilities>& caps) {
  CapabilityPlan plan;
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  in >> plan.last_cap;
  if (!caps)
    return plan;
  plan.set = true;
  plan.bounding = Mask(caps->bounding);
  plan.effective = Mask(caps->effective);
  plan.permitted = Mask(caps->permitted);
  plan.inheritable = Mask(caps->inheritable);
  plan.ambient = Mask(caps->ambient);
  return plan;
}

void DropBoundingSet(const CapabilityPlan& plan, int sync) {
  if (!plan.set)
    return;
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
    ChildFail(sync, errno, "prctl", "PR_SET_KEEPCAPS");
  for (int c = 0; c <= plan.last_cap; ++c) {
    if ((plan.bounding >> c) & 1)
      continue;
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
      ChildFail(sync, errno, "prctl", "PR_CAPBSET_DROP");
  }
}

void ApplyCapabilities(const CapabilityPlan& plan, int sync) {
  if (!plan.set)
    return;
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(plan.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(plan.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(plan.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &hdr, data) != 0)
    ChildFail(sync, errno, "capset", nullptr);
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    ChildFail(sync, errno, "prctl", "PR_CAP_AMBIENT_CLEAR_ALL");
  for (int c = 0; c <= plan.last_cap; ++c) {
    if (((plan.ambient >> c) & 1) == 0)
      continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0)
      ChildFail(sync, errno, "prctl", "PR_CAP_AMBIENT_RAISE");
  }
}

}  // namespace berth::shim::linux
