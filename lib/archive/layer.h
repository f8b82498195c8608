#pragma once

// Layers: applying an OCI/Docker layer (tar, tar+gzip, tar+zstd) onto a directory, and writing
// the layer that turns one tree into another.
//
// Safety policy of ApplyLayer (every rejection is an error that names the entry and the reason;
// the caller then discards the half-written target, e.g. removes the snapshot):
//   - Entry names are cleaned lexically: a leading "/" or "./" is dropped and "a/../b" becomes
//     "b". A name whose ".." climbs above the root is rejected ("escapes the root").
//   - Every parent directory is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
//     relative to an fd of the root. Symlinks inside the root that stay inside are followed;
//     an entry whose path goes through an absolute symlink, or through a relative one that
//     climbs out of the root, is rejected ("goes through a symlink that leads outside the
//     root"). containerd re-reads such links inside the root instead; a layer made by diffing
//     two trees never writes through a symlink, so refusing costs nothing real and leaves
//     no doubt about where a write lands.
//   - The last component is never followed: an existing entry there is removed first (a
//     directory only when the new entry is not a directory), then created with O_EXCL /
//     O_NOFOLLOW.
//   - Hardlink targets are cleaned and resolved the same way; a target that escapes, is
//     missing, or is a directory is rejected.
//   - Character and block devices are rejected unless ApplyOptions::allow_devices. Fifos are
//     allowed.
//   - Names longer than PATH_MAX (4096) bytes or deeper than kMaxPathDepth components are
//     rejected, as are symlink targets longer than PATH_MAX.
//   - A truncated or corrupt gzip, zstd or tar stream is an error (DataLoss or
//     InvalidArgument); so is data after the end of the compressed stream. (A tar that ends
//     exactly after its last entry's data, without padding and end blocks, is read, as Go's
//     archive/tar reads it.)
//   - Whiteouts: see Whiteouts below. Under kRemove a whiteout in a directory that does not
//     exist removes nothing and makes nothing. Entries inside aufs metadata directories
//     (`.wh..wh.plnk/…`) are skipped.
// Modes (setuid/setgid/sticky: chmod after chown), owners, PAX SCHILY.xattr.* extended
// attributes (except trusted.overlay.*, which are skipped: a layer must not steer an overlay
// mount; whiteouts come only from .wh. entries), hardlinks, symlinks, fifos and timestamps are
// kept; directory times are set after all their contents. Owners are set only when running as root
// (otherwise EPERM from chown is ignored, as rootless containerd does).
//
// Thread-safety: the functions are reentrant; two applies onto the same root at once are not
// supported.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::archive {

// A pull source of bytes: returns bytes read (0 = end) or an error.
using ReadFn = absl::FunctionRef<absl::StatusOr<size_t>(char* buf, size_t len)>;
// A sink of bytes.
using WriteFn = absl::FunctionRef<absl::Status(std::string_view bytes)>;

// Deepest entry name ApplyLayer accepts, in path components.
inline constexpr int kMaxPathDepth = 1024;

// overlayfs's own xattrs (opaque, redirect, metacopy …) describe a layer, not its files: never
// written into a tar, never applied from one.
inline constexpr std::string_view kOverlayXattrPrefix = "trusted.overlay.";

// kOverlay: write overlayfs whiteouts into an upperdir (`.wh.name` → 0/0 character device
// `name`, `.wh..wh..opq` → xattr trusted.overlay.opaque="y" on the directory; both need root).
// kRemove: delete the whited-out paths (native snapshots, merged trees); an opaque directory
// loses everything this layer did not write into it.
enum class Whiteouts { kOverlay, kRemove };

struct ApplyOptions {
  Whiteouts whiteouts = Whiteouts::kRemove;
  bool allow_devices = false;
};

struct ApplyResult {
  std::string compressed_digest;    // "sha256:<hex>" of the bytes read from `in`
  std::string uncompressed_digest;  // "sha256:<hex>" of the tar stream (the layer's diff id)
  int64_t compressed_size = 0, uncompressed_size = 0;
};

// Reads a layer (tar, tar+gzip or tar+zstd, detected by magic bytes) from `in` and applies it
// onto the directory `root`, which must exist. Reads `in` to its end (so the digests cover
// every byte). `in` is called (one call at a time) from a helper thread that decompresses
// ahead of the filesystem writes; ApplyLayer joins it before returning. Errors: InvalidArgument (an
// entry the policy above rejects, a malformed tar), DataLoss (truncated or corrupt compressed
// data), NotFound (root missing), the errno class of a failed filesystem call, or whatever `in`
// returned. On error the tree may be half-written (never outside `root`).
absl::StatusOr<ApplyResult> ApplyLayer(const std::filesystem::path& root, ReadFn in,
                                       const ApplyOptions& opts);

enum class Compression { kNone, kGzip, kZstd };

struct DiffResult {
  std::string compressed_digest, uncompressed_digest;
  int64_t compressed_size = 0, uncompressed_size = 0;
};

// Writes to `out` the layer that turns tree `lower` into tree `upper` (both plain directories,
// e.g. mounted snapshots): added/changed entries, `.wh.<name>` for removed ones; parents of
// changed entries included, hardlinks within the layer as tar hardlinks. Entries are written
// in sorted order with PAX headers where needed (long names, xattrs, sub-second times), so the
// same trees give the same bytes. A regular file counts as changed when its type, mode, owner,
// size, mtime, xattrs differ, or (when the mtime has no sub-second part) its bytes differ.
// gzip uses ISA-L's igzip at level 3 (on a tree of /usr: 8% larger than gzip -6, 12x faster),
// zstd level 3. trusted.overlay.* xattrs are never written, nor
// are sockets (tar cannot hold them). A regular file that is linked elsewhere in `upper` but
// was not itself changed is not written, so a changed link to it is written as a whole file.
// `out` is called from a helper thread (one call at a time) that compresses and hashes while
// the trees are read; WriteDiff joins it before returning.
// Errors: NotFound (a tree missing), the errno class of a failed read, or what `out` returned.
absl::StatusOr<DiffResult> WriteDiff(const std::filesystem::path& lower,
                                     const std::filesystem::path& upper, Compression c,
                                     WriteFn out);

// Fast path for overlay: the layer from an overlay upperdir alone (0/0 char devices →
// `.wh.<name>`, trusted.overlay.opaque=y → `<dir>/.wh..wh..opq`). Every entry of the upperdir is
// written (overlay copies up parents of changed entries, so they are all part of the change).
absl::StatusOr<DiffResult> WriteOverlayUpperDiff(const std::filesystem::path& upperdir,
                                                 Compression c, WriteFn out);

}  // namespace berth::archive
