#pragma once

// A process exec'd into a running container (youki's "intermediate" stage). The intermediate
// child (cloned into the container's cgroup on v2) joins the init's namespaces with setns(init
// pidfd), moves itself into the cgroup on v1, clones the real process (which becomes a member of
// the container's pid namespace), sends its pid and pidfd to the parent and exits. The process then
// sets up stdio, finalizes and execs; the caller must be a child subreaper (or the process's
// parent) to reap it.

#include "shim/linux/cgroups/cgroup.h"
#include "shim/linux/process_plan.h"

namespace berth::shim::linux {

struct ExecPlan {
  int init_pidfd = -1;
  int ns_flags = 0;
  const CgroupJoin* cgroup = nullptr;  // v1: joined after setns (v2: at clone)
  const ProcessPlan* process = nullptr;
  int parent_end = -1;
};

[[noreturn]] void RunExecIntermediate(const ExecPlan& plan, int sync);

}  // namespace berth::shim::linux
