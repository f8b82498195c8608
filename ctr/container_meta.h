#pragma once

// What bctr records on a container so that later verbs (logs, rm, inspect, stop) find it again.
// The labels that berthd reads too (restart, auto-remove, log file, init layer, hosts file) are
// the shared contract of lib/meta/labels.h; the ones here are bctr's alone.

#include "lib/meta/labels.h"

namespace berth::ctr {

using meta::InitLayerName;
using meta::kAutoRemoveLabel;
using meta::kHostsFileLabel;
using meta::kInitLayerLabel;
using meta::kLogUriLabel;
using meta::kRestartCountLabel;
using meta::kRestartLogUriLabel;
using meta::kRestartPolicyLabel;
using meta::kRestartStatusLabel;
using meta::LogPath;
using meta::LogUri;

// Where bctr keeps the output of detached containers unless --log-root says otherwise.
inline constexpr char kDefaultLogRoot[] = "/var/log/berth";

// A container's name (unique in its namespace); verbs accept it wherever an id goes.
inline constexpr char kNameLabel[] = "berth.io/name";

// The signal that stops the container (containerd's label, which ctr sets from the image's
// STOPSIGNAL too) and the seconds `bctr stop` waits before SIGKILL (--stop-timeout).
inline constexpr char kStopSignalLabel[] = "io.containerd.image.config.stop-signal";
inline constexpr char kStopTimeoutLabel[] = "berth.io/stop-timeout";

}  // namespace berth::ctr
