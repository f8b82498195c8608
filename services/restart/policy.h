#pragma once

// The restart decision of berthd's restart monitor, from containerd's labels (the same names
// its io.containerd.internal.v1.restart plugin reads; bctr writes them, see ctr/container_meta.h
// — services/ may not include ctr/, so they are repeated here and must stay equal):
//   containerd.io/restart.status  "running": keep the task running; "stopped" (bctr stop): never
//                                 restart. Absent or anything else: not monitored.
//   containerd.io/restart.policy  "always" | "on-failure[:N]" | "no" (absent = "no"; containerd
//                                 treats absent as always, berth does not restart unasked).
//   containerd.io/restart.count   restarts done so far (the monitor writes it).
//   containerd.io/restart.loguri  stdout and stderr of the restarted task (file:///...).
// And berth's own (Docker's `run -d --rm`; bctr writes them):
//   berth.io/auto-remove          "true": once the container's task has exited, the monitor
//                                 deletes the task, the container, its snapshot and the file
//                                 berth.io/log-uri names (file:///...).
// Pure functions, no I/O.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

#include "lib/base/labels.h"

namespace berth::restart {

inline constexpr char kStatusLabel[] = "containerd.io/restart.status";
inline constexpr char kPolicyLabel[] = "containerd.io/restart.policy";
inline constexpr char kLogUriLabel[] = "containerd.io/restart.loguri";
inline constexpr char kLogPathLabel[] = "containerd.io/restart.logpath";  // containerd's older one
inline constexpr char kCountLabel[] = "containerd.io/restart.count";
inline constexpr char kAutoRemoveLabel[] = "berth.io/auto-remove";
inline constexpr char kBerthLogUriLabel[] = "berth.io/log-uri";
// On the committed snapshot "<snapshot key>-init" that bctr makes below a container's own (its
// init layer): the container's id. Removed with the container.
inline constexpr char kInitLayerLabel[] = "berth.io/init-layer-of";
// bctr's hosts file of a container on a CNI network (<state dir>/hosts.d/<ns>-<id>), removed
// with the container.
inline constexpr char kHostsFileLabel[] = "berth.io/hosts-file";
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

// The local path of a file:// URI, read as the shim reads it (lib/base/stdio_uri.h):
// "file:///p?format=cri" → "/p"; empty for anything else.
std::string FileUriPath(const std::string& uri);

}  // namespace berth::restart
