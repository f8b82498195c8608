#pragma once

// Making and starting containers for `run`, `create` and `start`, as containerd's client does:
//   image: looked up by its normalized name, pulled (with progress on stderr) when missing,
//     its platform manifest and config read, and unpacked when its top snapshot is missing;
//   container: a new id, a unique name, the spec (ctr/spec.h), a snapshot "<id>" prepared on
//     the image's top chain id, and the record with labels (name, log URI, restart policy),
//     all under a temporary lease; anything made is removed again when a later step fails;
//   task: rootfs mounts from the snapshot, stdio either through fifos (attached) or to the
//     container's log file (detached), then Start.

#include <string>

#include "absl/status/statusor.h"

#include "ctr/cli.h"
#include "ctr/containers.h"
#include "ctr/spec.h"

namespace berth::ctr {

// The image a container is made from.
struct ResolvedImage {
  std::string name;      // the image record's name
  std::string chain_id;  // top snapshot ("" for an image without layers)
  ImageConfig config;
};

// Finds (or pulls, as `pull` says: "missing", "always" or "never") and unpacks `ref` into
// `snapshotter`. Errors name the image.
absl::StatusOr<ResolvedImage> EnsureImage(Cli& cli, const std::string& ref,
                                          const std::string& snapshotter,
                                          const std::string& pull = "missing");

// Creates the container record and its snapshot from `flags`. Nothing is left behind on error.
absl::StatusOr<ContainerRecord> CreateContainer(Cli& cli, const RunFlags& flags);

struct TaskOptions {
  bool attach = true;        // stdio through fifos and wait for the exit
  bool interactive = false;  // forward stdin (attached only)
  bool tty = false;          // the spec's process.terminal
  bool remove = false;       // --rm: delete the container after the exit (attached: here;
                             // detached: berthd, by the auto-remove label)
};

// Creates and starts the container's task (a stopped task left from an earlier run is deleted
// first). Attached: copies stdio until the process exits, deletes the task and returns the
// exit status. Detached: output goes to the log file and 0 is returned once it runs.
absl::StatusOr<int> StartTask(Cli& cli, const ContainerRecord& c, const TaskOptions& opts);

// The container's OCI spec JSON, parsed; InvalidArgument when it is not JSON.
absl::StatusOr<oci::Spec> ContainerSpec(const ContainerRecord& c);

}  // namespace berth::ctr
