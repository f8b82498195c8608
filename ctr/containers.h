#pragma once

// Containers as bctr's container verbs see them: found by full id, unique id prefix or name
// (the kNameLabel label, unique per namespace), with the state of their task, and removed
// whole (task, container record, snapshot, log file). Ids are 64 hex characters as Docker's;
// names default to a readable "adjective_name" pair.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "ctr/connection.h"

namespace berth::ctr {

using ContainerRecord = containers_api::Container;

// The spec's type URL in Container.spec.
inline constexpr char kSpecTypeUrl[] = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
// An exec's process spec in ExecProcessRequest.spec.
inline constexpr char kProcessTypeUrl[] =
    "types.containerd.io/opencontainers/runtime-spec/1/Process";
// The runtime every bctr container asks for (berthd maps it to berth-shim).
inline constexpr char kRuntimeName[] = "io.containerd.runc.v2";

// The exit of a container's last task, recorded by bctr when it deletes the task after an
// attached run (so `ps -a` shows "Exited (N)" without keeping a shim per exited container).
inline constexpr char kExitStatusLabel[] = "berth.io/exit-status";
inline constexpr char kFinishedAtLabel[] = "berth.io/finished-at";  // unix seconds

// A fresh container id: 64 random lower-case hex characters.
std::string NewContainerId();

// A fresh docker-like name ("eager_turing"); not checked for uniqueness.
std::string NewContainerName();

// The container's name: its kNameLabel, else its id.
std::string ContainerName(const ContainerRecord& c);

// Checks that `name` is a valid container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128).
absl::Status ValidateContainerName(const std::string& name);

// Every container in the namespace.
absl::StatusOr<std::vector<ContainerRecord>> ListContainers(Connection& conn);

// The container `ref` names: an exact id, else an exact name, else a unique id prefix.
// NotFound `container "x": not found`; InvalidArgument when a prefix is ambiguous.
absl::StatusOr<ContainerRecord> FindContainer(Connection& conn, const std::string& ref);

// AlreadyExists naming the holder when another container is called `name`.
absl::Status CheckNameFree(Connection& conn, const std::string& name);

// A task's state as bctr reports it.
struct TaskInfo {
  bool exists = false;  // false: created, never started (or the task was deleted)
  std::string status;   // "created", "running", "paused", "pausing", "stopped", "unknown"
  uint32_t pid = 0;
  uint32_t exit_status = 0;
  int64_t exited_at = 0;  // unix seconds, 0 when not exited
};

TaskInfo TaskInfoFromProcess(const ::containerd::v1::types::Process& p);

absl::StatusOr<TaskInfo> GetTaskInfo(Connection& conn, const std::string& id);

// Docker's status word: created, running, paused, exited.
std::string StatusWord(const TaskInfo& t);

// Deletes the task if there is one (it must not be running). Returns its exit status.
absl::StatusOr<uint32_t> DeleteTask(Connection& conn, const std::string& id);

// Sends `signal` to the task's init (all processes when `all`).
absl::Status KillTask(Connection& conn, const std::string& id, int signal, bool all = false);

// Waits for the task's init to exit, up to `timeout_ms` (< 0: no limit). Returns the exit
// status, or DeadlineExceeded.
absl::StatusOr<uint32_t> WaitTask(Connection& conn, const std::string& id, int64_t timeout_ms);

// Stops the container's task as `bctr stop` does: its stop signal (the kStopSignalLabel, else
// SIGTERM; SIGKILL to a paused task), then SIGKILL to every process after `timeout` seconds (the
// container's kStopTimeoutLabel, else 10, when not given). A container with a restart policy is
// marked stopped first, so that berthd's restart monitor leaves it down. No task, or a stopped
// one: nothing to do.
absl::Status StopContainer(Connection& conn, const ContainerRecord& c, std::optional<int> timeout);

// Removes what a container owns after its task is gone: the record (berthd removes the files
// its labels name as its own with it: its log, hosts and resolv.conf files, lib/meta/labels.h),
// its snapshot (when bctr made it: key == id) and its init layer.
absl::Status RemoveContainer(Connection& conn, const ContainerRecord& c);

// Deletes the container's task when `task` says it has one (stopped; one deleted meanwhile is
// fine), then RemoveContainer.
absl::Status RemoveExitedContainer(Connection& conn, const ContainerRecord& c,
                                   const TaskInfo& task);

// Sets (or, with an empty value, removes) one label on a container.
absl::Status SetContainerLabel(Connection& conn, const std::string& id, const std::string& key,
                               const std::string& value);
// The same for several labels in one update.
absl::Status SetContainerLabels(Connection& conn, const std::string& id,
                                const std::map<std::string, std::string>& labels);

// The container's state: its task's when it has one, else the exit recorded in its labels
// (kExitStatusLabel), else "created".
TaskInfo ContainerState(const ContainerRecord& c, const TaskInfo& task);

// The mounts of the container's snapshot, for Tasks.Create.
absl::StatusOr<std::vector<::containerd::types::Mount>> ContainerRootfsMounts(
    Connection& conn, const ContainerRecord& c);

// A signal by name or number: "TERM", "SIGTERM", "sigterm", "15" → 15; InvalidArgument else.
absl::StatusOr<int> ParseSignal(const std::string& s);

}  // namespace berth::ctr
