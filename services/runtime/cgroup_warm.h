#pragma once

// Moving a process into a cgroup (a container's init at create, an exec'd process) takes the
// kernel's cgroup_threadgroup_rwsem for writing, and the first writer after a quiet spell waits
// for an RCU grace period while holding cgroup_mutex: 6-15 ms on a 2-vCPU VM, the largest part
// of a task create there. Writers that come within about a grace period of the last one do not
// wait. WarmCgroupMigration starts that wait ahead of the container's own move: a thread of its
// own "moves" berthd into the cgroup it is already in (a no-op move that takes the lock all the
// same). berthd calls it when a task is about to be created: a snapshot was prepared or a
// container created (ctr run, bctr run and CRI do those a few milliseconds before the task's
// create), and at the start of a task create or exec.
//
// Best effort: errors (no cgroupfs, a read-only one) are ignored. At most one such thread runs
// at a time; a call while one runs does nothing.

namespace berth::runtime {

void WarmCgroupMigration();

}  // namespace berth::runtime
