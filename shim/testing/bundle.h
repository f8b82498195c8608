#pragma once

// Test bundles on a busybox rootfs: <dir>/rootfs with /bin/busybox and applet links, plus a
// default spec (lib/oci DefaultSpec) whose cgroupsPath is unique to the test, so that tests
// can run side by side and clean up after themselves.

#include <filesystem>
#include <string>
#include <vector>

#include "lib/oci/spec.h"

namespace berth::shim::testing {

// Creates <dir>/rootfs from /bin/busybox. Returns false (and prints why) on failure.
bool MakeBusyboxRootfs(const std::filesystem::path& dir);

// DefaultSpec with args `sh -c script`, root "rootfs", no seccomp, cgroupsPath
// "/berth-test/<id>-<pid>".
oci::Spec BusyboxSpec(const std::string& id, const std::string& script);

// True when the cgroup directory exists under any v1 controller or in v2.
bool CgroupExists(const std::string& cgroups_path);

// Removes the empty "/berth-test" parents that BusyboxSpec's cgroups leave (best effort: a
// parent still holding another test's cgroup stays).
void RemoveTestCgroupParents();

// True when /proc/self/mountinfo mentions `path`.
bool MountedUnder(const std::filesystem::path& path);

}  // namespace berth::shim::testing
