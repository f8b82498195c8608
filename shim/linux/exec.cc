#include "shim/linux/exec.h"

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "shim/linux/sync.h"
#include "shim/linux/syscalls.h"

namespace berth::shim::linux {

void RunExecIntermediate(const ExecPlan& plan, int sync) {
  ::close(plan.parent_end);
  if (::setns(plan.init_pidfd, plan.ns_flags) != 0)
    ChildFail(sync, errno, "setns", "container init");
  if (!JoinCgroupTasks(*plan.cgroup))
    ChildFail(sync, errno, "join cgroup", "tasks");
  int pidfd = -1;
  pid_t pid = Clone3(CLONE_PIDFD, SIGCHLD, &pidfd);
  if (pid < 0)
    ChildFail(sync, errno, "clone", "exec process");
  if (pid == 0) {
    SetupStdio(*plan.process, sync);
    FinalizeAndExec(*plan.process, sync);
  }
  if (!SendSync(sync, SyncType::kPid, pid, pidfd))
    ChildFail(sync, errno, "send pid", nullptr);
  ::_exit(0);
}

}  // namespace berth::shim::linux
