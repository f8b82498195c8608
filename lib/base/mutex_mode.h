#pragma once

// For the daemons' main(): berthd and berth-shim.

#include "absl/synchronization/mutex.h"

namespace berth {

// Debian's abseil is built with absl::Mutex deadlock detection on, set to abort: every lock
// taken with another held then updates a global lock-order graph (a global lock, a stack trace
// per new edge), and an order that merely could deadlock ends the process. The test binaries
// keep it; the daemons turn it off.
inline void IgnoreMutexDeadlockCycles() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace berth
