// berth-unpack-bench: applies one layer file with archive::ApplyLayer and prints the time;
// or, with --diff, writes the layer between two trees with archive::WriteDiff.
//
//   berth-unpack-bench LAYER TARGET_DIR [--remove] [--devices]
//   berth-unpack-bench --diff LOWER UPPER OUT [gzip|zstd|none]
//
// LAYER is read with plain read(2) calls of 1 MiB; TARGET_DIR must exist (use a fresh one per
// run). Whiteouts are written as overlay whiteouts unless --remove. Prints one line:
//   seconds=<s> compressed=<digest> diff_id=<digest> bytes=<compressed>/<uncompressed>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <string_view>
#include <system_error>

#include "fmt/format.h"

#include "lib/archive/layer.h"
#include "lib/base/status.h"
#include "lib/base/unique_fd.h"

namespace {

int Diff(const char* lower, const char* upper, const char* out_path, std::string_view comp) {
  using berth::archive::Compression;
  Compression c = comp == "zstd"   ? Compression::kZstd
                  : comp == "none" ? Compression::kNone
                                   : Compression::kGzip;
  berth::UniqueFd out(::open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!out.valid()) {
    fmt::print(stderr, "open {:?}: {}\n", out_path,
               std::error_code(errno, std::generic_category()).message());
    return 1;
  }
  auto write_fn = [&](std::string_view b) -> absl::Status {
    while (!b.empty()) {
      ssize_t n = ::write(out.get(), b.data(), b.size());
      if (n < 0 && errno != EINTR)
        return berth::ErrnoError(errno, fmt::format("write {:?}", out_path));
      if (n > 0)
        b.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  };
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<berth::archive::DiffResult> r =
      berth::archive::WriteDiff(lower, upper, c, write_fn);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  if (!r.ok()) {
    fmt::print(stderr, "diff: {}\n", r.status().ToString());
    return 1;
  }
  fmt::print("seconds={:.3f} compressed={} diff_id={} bytes={}/{}\n", took.count(),
             r->compressed_digest, r->uncompressed_digest, r->compressed_size,
             r->uncompressed_size);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using berth::archive::ApplyOptions;
  if (argc >= 5 && std::string_view(argv[1]) == "--diff")
    return Diff(argv[2], argv[3], argv[4], argc >= 6 ? argv[5] : "gzip");
  if (argc < 3) {
    fmt::print(stderr,
               "usage: {0} LAYER TARGET_DIR [--remove] [--devices]\n"
               "       {0} --diff LOWER UPPER OUT [gzip|zstd|none]\n",
               argv[0]);
    return 2;
  }
  ApplyOptions opts{.whiteouts = berth::archive::Whiteouts::kOverlay};
  for (int i = 3; i < argc; ++i) {
    std::string_view a(argv[i]);
    if (a == "--remove")
      opts.whiteouts = berth::archive::Whiteouts::kRemove;
    else if (a == "--devices")
      opts.allow_devices = true;
  }
  berth::UniqueFd fd(::open(argv[1], O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    fmt::print(stderr, "open layer {:?}: {}\n", argv[1],
               std::error_code(errno, std::generic_category()).message());
    return 1;
  }
  auto read_fn = [&](char* buf, size_t len) -> absl::StatusOr<size_t> {
    for (;;) {
      ssize_t n = ::read(fd.get(), buf, len);
      if (n >= 0)
        return static_cast<size_t>(n);
      if (errno != EINTR)
        return berth::ErrnoError(errno, fmt::format("read layer {:?}", argv[1]));
    }
  };
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<berth::archive::ApplyResult> r =
      berth::archive::ApplyLayer(argv[2], read_fn, opts);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  if (!r.ok()) {
    fmt::print(stderr, "apply {:?}: {}\n", argv[1], r.status().ToString());
    return 1;
  }
  fmt::print("seconds={:.3f} compressed={} diff_id={} bytes={}/{}\n", took.count(),
             r->compressed_digest, r->uncompressed_digest, r->compressed_size,
             r->uncompressed_size);
  return 0;
}
