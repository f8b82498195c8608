#include "shim/linux/init.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shim/linux/sync.h"

namespace berth::shim::linux {
namespace {

void Expect(int sync, SyncType want, const char* step) {
  SyncMsg msg;
  if (!ReadSync(sync, &msg))
    ::_exit(1);  // the parent went away: nobody to report to
  if (msg.type != want)
    ChildFail(sync, EPROTO, "sync", step);
}

void WriteSysctls(const InitPlan& plan, int sync) {
  for (const auto& [path, value] : plan.sysctls) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
      ChildFail(sync, errno, "sysctl", path.c_str());
    if (::write(fd, value.data(), value.size()) < 0)
      ChildFail(sync, errno, "sysctl", path.c_str());
    ::close(fd);
  }
}

void SetLoopbackUp(int sync) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    ChildFail(sync, errno, "socket", "to set lo up");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
    ChildFail(sync, errno, "get the flags of", "lo");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
    ChildFail(sync, errno, "set up", "lo");
  ::close(fd);
}

void SetNames(const InitPlan& plan, int sync) {
  if (!plan.hostname.empty() && ::sethostname(plan.hostname.data(), plan.hostname.size()) != 0)
    ChildFail(sync, errno, "sethostname", plan.hostname.c_str());
  if (!plan.domainname.empty() &&
      ::setdomainname(plan.domainname.data(), plan.domainname.size()) != 0)
    ChildFail(sync, errno, "setdomainname", plan.domainname.c_str());
}

}  // namespace

void RunInit(const InitPlan& plan, int sync) {
  ::close(plan.parent_end);
  Expect(sync, SyncType::kGo, "waiting for go");
  if (!JoinCgroupTasks(*plan.cgroup))
    ChildFail(sync, errno, "join cgroup", "tasks");
  JoinNamespaces(*plan.namespaces, sync);
  if (plan.new_user) {
    // Raw syscalls: see SwitchUser in process_plan.cc.
    if (::syscall(SYS_setresgid, 0, 0, 0) != 0 || ::syscall(SYS_setresuid, 0, 0, 0) != 0)
      ChildFail(sync, errno, "become root in the user namespace", nullptr);
  }
  if (plan.new_cgroup_ns_after_join && ::unshare(CLONE_NEWCGROUP) != 0)
    ChildFail(sync, errno, "unshare", "cgroup namespace");
  if (plan.loopback_up)
    SetLoopbackUp(sync);
  SetupStdio(*plan.process, sync);
  PrepareRootfs(*plan.rootfs, sync);
  if (plan.run_hooks) {
    if (!SendSync(sync, SyncType::kRunHooks))
      ::_exit(1);
    Expect(sync, SyncType::kHooksDone, "waiting for createRuntime hooks");
  }
  EnterRootfs(*plan.rootfs, sync);
  SetNames(plan, sync);
  WriteSysctls(plan, sync);
  SealRootfs(*plan.rootfs, sync);
  CheckProgram(*plan.process, sync);
  if (!SendSync(sync, SyncType::kReady))
    ::_exit(1);
  Expect(sync, SyncType::kStart, "waiting for start");
  FinalizeAndExec(*plan.process, sync);
}

}  // namespace berth::shim::linux
