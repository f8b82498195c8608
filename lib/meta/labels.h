#pragma once

// What berth's clients record on containers and snapshots for later verbs and for berthd: label
// names and the files they name. One contract, read by bctr (ctr/) and by berthd's restart
// monitor (services/restart/). The restart labels are containerd's own (its restart monitor
// reads the same names), so containers made by bctr and by `ctr run --label ...` are handled
// alike.
//
// A file a label names is the container's own, and removed with it, only when its path has the
// shape its maker gives it (<log root>/<ns>/<id>.log, <state dir>/hosts.d/<ns>-<id>,
// <state dir>/resolv.d/<ns>-<id>): a label
// naming any other file is ignored, so that no label makes a remover delete a file that is not
// the container's.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

#include "lib/base/labels.h"

namespace berth::meta {

// containerd's restart monitor.
inline constexpr char kRestartStatusLabel[] = "containerd.io/restart.status";  // running|stopped
inline constexpr char kRestartPolicyLabel[] =
    "containerd.io/restart.policy";  // always|on-failure:N|no
inline constexpr char kRestartLogUriLabel[] = "containerd.io/restart.loguri";
inline constexpr char kRestartLogPathLabel[] = "containerd.io/restart.logpath";  // its older one
inline constexpr char kRestartCountLabel[] = "containerd.io/restart.count";

// "true" on a container run with `bctr run -d --rm`: berthd removes it (task, container,
// snapshot, its own files) once its task has exited.
inline constexpr char kAutoRemoveLabel[] = "berth.io/auto-remove";
// The log URI the shim writes a detached container's stdout and stderr to (LogUri(LogPath())).
inline constexpr char kLogUriLabel[] = "berth.io/log-uri";
// On a container's init layer, the committed snapshot InitLayerName(id) below the container's
// own that holds the targets of its mounts: the container's id.
inline constexpr char kInitLayerLabel[] = "berth.io/init-layer-of";
// The container's own /etc/hosts (<state dir>/hosts.d/<ns>-<id>): on a CNI network, or with
// --add-host.
inline constexpr char kHostsFileLabel[] = "berth.io/hosts-file";
// The container's own /etc/resolv.conf (<state dir>/resolv.d/<ns>-<id>), with --dns and the like.
inline constexpr char kResolvFileLabel[] = "berth.io/resolv-file";

// The container's anonymous volumes (bctr's `-v /path`, an image's VOLUME): their directories
// <volume root>/<ns>/<64 hex>, one per line. They go with the container only where Docker's do:
// `run --rm` (bctr, or berthd's auto-remove of `-d --rm`) and `rm -v`.
inline constexpr char kAnonymousVolumesLabel[] = "berth.io/anonymous-volumes";

// <log_root>/<ns>/<id>.log
std::string LogPath(std::string_view log_root, std::string_view ns, std::string_view id);
// The URI passed as stdout and stderr to Tasks.Create: the shim appends each line in the CRI
// log format ("<RFC3339Nano> <stdout|stderr> <F|P> <text>").
std::string LogUri(std::string_view path);
// The local path of a file:// URI, read as the shim reads it (lib/base/stdio_uri.h):
// "file:///p?format=cri" → "/p"; empty for anything else.
std::string FileUriPath(std::string_view uri);

// "<id>-init"
std::string InitLayerName(std::string_view id);
// Whether a snapshot with these labels is the init layer of container `id`.
bool IsInitLayerOf(const Labels& snapshot_labels, std::string_view id);

// <state_dir>/hosts.d/<ns>-<id>
std::filesystem::path HostsFilePath(std::string_view state_dir, std::string_view ns,
                                    std::string_view id);
// <state_dir>/resolv.d/<ns>-<id>
std::filesystem::path ResolvFilePath(std::string_view state_dir, std::string_view ns,
                                     std::string_view id);

// The files the container's labels name that are its own (see above): its log file, its hosts
// file and its resolv.conf.
std::vector<std::filesystem::path> OwnedFiles(const Labels& container_labels, std::string_view ns,
                                              std::string_view id);
// Removes them (regular files only; a missing one is no error).
void RemoveOwnedFiles(const Labels& container_labels, std::string_view ns, std::string_view id);

// The file in every volume's directory that holds its record (ctr/volumes.h).
inline constexpr char kVolumeRecordFile[] = "volume.json";

// Removes a volume's directory `dir`: renamed out of its name first (to a new
// ".rm-<name>-XXXXXX" beside it), so that a removal cut short leaves no half volume under the
// name, then deleted with all it holds. NotFound when it is not there; errors name the volume.
absl::Status RemoveVolumeDirectory(const std::filesystem::path& dir);

// Removes the anonymous volumes kAnonymousVolumesLabel names: each a directory whose name is
// 64 hex characters, in a directory named `ns`, holding kVolumeRecordFile; any other
// path is left alone. The first error names the volume; a missing one is no error.
absl::Status RemoveAnonymousVolumes(const Labels& container_labels, std::string_view ns);

}  // namespace berth::meta
