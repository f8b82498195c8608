#pragma once

// The overlayfs snapshotter's driver (see snapshotter.h NewOverlay): fs/ is the upper dir of an
// active snapshot (work/ beside it), the parents' fs/ dirs are its lower dirs. Mounts are what
// containerd's overlayfs snapshotter returns:
//   no parent:            bind of fs/, ["rw", "rbind"] (a view: ["ro", "rbind"])
//   view of one parent:   bind of the parent's fs/, ["ro", "rbind"]
//   otherwise:            overlay, ["index=off" (when the kernel has the option),
//                         active only: "workdir=<work>", "upperdir=<fs>",
//                         "lowerdir=<newest parent>:…:<oldest>"]

#include <filesystem>

#include "absl/status/status.h"

namespace berth::snapshot {

// Mounts a small overlay in a temporary directory under `root` and removes it again: OK when
// overlayfs works there, else Unimplemented ("skip plugin: …") naming the cause.
absl::Status ProbeOverlay(const std::filesystem::path& root);

}  // namespace berth::snapshot
