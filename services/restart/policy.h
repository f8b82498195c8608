#pragma once

// The restart decision of berthd's restart monitor, from containerd's labels (the same names
// its io.containerd.internal.v1.restart plugin reads; lib/meta/labels.h holds them, shared with
// bctr, which writes them):
//   containerd.io/restart.status  "running": keep the task running; "stopped" (bctr stop): never
//                                 restart. Absent or anything else: not monitored.
//   containerd.io/restart.policy  "always" | "on-failure[:N]" | "no" (absent = "no"; containerd
//                                 treats absent as always, berth does not restart unasked).
//   containerd.io/restart.count   restarts done so far (the monitor writes it).
//   containerd.io/restart.loguri  stdout and stderr of the restarted task (file:///...).
// And berth's own (Docker's `run -d --rm`):
//   berth.io/auto-remove          "true": once the container's task has exited, the monitor
//                                 deletes the task, the container, its snapshot and init layer,
//                                 and the files its labels name as its own.
// Pure functions, no I/O.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

#include "lib/base/labels.h"
#include "lib/meta/labels.h"

namespace berth::restart {

inline constexpr auto& kStatusLabel = meta::kRestartStatusLabel;
inline constexpr auto& kPolicyLabel = meta::kRestartPolicyLabel;
inline constexpr auto& kLogUriLabel = meta::kRestartLogUriLabel;
inline constexpr auto& kLogPathLabel = meta::kRestartLogPathLabel;
inline constexpr auto& kCountLabel = meta::kRestartCountLabel;
inline constexpr char kStatusRunning[] = "running";
inline constexpr char kStatusStopped[] = "stopped";

struct Policy {
  enum class Kind { kNo, kAlways, kOnFailure };
  Kind kind = Kind::kNo;
  int max_retries = 0;  // on-failure:N; 0 = no limit

  bool operator==(const Policy&) const = default;
};

// "", "no", "always", "on-failure", "on-failure:N" (N >= 0). InvalidArgument naming the value
// otherwise.
absl::StatusOr<Policy> ParsePolicy(const std::string& value);

// The restart count label as a number (0 when absent or not a number).
int RestartCount(const Labels& labels);

// What the monitor should do with a container whose task is not running. `exit_status` is the
// exit status of the stopped task, nullopt when there is no task (never created, or lost when
// the machine restarted). Only containers whose status label is "running" are restarted;
// on-failure needs a known non-zero exit status and fewer than N restarts so far.
struct Decision {
  bool restart = false;
  std::string why;  // for the log: "policy always", "exit status 0", "2 restarts of 2" …
};

Decision Decide(const Labels& labels, std::optional<uint32_t> exit_status);

// Whether the container asks to be removed once its task has exited.
bool AutoRemove(const Labels& labels);

// Whether the monitor looks after the container: restart status "running", or auto-remove.
bool Monitored(const Labels& labels);

}  // namespace berth::restart
