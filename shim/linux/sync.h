#pragma once

// The channel between the runtime (parent) and a process it is setting up (child): a
// SOCK_SEQPACKET socketpair with CLOEXEC on both ends, so a successful exec closes the child's
// end and the parent reads EOF. One message per write.
//
// Child side (between clone and exec): only SendSync/ChildFail/ReadSync, which are plain
// syscalls over a stack buffer. Parent side: ReceiveSync turns an error message into a Status.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"

namespace berth::shim::linux {

enum class SyncType : uint32_t {
  kEof = 0,    // (parent side) the child closed its end: it exec'd or exited
  kError = 1,  // child -> parent: err and text say which step failed
  kGo,         // parent -> child: maps and cgroups are in place
  kRunHooks,   // child -> parent: run createRuntime hooks now
  kHooksDone,  // parent -> child
  kReady,      // child -> parent: set up, waiting for kStart
  kStart,      // parent -> child: exec the process
  kPid,        // child -> parent: value is a pid (a pidfd may ride along as SCM_RIGHTS)
};

struct SyncMsg {
  SyncType type = SyncType::kError;
  int32_t err = 0;
  int64_t value = 0;
  char text[496] = {};
};

struct SyncPair {
  UniqueFd parent;
  UniqueFd child;
};

absl::StatusOr<SyncPair> MakeSyncPair();

// --- Child side: async-signal-safe. ---

// Sends a message (and `fd` as SCM_RIGHTS when >= 0). Returns false on failure.
bool SendSync(int sock, SyncType type, int64_t value = 0, int fd = -1);

// Blocks for the next message; false on EOF or error (the parent went away).
bool ReadSync(int sock, SyncMsg* msg);

// Reports `step` failed on `path` with errno `err` ("mount /proc: ..."), then _exit(127).
[[noreturn]] void ChildFail(int sock, int err, const char* step, const char* path = nullptr);

// --- Parent side. ---

// Receives the next message, waiting up to `timeout_ms` (-1: forever). A kError message becomes
// the child's error (ErrnoError with "<what>: <step> <path>"); EOF is a kEof message; a timeout
// is DeadlineExceeded. *fd receives a passed fd.
absl::StatusOr<SyncMsg> ReceiveSync(int sock, std::string_view what, int timeout_ms,
                                    UniqueFd* fd = nullptr);

// Sends a parent -> child message.
absl::Status SendToChild(int sock, SyncType type, std::string_view what);

}  // namespace berth::shim::linux
