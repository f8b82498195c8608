#pragma once

// What bctr records on a container so that later verbs (logs, rm, inspect) and berthd's
// restart monitor find it again: label names and the log file of a detached container.
// The restart labels are containerd's (its restart monitor reads the same ones), so
// containers made by bctr and by `ctr run --label ...` are handled alike.

#include <string>
#include <string_view>

#include "fmt/format.h"

namespace berth::ctr {

// Where bctr keeps the output of detached containers unless --log-root says otherwise.
inline constexpr char kDefaultLogRoot[] = "/var/log/berth";

// A container's name (unique in its namespace); verbs accept it wherever an id goes.
inline constexpr char kNameLabel[] = "berth.io/name";
// The log URI the shim writes a detached container's stdout and stderr to.
inline constexpr char kLogUriLabel[] = "berth.io/log-uri";
// "true" on a container run with -d --rm: berthd removes it (task, container, snapshot, log
// file) once its task has exited (services/restart/policy.h reads the same name).
inline constexpr char kAutoRemoveLabel[] = "berth.io/auto-remove";
// On a container's init layer (the committed snapshot "<id>-init" below the container's own,
// made by bctr's create: container_create.cc): the container's id. bctr rm and berthd's
// auto-remove remove the layer with the container (services/restart/policy.h reads the same
// name).
inline constexpr char kInitLayerLabel[] = "berth.io/init-layer-of";
// The container's own hosts file (ctr/network.h, ContainerHostsFile), removed with it, by bctr
// rm and by berthd's auto-remove (services/restart/policy.h reads the same name).
inline constexpr char kHostsFileLabel[] = "berth.io/hosts-file";

inline std::string InitLayerName(const std::string& id) {
  return id + "-init";
}

// The signal that stops the container (containerd's label, which ctr sets from the image's
// STOPSIGNAL too) and the seconds `bctr stop` waits before SIGKILL (--stop-timeout).
inline constexpr char kStopSignalLabel[] = "io.containerd.image.config.stop-signal";
inline constexpr char kStopTimeoutLabel[] = "berth.io/stop-timeout";
// containerd's restart monitor labels.
inline constexpr char kRestartStatusLabel[] =
    "containerd.io/restart.status";  // "running"|"stopped"
inline constexpr char kRestartPolicyLabel[] =
    "containerd.io/restart.policy";  // always|on-failure:N
inline constexpr char kRestartLogUriLabel[] = "containerd.io/restart.loguri";
inline constexpr char kRestartCountLabel[] = "containerd.io/restart.count";

// <log_root>/<ns>/<id>.log
inline std::string LogPath(std::string_view log_root, std::string_view ns, std::string_view id) {
  return fmt::format("{}/{}/{}.log", log_root, ns, id);
}

// The URI passed as stdout and stderr to Tasks.Create: the shim appends each line in the CRI
// log format ("<RFC3339Nano> <stdout|stderr> <F|P> <text>").
inline std::string LogUri(std::string_view path) {
  return fmt::format("file://{}?format=cri", path);
}

}  // namespace berth::ctr
