#pragma once

// A process exec'd into a running container (youki's "intermediate" stage). The intermediate
// child joins the init's namespaces with setns(init pidfd), moves itself into the container's
// cgroup, clones the real process (which becomes a member of the container's pid namespace),
// sends its pid and pidfd to the parent and exits. The process then sets up stdio, finalizes
// and execs; the caller must be a child subreaper (or the process's parent) to reap it.

#include <vector>

#include "lib/base/unique_fd.h"
#include "shim/linux/process_plan.h"

namespace berth::shim::linux {

struct ExecPlan {
  int init_pidfd = -1;
  int ns_flags = 0;
  std::vector<UniqueFd> cgroup_procs;  // cgroup.procs files, opened for writing
  const ProcessPlan* process = nullptr;
  int parent_end = -1;
};

[[noreturn]] void RunExecIntermediate(const ExecPlan& plan, int sync);

}  // namespace berth::shim::linux
