#pragma once

// The container's init process between clone and exec (youki's "init" stage). Runs in the
// child with only syscalls: waits for kGo (id maps in place), joins its cgroup and namespaces, sets
// up the rootfs, asks the parent to run createRuntime hooks, pivots, sets hostname and sysctls,
// reports kReady, waits for kStart, then finalizes the process and execs.

#include <string>
#include <utility>
#include <vector>

#include "shim/linux/cgroups/cgroup.h"
#include "shim/linux/namespaces.h"
#include "shim/linux/process_plan.h"
#include "shim/linux/rootfs.h"

namespace berth::shim::linux {

struct InitPlan {
  const NamespacePlan* namespaces = nullptr;
  const RootfsPlan* rootfs = nullptr;
  const ProcessPlan* process = nullptr;
  std::string hostname;  // set when non-empty (needs a new uts namespace)
  std::string domainname;
  std::vector<std::pair<std::string, std::string>> sysctls;  // /proc/sys path, value
  bool new_user = false;
  const CgroupJoin* cgroup = nullptr;  // v1: joined right after kGo (v2: at clone)
  // A new cgroup namespace is rooted where its maker is: with v1's late join, the init makes it
  // once in its cgroups (as runc's), not the clone.
  bool new_cgroup_ns_after_join = false;
  bool run_hooks = false;    // ask the parent to run createRuntime hooks before pivot_root
  bool loopback_up = false;  // set lo of the (new) network namespace up
  int parent_end = -1;       // the parent's end of the sync socket, closed in the child
};

[[noreturn]] void RunInit(const InitPlan& plan, int sync);

}  // namespace berth::shim::linux
