#pragma once

// linux.seccomp compiled with libseccomp in the parent (seccomp_export_bpf into a memfd, read
// back as a BPF program), loaded in the child with seccomp(2): no allocation after clone.
// Supported actions: SCMP_ACT_ALLOW, _ERRNO (errnoRet, default EPERM), _KILL, _KILL_THREAD,
// _KILL_PROCESS, _TRAP, _TRACE, _LOG. Rules whose action equals the default are skipped.

#include <linux/filter.h>

#include <vector>

#include "absl/status/statusor.h"

#include "lib/oci/spec.h"

namespace berth::shim::linux {

struct SeccompProgram {
  std::vector<struct sock_filter> filter;
  unsigned int flags = 0;  // SECCOMP_FILTER_FLAG_*
};

// Errors: InvalidArgument naming the field, e.g.
// `linux.seccomp.syscalls[3].names[0]: unknown syscall "foo"`.
absl::StatusOr<SeccompProgram> CompileSeccomp(const oci::Seccomp& profile);

// Child side: installs the filter; ChildFail on error.
void LoadSeccomp(const SeccompProgram& program, int sync);

}  // namespace berth::shim::linux
